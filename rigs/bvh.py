"""BVH motion files: the joint hierarchy, the channel values, and forward kinematics.

Conventions:

- A joint's local transform maps its own frame into its parent's: ``x_parent = R x + t``.
  ``t`` is the joint's OFFSET; position channels, where a joint has them, replace the matching
  components of the offset (they hold the joint's whole local translation, as in files that
  give every joint six channels). Readers differ here (some add them to the offset); the two
  agree wherever such a joint's OFFSET is zero, as for the root of CMU's and most files.
- ``R`` is the product of the joint's rotation channels in the order they are listed
  (``Zrotation Yrotation Xrotation`` is ``Rz @ Ry @ Rx``), right-handed, in degrees; a joint may
  list any subset and order of the three axes.
- An ``End Site`` becomes a point of its own with no channels, named ``<parent>_end``: it
  carries the tips the joints lack (head, toes, fingers, thumbs).
- The file's world frame is kept (Y up in nearly every BVH file); ``Y_UP_TO_Z_UP`` turns it
  into this project's Z-up frame.

Units: the file's own, times ``scale``. The CMU release (``../shared/data/cmu_mocap``) keeps
the units of CMU's ASF/AMC skeletons, ``length 0.45`` in the ASF header: one unit is
1/0.45 inch, so ``CMU_METRES_PER_UNIT`` = 0.0254 / 0.45 = 0.05644 m. With it the clips' legs
(hip joint to ankle) measure 0.80-0.83 m, 0.49 of stature (Winter's anthropometry) for people
1.63-1.69 m tall, and their head end site stands 1.39-1.48 m over the lowest foot point in
the first half second (standing), about nose height (tests/rigs/test_bvh.py); a unit taken as
one inch would make them 0.75 m tall.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from rigs.errors import RigError

FloatArray = NDArray[np.float64]

CMU_METRES_PER_UNIT = 0.0254 / 0.45
# BVH's Y-up world (x, y, z) to the project's Z-up world (x, -z, y): +90 degrees about x.
Y_UP_TO_Z_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])

CHANNEL_NAMES = ("Xposition", "Yposition", "Zposition", "Xrotation", "Yrotation", "Zrotation")


@dataclass(frozen=True, eq=False)
class BvhSkeleton:
    """A BVH hierarchy: joints and end sites, parents listed before their children.

    Attributes:
        names: J point names in file order; end sites are ``<parent>_end``.
        parents: (J,) parent index, -1 for a root.
        offsets: (J, 3) offset from the parent in the parent's frame, file units x scale.
        channels: per point, its channel names in file order (empty for end sites).
        end_site: (J,) True for end sites.
    """

    names: tuple[str, ...]
    parents: tuple[int, ...]
    offsets: FloatArray
    channels: tuple[tuple[str, ...], ...]
    end_site: tuple[bool, ...]

    def __len__(self) -> int:
        return len(self.names)

    @property
    def n_channels(self) -> int:
        return sum(len(c) for c in self.channels)

    def index(self, name: str) -> int:
        """Index of the joint or end site ``name``; RigError naming the known joints if absent."""
        if name not in self.names:
            raise RigError(f"BVH skeleton has no joint '{name}'; it has {', '.join(self.names)}")
        return self.names.index(name)


@dataclass(frozen=True, eq=False)
class BvhMotion:
    """A BVH file's content.

    Attributes:
        skeleton: the hierarchy.
        values: (F, C) channel values in file order: positions in file units x scale,
            rotations in degrees.
        frame_time: seconds between frames.
        source: where it was read from (for messages).
    """

    skeleton: BvhSkeleton
    values: FloatArray
    frame_time: float
    source: str = "<string>"

    @property
    def n_frames(self) -> int:
        return self.values.shape[0]

    @property
    def fps(self) -> float:
        return 1.0 / self.frame_time

    def local_transforms(self) -> tuple[FloatArray, FloatArray]:
        """Each point's transform into its parent's frame, frame by frame.

        Returns:
            rotations (F, J, 3, 3) and translations (F, J, 3) (file units x scale).
        """
        skel, f = self.skeleton, self.n_frames
        rot = np.broadcast_to(np.eye(3), (f, len(skel), 3, 3)).copy()
        trans = np.broadcast_to(skel.offsets, (f, len(skel), 3)).copy()
        column = 0
        for j, channels in enumerate(skel.channels):
            for name in channels:
                axis = "XYZ".index(name[0])
                value = self.values[:, column]                                 # (F,)
                if name.endswith("position"):
                    trans[:, j, axis] = value
                else:
                    rot[:, j] = rot[:, j] @ axis_rotation(axis, np.radians(value))
                column += 1
        return rot, trans

    def world_positions(self) -> FloatArray:
        """(F, J, 3) every joint and end site in the file's world frame (file units x scale)."""
        return forward_kinematics(self.skeleton.parents, *self.local_transforms())[1]


