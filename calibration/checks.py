"""Whether a calibration's inputs and result can be trusted: given intrinsics are refused where
they cannot be the camera's (never swapped for others), implausible results are refused, and
lesser doubts become warnings that say what to film or check.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from calibration.bundle import BundleResult
from calibration.camera import Camera
from calibration.config import CalibrationConfig
from calibration.detections import BoardDetections
from calibration.errors import CalibrationError, SolverError
from calibration.intrinsics import (
    IntrinsicsResult,
    PlanarBoard,
    calibrate_intrinsics,
    data_radius,
    distortion_is_monotonic,
    intrinsics_problems,
)


def given_intrinsics(det: BoardDetections, board: PlanarBoard, given: Camera,
                     max_rms_px: float) -> IntrinsicsResult:
    """The given intrinsics, exactly, with their fit to the camera's own views; CalibrationError
    where they cannot be this camera's: made for another image size, implausible
    (``intrinsics_problems``, the distortion checked out to where the board was seen), or
    fitting its views worse than ``max_rms_px`` (``CalibrationConfig.given_max_rms_px``):
    corners are found to a fraction of a pixel, and a pose per view absorbs the board's
    motion, so a worse fit is another lens or setting."""
    (w, h), (gw, gh) = det.image_size, given.size
    if (gw, gh) != (w, h):
        raise _given_error(det.camera, [f"they are for {gw} x {gh} images, not {w} x {h}"])
    result = calibrate_intrinsics(det, board, fixed=given, check=False)
    problems = intrinsics_problems(given, radius=data_radius(det, given))
    per_view = result.per_view_rms[np.isfinite(result.per_view_rms)]
    rms = float(np.sqrt(np.mean(per_view**2))) if per_view.size else np.inf
    if not rms <= max_rms_px:
        problems.append(f"the board's corners fit them to {rms:.1f} px RMS at best, with a board "
                        f"pose per view, where over {max_rms_px:g} px means another lens, "
                        "zoom or resolution")
    if problems:
        raise _given_error(det.camera, problems)
    return result


def _given_error(camera: str, problems: list[str]) -> CalibrationError:
    return CalibrationError(f"camera {camera}: the given intrinsics do not fit its footage "
                            f"({'; '.join(problems)}); correct them, or leave this camera out of "
                            "the given intrinsics (e.g. calibration/intrinsics.toml) to have them "
                            "solved from its footage")


def input_warnings(given: Mapping[str, Camera], detections: Mapping[str, BoardDetections],
                   bundle: BundleResult) -> list[str]:
    """Warnings for intrinsics given for no camera and for a final adjustment that stopped
    before converging."""
    warnings = []
    unused = sorted(set(given) - set(detections))
    if unused:
        warnings.append(f"intrinsics were given for {', '.join(unused)}, which no footage has: "
                        f"they were not used (cameras: {', '.join(detections)}); check the names")
    if not bundle.converged:
        warnings.append(f"the bundle adjustment did not converge ({bundle.stop_reason}, "
                        f"{bundle.n_iterations} iterations): the cameras are not at their best "
                        "fit; check the frame synchronisation and the board definition (square "
                        "size), and which cameras fit worst")
    return warnings


def check_result(bundle: BundleResult, detections: Mapping[str, BoardDetections],
                 intr: Mapping[str, IntrinsicsResult], config: CalibrationConfig) -> list[str]:
    """Raise SolverError for implausible intrinsics; return warnings for lesser doubts: lens
    distortion unknown towards the image corners, and reprojection errors far above what the
    camera's own views allow (``config.high_rms_px``) or many corners dropped as outliers
    (``config.high_outlier_fraction``): signs of unsynchronised frames."""
    warnings = []
    sync_advice = ("check that the frames of all cameras are synchronised (timestamps.csv) "
                   "and that the board does not move fast")
    for c, (cam, rms) in enumerate(zip(bundle.cameras, bundle.rms)):
        own = intr[cam.name].rms
        dropped = 1.0 - bundle.inliers[bundle.camera == c].mean()
        if rms > max(config.high_rms_px, 3.0 * own if np.isfinite(own) else 0.0):
            warnings.append(f"camera {cam.name}: reprojection RMS {rms:.2f} px is high (its own "
                            f"views fit to {own:.2f} px): {sync_advice}")
        if dropped > config.high_outlier_fraction:
            warnings.append(f"camera {cam.name}: {100 * dropped:.0f} % of its board corners "
                            f"were dropped as not fitting the other cameras' views: "
                            f"{sync_advice}")
        radius = data_radius(detections[cam.name], cam)
        problems = intrinsics_problems(cam, radius=radius)
        if problems:
            raise SolverError(f"camera {cam.name}: the calibration is implausible "
                              f"({'; '.join(problems)}); film the board closer to this camera, "
                              "covering the whole image and tilted 30-45 degrees in several "
                              "directions, while other cameras see it too")
        if not distortion_is_monotonic(cam):
            warnings.append(f"camera {cam.name}: the lens distortion is known only where the "
                            f"board was seen and folds over before the image's corners; "
                            f"film the board in the corners of this camera's image too")
    return warnings
