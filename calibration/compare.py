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
    focal_pct: float                # fx or fy relative difference, whichever is larger, percent
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
    R_est, R_ref = np.stack([c.R for c in est]), np.stack([c.R for c in ref])
    K_est, K_ref = np.stack([c.K for c in est]), np.stack([c.K for c in ref])
    rotation = rotation_angle_deg(np.swapaxes(R_est, -1, -2) @ R_ref)               # (C,)
    centre = 1000 * np.linalg.norm(est.centers - ref.centers, axis=-1)
    focal = K_est[:, [0, 1], [0, 1]] / K_ref[:, [0, 1], [0, 1]] - 1                # (C, 2)
    focal = np.take_along_axis(focal, np.abs(focal).argmax(1)[:, None], 1)[:, 0]
    principal = np.linalg.norm(K_est[:, :2, 2] - K_ref[:, :2, 2], axis=-1)
    return [CameraDifference(n, float(a), float(d), float(100 * f), float(p))
            for n, a, d, f, p in zip(names, rotation, centre, focal, principal)]


def rotation_angle_deg(R: FloatArray) -> FloatArray:
    """(...) rotation angles in degrees of (..., 3, 3) rotation matrices (accurate near 0,
    unlike the arccos of the trace)."""
    axis = np.stack([R[..., 2, 1] - R[..., 1, 2], R[..., 0, 2] - R[..., 2, 0],
                     R[..., 1, 0] - R[..., 0, 1]], axis=-1)             # 2 sin(angle) axis
    return np.degrees(np.arctan2(np.linalg.norm(axis, axis=-1),
                                 np.trace(R, axis1=-2, axis2=-1) - 1.0))


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