def axis_rotation(axis: int, angle: FloatArray) -> FloatArray:
    """(...,) angles in radians about coordinate ``axis`` (0 x, 1 y, 2 z) to (..., 3, 3)."""
    angle = np.asarray(angle, dtype=float)
    c, s = np.cos(angle), np.sin(angle)
    out = np.zeros((*angle.shape, 3, 3))
    i, k = (axis + 1) % 3, (axis + 2) % 3
    out[..., axis, axis] = 1.0
    out[..., i, i], out[..., k, k] = c, c
    out[..., i, k], out[..., k, i] = -s, s
    return out


def forward_kinematics(parents: tuple[int, ...] | list[int], rotations: FloatArray,
                       translations: FloatArray) -> tuple[FloatArray, FloatArray]:
    """World transforms from local ones, vectorised over frames (parents before children).

    Args:
        parents: (J,) parent index per point, -1 for roots; every parent precedes its child.
        rotations: (F, J, 3, 3) local rotations.
        translations: (F, J, 3) local translations.
    Returns:
        world rotations (F, J, 3, 3) and world positions (F, J, 3).
    """
    world_rot = np.empty_like(rotations)
    world_pos = np.empty_like(translations)
    for j, p in enumerate(parents):
        if p < 0:
            world_rot[:, j], world_pos[:, j] = rotations[:, j], translations[:, j]
        else:
            world_rot[:, j] = world_rot[:, p] @ rotations[:, j]
            step = world_rot[:, p] @ translations[:, j, :, None]             # (F, 3, 1)
            world_pos[:, j] = world_pos[:, p] + step[..., 0]
    return world_rot, world_pos


def read_bvh(path: str | Path, *, scale: float = 1.0) -> BvhMotion:
    """Read a BVH file; offsets and position channels are multiplied by ``scale``.

    Raises:
        RigError: the file cannot be read or is malformed (the message names file and line).
    """
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        raise RigError(f"cannot read BVH file {path}: {e.strerror or e}") from e
    return parse_bvh(text, source=str(path), scale=scale)


def parse_bvh(text: str, *, source: str = "<string>", scale: float = 1.0) -> BvhMotion:
    """Parse BVH ``text`` (see ``read_bvh``); ``source`` names it in error messages."""
    if not (np.isfinite(scale) and scale > 0):
        raise RigError(f"BVH scale must be a positive number, got {scale}")
    lines = text.splitlines()
    motion_line = next((i for i, line in enumerate(lines) if line.strip().upper() == "MOTION"),
                       None)
    if motion_line is None:
        raise RigError(f"{source}: no MOTION line; a BVH file is a HIERARCHY section, then "
                       "MOTION, 'Frames:', 'Frame Time:' and one line of values per frame")
    tokens = _Tokens(lines[:motion_line], source)
    tokens.expect("HIERARCHY")
    skeleton = _read_hierarchy(tokens, scale)
    values, frame_time = _read_motion(lines, motion_line, source, skeleton.n_channels)
    is_position = np.array([c.endswith("position") for chans in skeleton.channels for c in chans],
                           dtype=bool)
    values[:, is_position] *= scale
    return BvhMotion(skeleton, values, frame_time, source)


class _Tokens:
    """Whitespace-separated words of the HIERARCHY section with their line numbers."""

    def __init__(self, lines: list[str], source: str):
        self.source = source
        self.words = [(w, n) for n, line in enumerate(lines, 1) for w in line.split()]
        self.pos = 0

    def error(self, message: str) -> RigError:
        if self.pos < len(self.words):
            return RigError(f"{self.source}, line {self.words[self.pos][1]}: {message}")
        return RigError(f"{self.source}: {message} but the HIERARCHY section ends before MOTION")

    def peek(self) -> str | None:
        return self.words[self.pos][0] if self.pos < len(self.words) else None

    def next(self, what: str) -> str:
        word = self.peek()
        if word is None:
            raise self.error(f"expected {what}")
        self.pos += 1
        return word

    def expect(self, word: str) -> None:
        found = self.peek()
        if found is None or found.upper() != word.upper():
            raise self.error(f"expected '{word}', found '{found}'")
        self.pos += 1

    def numbers(self, count: int, what: str) -> list[float]:
        out = []
        for _ in range(count):
            word = self.peek() or ""
            try:
                out.append(float(word))
            except ValueError:
                raise self.error(f"{what} needs {count} numbers, found '{word}'") from None
            self.pos += 1
        return out


