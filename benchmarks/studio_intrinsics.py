"""Intrinsics on generated studios: arcs of 4 cameras and rings of 6-8, several seeds.

Each studio is ``studio_rig`` (1280x720, focal 800-1400 px, k1 in [-0.35, 0.1], k2 in
[-0.05, 0.15], small tangential terms, k3 = 0, cameras 3-4.5 m from the volume's axis) filming a
board of 5x7 squares of 96 mm (4x6 inner corners) waved for 200 frames, then laid on the floor;
corners are projected with noise, dropouts, partial views and outliers
(``simulate_board_session``), and cameras more than 120 degrees apart share no views.

Per layout and seed it prints the worst camera's focal error (%), rotation (degrees) and centre
(mm) relative to camera 0, the world up's angle (degrees) and the worst camera height (mm), and
per camera the lens terms the intrinsics step chose and its focal, k1, k2, k3 errors.

With ``--bound`` it adds what the views allow (``efficient_bound``): the worst centre error that
the exact maximum-likelihood rig makes on this session's own noise (every lens term but k3 free,
linearised at the truth), and the chance that an unbiased estimator at the Cramer-Rao bound
misses the 3 mm goal on such views. A calibration matching the first is as good as these
views can give; no solver does better on average than the second says.

Run: python benchmarks/studio_intrinsics.py [--seeds 0 1 2] [--noise 0.05] [--layouts arc90 ...]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from calibration.bundle_problem import BundleProblem, observations
from calibration.calibrate import calibrate
from calibration.camera import CameraRig
from calibration.compare import compare_rigs
from calibration.config import CalibrationConfig
from calibration.detections import BoardDetections
from calibration.extrinsics import BoardPoses
from calibration.result import CalibrationResult
from mocap.synthetic.board_observations import (
    BoardSession,
    GridBoard,
    forbid_shared_views,
    simulate_board_session,
)
from mocap.synthetic.studio import studio_rig

FloatArray = NDArray[np.float64]
LAYOUTS = {"arc90": (4, 90.0), "arc120": (4, 120.0), "arc180": (4, 180.0),
           "ring6": (6, 360.0), "ring8": (8, 360.0)}
BOARD = GridBoard(4, 6, 0.096)          # 5x7 squares of 96 mm: 4x6 inner corners
SHARED_VIEW_LIMIT_DEG = 120.0           # cameras farther apart than this share no views
CENTRE_GOAL_MM = 3.0                    # the goal for every camera's centre


@dataclass(frozen=True)
class StudioErrors:
    """Worst-camera errors of one calibrated studio against its truth."""

    focal_pct: float        # largest |fx or fy error|, percent
    rotation_deg: float     # largest rotation error relative to camera 0
    centre_mm: float        # largest centre error relative to camera 0
    up_deg: float           # angle between the world's Z axes, seen from camera 0
    height_mm: float        # largest camera height error in the world frame


def studio_session(n_cameras: int, span_deg: float, seed: int, noise_px: float = 0.05,
                   n_frames: int = 200, extent: float = 0.6
                   ) -> tuple[BoardSession, dict[str, BoardDetections]]:
    """(the session's truth, detections) of one generated studio; see the module docstring."""
    rig = studio_rig(n_cameras, span_deg=span_deg, seed=seed)
    session = simulate_board_session(rig, board=BOARD, n_frames=n_frames, seed=seed + 100,
                                     noise_px=noise_px, extent=(extent, extent, 0.5))
    return session, forbid_shared_views(session.detections, far_pairs(rig))


def far_pairs(rig: CameraRig) -> list[tuple[str, str]]:
    """Pairs of cameras whose directions from the volume's axis differ by more than
    SHARED_VIEW_LIMIT_DEG (opposite cameras of a ring)."""
    azimuth = np.degrees(np.arctan2(rig.centers[:, 1], rig.centers[:, 0]))
    gap = np.abs((azimuth[:, None] - azimuth[None] + 180.0) % 360.0 - 180.0)
    return [(rig.names[i], rig.names[j]) for i, j in zip(*np.nonzero(np.triu(
        gap > SHARED_VIEW_LIMIT_DEG)))]


def studio_errors(estimate: CameraRig, truth: CameraRig) -> StudioErrors:
    """Errors relative to camera 0 (poses, focal) and in the world frame (up, heights)."""
    diffs = compare_rigs(estimate, truth, align="first")
    up_est = estimate[0].R @ np.array([0.0, 0.0, 1.0])          # world Z in camera 0
    up_true = truth[0].R @ np.array([0.0, 0.0, 1.0])
    up = np.degrees(np.arccos(np.clip(up_est @ up_true, -1.0, 1.0)))
    heights = 1000 * np.abs(estimate.centers[:, 2] - truth.centers[:, 2])
    return StudioErrors(max(abs(d.focal_pct) for d in diffs),
                        max(d.rotation_deg for d in diffs), max(d.center_mm for d in diffs),
                        float(up), float(heights.max()))


def efficient_bound(session: BoardSession, detections: dict[str, BoardDetections],
                    noise_px: float, n_samples: int = 20000) -> tuple[float, float]:
    """What the views allow: the adjustment of all cameras and board poses with every lens term
    but k3 free (the generator's k3 is 0), linearised at the truth.

    Returns:
        the worst centre error relative to camera 0 (mm) of the maximum-likelihood rig on the
        detections' own noise (corners more than 1 px off, the generator's outliers, left out),
        and the probability that an unbiased estimator at the Cramer-Rao bound (Gaussian with
        the inverse information, ``noise_px`` per axis) puts some camera more than
        CENTRE_GOAL_MM off.
    """
    truth = session.rig
    frames = np.unique(np.concatenate([d.frames for d in detections.values()]))
    obs = observations([detections[n] for n in truth.names], frames)
    problem = BundleProblem(list(truth), BoardPoses(frames, session.R[frames], session.t[frames]),
                            obs, session.board.object_points, True, ["k3"], 0)
    noise = obs.xy - problem.project(problem.x0)[0]                           # (M, 2) px
    inlier = np.linalg.norm(noise, axis=1) < 1.0
    J = problem.restricted(inlier).jacobian(problem.x0)                      # (2 M', N)
    information = (J.T @ J).toarray()
    shift = np.linalg.solve(information, J.T @ noise[inlier].ravel())        # x_ML - x_true
    worst = np.linalg.norm(_relative_centres(problem, problem.x0 + shift)
                           - _relative_centres(problem, problem.x0), axis=1).max()
    pose_cols = np.arange(6 * (len(truth) - 1))           # camera 0's pose is held: the gauge
    G = _centre_derivatives(problem, pose_cols)                              # (3 C, P)
    cov = G @ np.linalg.inv(information)[np.ix_(pose_cols, pose_cols)] @ G.T * noise_px**2
    draws = np.random.default_rng(0).multivariate_normal(np.zeros(cov.shape[0]), cov,
                                                         n_samples, method="eigh")
    misses = np.linalg.norm(draws.reshape(n_samples, -1, 3), axis=2).max(1) > CENTRE_GOAL_MM
    return float(worst), float(misses.mean())


def _relative_centres(problem: BundleProblem, x: FloatArray) -> FloatArray:
    """(C, 3) camera centres in camera 0's frame, mm, for the problem's free values ``x``."""
    cameras, _ = problem.unpack(x)
    first = cameras[0]
    return 1000 * np.stack([first.R @ (c.center - first.center) for c in cameras])


def _centre_derivatives(problem: BundleProblem, columns: NDArray[np.int64]) -> FloatArray:
    """(3 C, len(columns)) derivatives of ``_relative_centres`` (central differences)."""
    out = np.empty((3 * problem.n_cam, columns.size))
    for k, col in enumerate(columns):
        step = np.zeros_like(problem.x0)
        step[col] = 1e-6
        out[:, k] = (_relative_centres(problem, problem.x0 + step)
                     - _relative_centres(problem, problem.x0 - step)).ravel() / 2e-6
    return out


def lens_lines(result: CalibrationResult, truth: CameraRig) -> list[str]:
    """Per camera: the model chosen, the true and final (after the rig's adjustment) focal
    and k1, k2, k3."""
    lines = []
    for cam, ref in zip(result.rig, truth):
        model = ",".join(sorted(result.intrinsics[cam.name].model)) or "-"
        single = result.intrinsics[cam.name].camera
        lines.append(
            f"    {cam.name}: model [{model}] f {ref.K[0, 0]:.0f} single "
            f"{100 * (single.K[0, 0] / ref.K[0, 0] - 1):+.2f} % joint "
            f"{100 * (cam.K[0, 0] / ref.K[0, 0] - 1):+.2f} %; k true "
            f"{np.array2string(ref.dist[[0, 1, 4]], precision=3)} single "
            f"{np.array2string(single.dist[[0, 1, 4]], precision=3)} joint "
            f"{np.array2string(cam.dist[[0, 1, 4]], precision=3)} "
            f"refined {result.report.cameras[cam.name].refined}")
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layouts", nargs="+", default=list(LAYOUTS), choices=list(LAYOUTS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--noise", type=float, default=0.05, help="corner noise, px per axis")
    parser.add_argument("--extent", type=float, default=0.6,
                        help="the board's centre stays within this of the volume's axis, m")
    parser.add_argument("--given", action="store_true",
                        help="give the true intrinsics (held): the extrinsics' own error")
    parser.add_argument("--max-views", type=int, default=40)
    parser.add_argument("--lenses", action="store_true", help="print each camera's lens")
    parser.add_argument("--bound", action="store_true",
                        help="add the maximum-likelihood rig's centre error on the same noise "
                             "and an efficient estimator's chance to miss 3 mm")
    args = parser.parse_args(argv)
    bound_head = (" ML mm | P(> 3 mm) |", "---|---|") if args.bound else ("", "")
    print("| layout | seed | focal % | rotation deg | centre mm | up deg | height mm | s |"
          + bound_head[0])
    print("|---|---|---|---|---|---|---|---|" + bound_head[1])
    for layout in args.layouts:
        for seed in args.seeds:
            session, detections = studio_session(*LAYOUTS[layout], seed, args.noise,
                                                 extent=args.extent)
            truth = session.rig
            start = time.perf_counter()
            given = {c.name: c for c in truth} if args.given else None
            result = calibrate(detections, BOARD, CalibrationConfig(max_views=args.max_views),
                               intrinsics=given)
            seconds = time.perf_counter() - start
            e = studio_errors(result.rig, truth)
            bound = ""
            if args.bound:
                worst, miss = efficient_bound(session, detections, args.noise)
                bound = f" {worst:.1f} | {miss:.2f} |"
            print(f"| {layout} | {seed} | {e.focal_pct:.3f} | {e.rotation_deg:.3f} | "
                  f"{e.centre_mm:.1f} | {e.up_deg:.3f} | {e.height_mm:.1f} | {seconds:.1f} |"
                  + bound, flush=True)
            if args.lenses:
                print("\n".join(lens_lines(result, truth)), flush=True)


if __name__ == "__main__":
    main()
