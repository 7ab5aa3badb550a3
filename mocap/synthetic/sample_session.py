"""Make the bundled sample session: a 4-camera studio, one person walking then waving.

Run ``python -m mocap.synthetic.sample_session sample_sessions/studio4`` to (re)make it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from calibration.io import write_calibration
from exporters.points3d import write_points3d
from mocap.keypoints import Keypoints2D
from mocap.keypoints_io import write_camera_keypoints
from mocap.synthetic.motion import synthetic_motion
from mocap.synthetic.observe import DetectorErrors, observe
from mocap.synthetic.studio import ring_rig


def make_sample_session(folder: Path, *, n_cameras: int = 4, n_frames: int = 240,
                        fps: float = 30.0, noise_px: float = 1.0, seed: int = 0) -> Path:
    """Write ``calibration/calibration.toml`` (the true rig), ``keypoints2d/<camera>.npz``
    (COCO-17 with ``noise_px`` pixel noise) and ``ground_truth/points3d.npz``."""
    rig = ring_rig(n_cameras, seed=seed)
    truth = synthetic_motion("coco17", n_frames=n_frames, fps=fps)
    kp = observe(rig, truth, DetectorErrors(noise_px=noise_px), seed=seed)
    kp = Keypoints2D(xy=kp.xy.astype(np.float32).astype(float), score=kp.score.round(3),
                     cameras=kp.cameras, skeleton=kp.skeleton, fps=fps)
    write_calibration(rig, folder / "calibration" / "calibration.toml")
    for name in kp.cameras:
        write_camera_keypoints(kp, name, folder / "keypoints2d" / f"{name}.npz")
    write_points3d(truth, folder / "ground_truth" / "points3d.npz")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    make_sample_session(args.folder, seed=args.seed)
    print(f"wrote {args.folder}")


if __name__ == "__main__":
    main()
