"""A session folder on disk: where its calibration, 2D keypoints, ground truth and outputs are."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from calibration.camera import CameraRig
from mocap.config import SessionConfig
from mocap.errors import InputError
from mocap.keypoints import Keypoints2D
from mocap.keypoints_io import check_pixels, read_keypoints


@dataclass(frozen=True)
class Session:
    """Paths of one session (DESIGN.md "Sessions on disk")."""

    root: Path
    output: Path

    @classmethod
    def open(cls, root: str | Path, output: str | Path | None = None) -> Session:
        root = Path(root)
        if not root.is_dir():
            hint = " (it is a file)" if root.exists() else ""
            raise InputError(f"session folder {root} not found{hint}; give the folder that "
                             "holds calibration/ and keypoints2d/ (or videos/)")
        return cls(root, Path(output) if output else root / "output")

    @property
    def config(self) -> SessionConfig:
        """``session.toml``'s settings, files they name read from the session folder."""
        config = SessionConfig.load(self.root / "session.toml")
        return replace(config, lifting=config.lifting.within(self.root))

    @property
    def calibration_file(self) -> Path:
        """The ready calibration: ``calibration/calibration.toml``, else a previous run's."""
        path = self.ready_calibration_file()
        if path is not None:
            return path
        raise InputError(f"{self.root}: no calibration found; put a calibration TOML in "
                         "calibration/calibration.toml, give one with --calibration FILE, or "
                         "put board.toml and board footage (calibration/<camera>.mp4) there")

    def ready_calibration_file(self) -> Path | None:
        """:attr:`calibration_file`, or None where the session has none."""
        return next((path for path in (self.root / "calibration" / "calibration.toml",
                                       self.output / "calibration.toml") if path.is_file()), None)

    @property
    def ground_truth_file(self) -> Path | None:
        path = self.root / "ground_truth" / "points3d.npz"
        return path if path.is_file() else None

    def keypoint_files(self) -> dict[str, Path]:
        """camera name -> ``keypoints2d/<camera>.npz`` given with the session."""
        folder = self.root / "keypoints2d"
        files = {p.stem: p for p in sorted(folder.glob("*.npz"))} if folder.is_dir() else {}
        if not files:
            raise InputError(f"{self.root}: no 2D keypoints found; put one "
                             "keypoints2d/<camera>.npz per camera in the session (xy [F, P, J, "
                             "2], score [F, P, J], keypoints, skeleton, fps)")
        return files

    def load_keypoints(self, rig: CameraRig, files: dict[str, Path] | None = None) -> Keypoints2D:
        """The session's 2D (``files`` or :meth:`keypoint_files`), checked against ``rig``."""
        files = files or self.keypoint_files()
        unknown = [name for name in files if name not in rig.names]
        if unknown:
            raise InputError(f"{files[unknown[0]]}: camera '{unknown[0]}' is not in the "
                             f"calibration (it has {', '.join(rig.names)}); rename the keypoints "
                             "file after its camera or calibrate that camera")
        keypoints = read_keypoints(files)
        check_pixels(keypoints, rig, files)
        return keypoints
