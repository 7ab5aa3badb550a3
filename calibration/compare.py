"""Compare a calibrated rig with a reference: poses after aligning the two world frames, focals."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from calibration.camera import CameraRig
from calibration.errors import CalibrationError

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class CameraDifference:
    """How far one camera of a rig is from the reference's camera of the same name."""

    name: str
    rotation_deg: float             # angle of R_est^T R_ref after alignment
    center_mm: float                # distance between the centres after alignment
    focal_pct: float                # largest of |fx| and |fy| relative differences, percent
    principal_px: float             # distance between principal points, pixels


def compare_rigs(estimate: CameraRig, reference: CameraRig, *,
                 align: str = "rigid") -> list[CameraDifference]:
    """Per-camera differences of ``estimate`` from ``reference`` (cameras matched by name).

    Args:
        align: ``"rigid"``: one rotation and translation (no scale: both rigs are metric)
            fitted to all camera centres and orientations maps the estimate's world onto the
            reference's; ``"first"``: both rigs are expressed relative to their first common
            camera (its pose is then exact by construction).
    """
    names = [n for n in reference.names if n in estimate.names]
    if len(names) < 2:
        raise CalibrationError(f"rigs share {len(names)} camera names; need at least 2 to compare")
    est, ref = estimate.subset(names), reference.subset(names)
    if align == "first":
        est, ref = _relative_to(est, 0), _relative_to(ref, 0)
    elif align == "rigid":
        R, t = _rigid_fit(est, ref)
        est = est.transformed(R, t)
    else:
        raise CalibrationError(f"align must be 'rigid' or 'first', got {align!r}")
    out = []
    for e, r in zip(est, ref):
        cos = (np.trace(e.R.T @ r.R) - 1) / 2
        focal = np.abs(np.array([e.K[0, 0], e.K[1, 1]]) / [r.K[0, 0], r.K[1, 1]] - 1).max()
        out.append(CameraDifference(
            e.name, float(np.degrees(np.arccos(np.clip(cos, -1, 1)))),
            float(np.linalg.norm(e.center - r.center) * 1000), float(focal * 100),
            float(np.linalg.norm(e.K[:2, 2] - r.K[:2, 2]))))
    return out


def _relative_to(rig: CameraRig, index: int) -> CameraRig:
    """The rig in the frame of camera ``index`` (its pose becomes the identity)."""
    first = rig[index]
    return rig.transformed(first.R, first.t)


def _rigid_fit(est: CameraRig, ref: CameraRig) -> tuple[FloatArray, FloatArray]:
    """Rotation R and translation t with ``x_ref = R x_est + t`` from the camera centres and
    each camera's viewing axes (so two cameras suffice): weighted Kabsch on centres plus
    points one metre along each camera's x, y and z axes."""
    def anchors(rig: CameraRig) -> FloatArray:
        centres = rig.centers                                               # (C, 3)
        axes = np.stack([c.R for c in rig])                                 # (C, 3, 3) rows
        return np.concatenate([centres, (centres[:, None] + axes).reshape(-1, 3)])
    a, b = anchors(est), anchors(ref)
    ca, cb = a.mean(0), b.mean(0)
    U, _, Vt = np.linalg.svd((a - ca).T @ (b - cb))
    D = np.diag([1.0, 1.0, np.sign(np.linalg.det(Vt.T @ U.T))])
    R = Vt.T @ D @ U.T
    return R, cb - R @ ca