def _read_hierarchy(tokens: _Tokens, scale: float) -> BvhSkeleton:
    names: list[str] = []
    parents: list[int] = []
    offsets: list[list[float]] = []
    channels: list[tuple[str, ...]] = []
    ends: list[bool] = []

    def joint(parent: int, end_site: bool) -> None:
        name = f"{names[parent]}_end" if end_site else (tokens.peek() or "")
        if name in names:
            raise tokens.error(f"joint name '{name}' is used twice")
        if not end_site:
            tokens.next("a joint name")
        index = len(names)
        names.append(name)
        parents.append(parent)
        tokens.expect("{")
        tokens.expect("OFFSET")
        offsets.append(tokens.numbers(3, "OFFSET"))
        channels.append(() if end_site else _read_channels(tokens))
        ends.append(end_site)
        while tokens.peek() != "}":
            word = tokens.next("'JOINT', 'End Site' or '}'")
            if word.upper() == "JOINT" and not end_site:
                joint(index, False)
            elif word.upper() == "END" and not end_site:
                tokens.expect("Site")
                joint(index, True)
            else:
                tokens.pos -= 1
                raise tokens.error(f"expected 'JOINT', 'End Site' or '}}' in '{name}', "
                                   f"found '{word}'")
        tokens.pos += 1

    while (tokens.peek() or "").upper() == "ROOT":
        tokens.pos += 1
        joint(-1, False)
    if not names or tokens.peek() is not None:
        raise tokens.error(f"expected 'ROOT', found '{tokens.peek()}'")
    return BvhSkeleton(tuple(names), tuple(parents), np.array(offsets, dtype=float) * scale,
                       tuple(channels), tuple(ends))


def _read_channels(tokens: _Tokens) -> tuple[str, ...]:
    tokens.expect("CHANNELS")
    count_word = tokens.next("a channel count")
    if not count_word.isdigit():
        tokens.pos -= 1
        raise tokens.error(f"CHANNELS needs a count, found '{count_word}'")
    found = []
    for _ in range(int(count_word)):
        word = tokens.next("a channel name")
        name = word[0].upper() + word[1:].lower()
        if name not in CHANNEL_NAMES:
            tokens.pos -= 1
            raise tokens.error(f"unknown channel '{word}' (CHANNELS says {count_word}; "
                               f"known: {', '.join(CHANNEL_NAMES)})")
        if name in found:
            tokens.pos -= 1
            raise tokens.error(f"channel '{word}' is listed twice")
        found.append(name)
    return tuple(found)


_FRAMES = re.compile(r"^\s*Frames\s*:\s*(\S*)\s*$", re.IGNORECASE)
_FRAME_TIME = re.compile(r"^\s*Frame\s+Time\s*:\s*(\S*)\s*$", re.IGNORECASE)


def _read_motion(lines: list[str], motion_line: int, source: str, n_channels: int
                 ) -> tuple[FloatArray, float]:
    """The MOTION section after the word MOTION on line index ``motion_line``."""
    n_frames = _header_number(lines, motion_line + 1, _FRAMES, "Frames: <count>", source)
    frame_time = _header_number(lines, motion_line + 2, _FRAME_TIME, "Frame Time: <seconds>",
                                source)
    if not (n_frames >= 1 and n_frames.is_integer()):
        raise RigError(f"{source}, line {motion_line + 2}: Frames must be a whole number >= 1, "
                       f"got {n_frames:g}")
    if not (frame_time > 0 and np.isfinite(frame_time)):
        raise RigError(f"{source}, line {motion_line + 3}: Frame Time must be positive seconds, "
                       f"got {frame_time:g}")
    first = motion_line + 3
    rows = [line.split() for line in lines[first:]]
    while rows and not rows[-1]:
        rows.pop()
    if len(rows) != n_frames:
        raise RigError(f"{source}: the header says Frames: {int(n_frames)} but lines "
                       f"{first + 1}-{first + len(rows)} hold {len(rows)} frames; fix the count "
                       "or the data (truncated file?)")
    for i, row in enumerate(rows):
        if len(row) != n_channels:
            raise RigError(f"{source}, line {first + i + 1}: {len(row)} values, the hierarchy "
                           f"declares {n_channels} channels")
    try:
        values = np.array(rows, dtype=float).reshape(len(rows), n_channels)
    except ValueError:
        bad = next(i for i, row in enumerate(rows) if not _all_numbers(row))
        raise RigError(f"{source}, line {first + bad + 1}: a value is not a number") from None
    if not np.isfinite(values).all():
        bad = int(np.argmin(np.isfinite(values).all(axis=1)))
        raise RigError(f"{source}, line {first + bad + 1}: NaN or infinite channel value")
    return values, frame_time


def _header_number(lines: list[str], index: int, pattern: re.Pattern[str], form: str,
                   source: str) -> float:
    match = pattern.match(lines[index]) if index < len(lines) else None
    if match:
        try:
            return float(match.group(1))
        except ValueError:
            pass
    found = lines[index].strip() if index < len(lines) else "the end of the file"
    raise RigError(f"{source}, line {index + 1}: expected '{form}', found '{found}'")


def _all_numbers(row: list[str]) -> bool:
    try:
        [float(v) for v in row]
    except ValueError:
        return False
    return True
