"""Session settings: ``session.toml``, every key optional; defaults live only here.

Unknown keys and wrong types are errors that name the file, the key and the closest match.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field, fields, is_dataclass, replace
from difflib import get_close_matches
from pathlib import Path
from typing import Any, get_type_hints

from calibration.config import CalibrationConfig
from calibration.errors import CalibrationError
from mocap.detection.config import DetectionConfig
from mocap.detection.session_videos import VideoConfig
from mocap.errors import ConfigError, MocapError
from mocap.export_config import ExportConfig
from mocap.filtering import FilterConfig
from mocap.keypoints_io import MAX_FPS
from mocap.lifting.config import LiftingConfig
from mocap.skeleton_adjustment import SkeletonConfig
from mocap.triangulation import TriangulationConfig
from rigs.errors import RigError
from rigs.skeleton import get_skeleton

SYNC_MODES = ("off", "auto", "check")


@dataclass(frozen=True)
class SyncConfig:
    """``[sync]``: the cameras' time offsets found from the 2D (:mod:`mocap.sync_estimation`).

    ``mode``: "off" estimates nothing; "check" reports each camera's offset and warns about
    cameras off the others; "auto" also shifts their 2D by it. ``max_shift_frames``: the
    largest offset sought.
    """

    mode: str = "off"
    max_shift_frames: float = 10.0

    def __post_init__(self) -> None:
        if self.mode not in SYNC_MODES:
            near = get_close_matches(self.mode, SYNC_MODES, n=1)
            tip = f"did you mean '{near[0]}'?" if near else f"use one of {', '.join(SYNC_MODES)}"
            raise ConfigError(f"'mode' must be one of {', '.join(SYNC_MODES)}, got "
                              f"'{self.mode}'; {tip}")
        if not 1.0 <= self.max_shift_frames <= 1000.0:
            raise ConfigError(f"'max_shift_frames' must be in [1, 1000] frames, got "
                              f"{self.max_shift_frames:g}")


@dataclass(frozen=True)
class SessionConfig:
    fps: float | None = None            # the take's frame rate; None: the keypoint files'
    keypoint_set: str | None = None     # imported 2D's set where its files cannot tell
    triangulation: TriangulationConfig = field(default_factory=TriangulationConfig)
    calibration: CalibrationConfig = field(default_factory=CalibrationConfig)
    detection: DetectionConfig = field(default_factory=DetectionConfig)
    videos: VideoConfig = field(default_factory=VideoConfig)
    filter: FilterConfig = field(default_factory=FilterConfig)
    skeleton: SkeletonConfig = field(default_factory=SkeletonConfig)
    export: ExportConfig = field(default_factory=ExportConfig)
    sync: SyncConfig = field(default_factory=SyncConfig)
    lifting: LiftingConfig = field(default_factory=LiftingConfig)

    def __post_init__(self) -> None:
        if self.fps is not None and not 0 < self.fps <= MAX_FPS:
            raise ConfigError(f"'fps' must be in (0, {MAX_FPS:g}] frames per second, got "
                              f"{self.fps}")
        if self.fps is not None:
            self.filter.check_rate(self.fps)
        if self.keypoint_set is not None:
            try:
                get_skeleton(self.keypoint_set)
            except RigError as e:
                raise ConfigError(f"'keypoint_set': {e}") from e

    @classmethod
    def load(cls, path: Path) -> SessionConfig:
        """Read ``path``; a missing file gives the defaults."""
        if not path.exists():
            return cls()
        try:
            table = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
            raise ConfigError(f"{path}: {e}") from e
        return _from_table(cls, table, where=str(path))

    def with_overrides(self, **triangulation: Any) -> SessionConfig:
        """A copy with the given triangulation settings replaced (None values are ignored)."""
        given = {k: v for k, v in triangulation.items() if v is not None}
        try:
            return replace(self, triangulation=replace(self.triangulation, **given))
        except MocapError as e:
            flags = ", ".join(f"--{k.replace('_', '-')} {v}" for k, v in given.items())
            raise ConfigError(f"{flags}: {e}") from e


def _from_table(cls: type, table: dict[str, Any], where: str) -> Any:
    hints, names = get_type_hints(cls), [f.name for f in fields(cls)]
    kwargs = {}
    for key, value in table.items():
        if key not in hints:
            near = get_close_matches(key, names, n=1)
            tip = f"; did you mean '{near[0]}'?" if near else f"; known keys: {', '.join(names)}"
            raise ConfigError(f"{where}: unknown key '{key}'{tip}")
        typ = _table_type(hints[key])
        if is_dataclass(typ):
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: '{key}' must be a table")
            value = _from_table(typ, value, where=f"{where} [{key}]")
        else:
            value = _checked(value, typ, key, where)
        kwargs[key] = value
    try:
        return cls(**kwargs)
    except (MocapError, CalibrationError) as e:          # a value out of its range
        raise ConfigError(f"{where}: {e}") from e


def _table_type(hint: Any) -> Any:
    """A dataclass type, also inside ``X | None``; other hints as they are."""
    tables = [t for t in getattr(hint, "__args__", ()) if is_dataclass(t)]
    return tables[0] if tables else hint


def _checked(value: Any, typ: Any, key: str, where: str) -> Any:
    if getattr(typ, "__origin__", None) is tuple:           # tuple[float, ...] or tuple[int, int]
        return _checked_tuple(value, typ, key, where)
    allowed = getattr(typ, "__args__", (typ,))
    for t in allowed:
        if t is type(None):
            continue
        if type(value) is t or (t is float and type(value) is int):
            if t is float and not math.isfinite(value):
                raise ConfigError(f"{where}: '{key}' must be a finite number, got {value!r}")
            return float(value) if t is float else value
    names = " or ".join(t.__name__ for t in allowed if t is not type(None))
    raise ConfigError(f"{where}: '{key}' must be {names}, got {value!r}")


def _checked_tuple(value: Any, typ: Any, key: str, where: str) -> tuple[Any, ...]:
    items = typ.__args__
    if not isinstance(value, list) or (Ellipsis not in items and len(value) != len(items)):
        size = "a list" if Ellipsis in items else f"a list of {len(items)}"
        raise ConfigError(f"{where}: '{key}' must be {size}, got {value!r}")
    kinds = [items[0]] * len(value) if Ellipsis in items else list(items)
    return tuple(_checked(v, t, f"{key}[{i}]", where) for i, (v, t) in enumerate(zip(value, kinds)))
