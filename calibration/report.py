"""What a calibration reports: a typed summary, a text report and pictures, written atomically.

``summary`` gathers per-camera RMS, views, intrinsics and positions, the camera graph, the
bundle adjustment's cost and timing, the world frame, the board-motion fit and the warnings into
a ``calibration.result.CalibrationReport`` (``CalibrationResult.report``).
``write_report`` writes ``calibration_report.txt``, ``cameras_top_down.png`` (camera positions
and viewing directions on a metric grid, seen from above) and ``coverage_<camera>.png`` (where
in each image the board's corners were seen) into a folder.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

import cv2
import networkx as nx
import numpy as np
from numpy.typing import NDArray

from calibration.bundle import BundleResult
from calibration.camera import Camera, CameraRig
from calibration.detections import BoardDetections
from calibration.errors import CalibrationError
from calibration.extrinsics import ViewPoses
from calibration.intrinsics import IntrinsicsResult
from calibration.io import write_text_atomically
from calibration.result import (
    BundleSummary,
    CalibrationReport,
    CalibrationResult,
    CameraReport,
    GraphEdge,
    MotionReport,
)
from calibration.view_selection import COVERAGE_CELLS, coverage_grid
from calibration.world_frame import WorldFrame

_FONT = cv2.FONT_HERSHEY_SIMPLEX


def summary(rig: CameraRig, intr: Mapping[str, IntrinsicsResult],
            detections: Mapping[str, BoardDetections], views: Mapping[str, ViewPoses],
            graph: nx.Graph, root: str, bundle: BundleResult, refine: list[bool],
            given: Mapping[str, Camera], world: WorldFrame, clock: dict[str, float], *,
            motion: MotionReport, warnings: list[str]) -> CalibrationReport:
    """The calibration's report: per camera (:func:`camera_reports`), the camera graph (its
    spanning tree marked), the board frames used, the final adjustment, the world frame, the
    seconds between the ``clock`` readings (in order, from "start"), the board-motion fit and
    the warnings."""
    tree = nx.maximum_spanning_tree(graph, weight="weight")
    edges = [GraphEdge((a, b), int(d["frames"]), float(d["weight"]), tree.has_edge(a, b))
             for a, b, d in graph.edges(data=True)]
    seen = np.concatenate([d.frames for d in detections.values()])
    frames, counts = np.unique(seen[np.isin(seen, bundle.board.frames)], return_counts=True)
    overall = np.sqrt(np.mean(bundle.residuals[bundle.inliers] ** 2))
    adjustment = BundleSummary(float(overall), float(np.sqrt(np.mean(bundle.initial_rms ** 2))),
                               bundle.cost, bundle.n_evaluations, bundle.n_iterations,
                               bundle.converged, bundle.stop_reason, bundle.seconds)
    timing = {k: clock[k] - clock[p] for p, k in zip(list(clock)[:-1], list(clock)[1:])}
    timing["total"] = clock[list(clock)[-1]] - clock["start"]
    return CalibrationReport(
        camera_reports(rig, intr, detections, views, bundle, refine, given), root, edges,
        int(frames.size), int((counts >= 2).sum()), adjustment, world, timing, motion,
        warnings)


def camera_reports(rig: CameraRig, intr: Mapping[str, IntrinsicsResult],
                   detections: Mapping[str, BoardDetections], views: Mapping[str, ViewPoses],
                   bundle: BundleResult, refine: list[bool], given: Mapping[str, Camera]
                   ) -> dict[str, CameraReport]:
    """Per camera (``rig`` order): its fit, views and intrinsics. ``intrinsics`` says what
    they are: "given" (kept exactly as given), "solved" (from its own views, held in the joint
    adjustment), "prior" (its own views gave nothing plausible: a focal length from a scan, no
    distortion) or "refined" (jointly with all cameras' views, starting from
    ``intrinsics_from``: given, solved or prior); ``behind_camera`` how many of its observed
    corners the result puts at or behind it."""
    cameras = {}
    for i, (cam, name) in enumerate(zip(rig, detections)):
        single = intr[name]
        mine = bundle.camera == i
        source = "given" if name in given else ("solved" if np.isfinite(single.rms) else "prior")
        refined = bool(refine[i])
        cameras[name] = CameraReport(
            rms_px=float(bundle.rms[i]), views=int(detections[name].frames.size),
            frames_in_footage=int(detections[name].n_frames),
            views_posed=int(views[name].frames.size),
            observations=int(bundle.inliers[mine].sum()),
            outliers=int((~bundle.inliers[mine]).sum()),
            behind_camera=int(np.isinf(bundle.residuals[mine]).sum()),
            intrinsics="refined" if refined else source, intrinsics_from=source,
            refined=refined, intrinsics_rms_px=_num(single.rms),
            intrinsics_views=int(single.views_used.size), coverage=_num(single.coverage),
            fx=float(cam.K[0, 0]), fy=float(cam.K[1, 1]), cx=float(cam.K[0, 2]),
            cy=float(cam.K[1, 2]), distortion=tuple(float(v) for v in cam.dist),
            center_m=(float(cam.center[0]), float(cam.center[1]), float(cam.center[2])))
    return cameras


def format_report(result: CalibrationResult) -> str:
    """The text of ``calibration_report.txt``."""
    rep = result.report
    b = rep.bundle
    lines = ["Camera calibration report (units: metres, pixels; world frame Z up)", ""]
    lines += _world_frame_lines(rep.world_frame)
    lines += [(f"board frames used: {rep.frames_used} ({rep.frames_multi_view} seen by 2+ "
               "cameras)"),
              (f"bundle adjustment: RMS {b.rms_px:.3f} px (from {b.initial_rms_px:.3f}), "
               f"{b.evaluations} evaluations, {b.seconds:.2f} s, "
               + ("converged" if b.converged else f"DID NOT CONVERGE ({b.stop_reason})")),
              ("intrinsics: given = kept exactly as given, solved = from the camera's own views, "
               "prior = a focal length alone (nothing better solved), refined = jointly with all "
               "cameras' views"), "",
              (f"{'camera':<12}{'RMS px':>8}{'views':>7}{'outliers':>9}{'intrinsics':>11}"
               f"{'fx':>10}{'fy':>10}{'cx':>9}{'cy':>9}   centre (x, y, z) m")]
    for name, c in rep.cameras.items():
        x, y, z = c.center_m
        lines.append(f"{name:<12}{c.rms_px:>8.3f}{c.views:>7}{c.outliers:>9}"
                     f"{c.intrinsics:>11}{c.fx:>10.1f}{c.fy:>10.1f}{c.cx:>9.1f}"
                     f"{c.cy:>9.1f}   ({x:+.3f}, {y:+.3f}, {z:+.3f})")
    lines += _motion_lines(rep.motion)
    lines += ["", "distortion (k1, k2, p1, p2, k3 or fisheye k1..k4):"]
    lines += [f"  {n:<12}" + " ".join(f"{v:+.5f}" for v in c.distortion)
              for n, c in rep.cameras.items()]
    lines += ["", "camera graph (shared board frames; * = used for the initial poses):"]
    lines += [f"  {'*' if e.in_tree else ' '} {e.cameras[0]} - {e.cameras[1]}: "
              f"{e.shared_frames} frames" for e in rep.graph_edges]
    lines += ["", "timing (s): " + ", ".join(f"{k} {v:.2f}" for k, v in rep.timing_s.items())]
    return "\n".join(lines) + "\n"


def _world_frame_lines(world: WorldFrame) -> list[str]:
    """How the world frame was set: its method (and floor frame), how, and any warning."""
    lines = [f"world frame: {world.method}"
             + (f" (frame {world.frame})" if world.frame is not None else "")]
    if world.how is not None:
        lines.append(f"  {world.how}")
    if world.warning is not None:
        lines.append(f"WARNING: {world.warning}")
    return lines


def _motion_lines(motion: MotionReport) -> list[str]:
    """The rolling-shutter and latency fit (``calibration.rolling_shutter``)."""
    unit = motion.unit
    verdict = ("applied" if motion.applied else
               "not applied: it did not fit the corners clearly better")
    lines = ["", (f"board motion (rolling shutter, capture latency): {verdict}; RMS "
                  f"{motion.rms_px_uncorrected:.3f} px uncorrected, "
                  f"{motion.rms_px_corrected:.3f} px corrected; latencies relative to the "
                  "root camera")]
    for name, c in motion.cameras.items():
        bound = {"offset": " (a bound, not measured)" if c.offset_at_bound else "",
                 "readout": " (a bound, not measured)" if c.readout_at_bound else ""}
        if c.readout_at_bound and c.readout == 0:
            bound["readout"] = " (none measurable: a global shutter, or too little motion)"
        fit = (f"latency {c.offset:+.1f} {unit}{bound['offset']}, frame readout "
               f"{c.readout:.1f} {unit}{bound['readout']}")
        lines.append(f"  {name:<12}" + (fit if c.fitted else "too few moving corners to fit"))
    return lines


def write_report(result: CalibrationResult, out_dir: str | Path) -> list[Path]:
    """Write the text report, the top-down picture and one coverage picture per camera.

    Returns:
        the paths written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    text = out / "calibration_report.txt"
    write_text_atomically(text, format_report(result))
    paths = [text, write_png(out / "cameras_top_down.png", top_down_image(result.rig))]
    for cam in result.rig:
        det = result.detections.get(cam.name)
        if det is not None:
            paths.append(write_png(out / f"coverage_{cam.name}.png", coverage_image(det, cam)))
    return paths


def write_png(path: Path, image: NDArray[np.uint8]) -> Path:
    """Encode ``image`` as PNG into a temporary file beside ``path``, then rename it."""
    ok, data = cv2.imencode(".png", image)
    if not ok:
        raise CalibrationError(f"{path}: the picture could not be encoded as PNG")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.tobytes())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def coverage_image(det: BoardDetections, camera: Camera | None = None,
                   cells: tuple[int, int] = COVERAGE_CELLS,
                   max_width: int = 960) -> NDArray[np.uint8]:
    """(H, W, 3) BGR picture of the image area: cells holding detected corners in green (brighter
    with more corners), empty cells in dark red, every detected corner as a dot."""
    w, h = det.image_size
    scale = min(1.0, max_width / w)
    W, H = round(w * scale), round(h * scale)
    grid = coverage_grid(det, cells)                                        # (rows, cols)
    level = np.clip(np.log1p(grid) / np.log1p(max(grid.max(), 1)), 0, 1)
    colour = np.where(grid[..., None] > 0,
                      np.stack([30 + 20 * level, 80 + 120 * level, 30 + 20 * level], -1),
                      np.array([20.0, 20.0, 90.0]))                          # BGR per cell
    rows = np.minimum((np.arange(H) / H * cells[1]).astype(int), cells[1] - 1)
    cols = np.minimum((np.arange(W) / W * cells[0]).astype(int), cells[0] - 1)
    image = colour[rows[:, None], cols[None, :]].astype(np.uint8)
    for i in range(1, cells[0]):
        cv2.line(image, (int(i * W / cells[0]), 0), (int(i * W / cells[0]), H), (90, 90, 90), 1)
    for j in range(1, cells[1]):
        cv2.line(image, (0, int(j * H / cells[1])), (W, int(j * H / cells[1])), (90, 90, 90), 1)
    xy = det.xy[np.isfinite(det.xy[..., 0])] * scale
    pts = np.round(xy).astype(np.int32)
    inside = (pts[:, 0] >= 0) & (pts[:, 0] < W) & (pts[:, 1] >= 0) & (pts[:, 1] < H)
    image[pts[inside, 1], pts[inside, 0]] = (255, 255, 255)
    if camera is not None:
        cx, cy = camera.K[0, 2] * scale, camera.K[1, 2] * scale
        cv2.drawMarker(image, (int(cx), int(cy)), (0, 200, 255), cv2.MARKER_CROSS, 20, 2)
    covered = 100.0 * (grid > 0).mean()
    label = f"{det.camera}: {det.frames.size} views, {covered:.0f}% of cells covered"
    cv2.putText(image, label, (10, 25), _FONT, 0.7, (255, 255, 255), 2, cv2.LINE_AA)
    return image


def top_down_image(rig: CameraRig, size: int = 800) -> NDArray[np.uint8]:
    """(size, size, 3) BGR picture of the cameras seen from above (world x right, y up): a
    metric grid, the world axes at the origin, each camera as a dot with its viewing direction
    and name."""
    centers = rig.centers[:, :2]
    pts = np.vstack([centers, np.zeros((1, 2))])
    lo, hi = pts.min(0), pts.max(0)
    span = max(float((hi - lo).max()), 0.5) * 1.3
    mid = (lo + hi) / 2
    px = (size - 80) / span

    def to_px(xy: NDArray[np.float64]) -> tuple[int, int]:
        u = (xy[0] - mid[0]) * px + size / 2
        v = size / 2 - (xy[1] - mid[1]) * px
        return round(u), round(v)

    image = np.full((size, size, 3), 255, np.uint8)
    step = _grid_step(span)
    for k in np.arange(np.floor((mid - span) / step).min(), np.ceil((mid + span) / step).max()):
        u, v = to_px(np.array([k * step, k * step]))
        cv2.line(image, (u, 0), (u, size), (225, 225, 225), 1)
        cv2.line(image, (0, v), (size, v), (225, 225, 225), 1)
    origin = to_px(np.zeros(2))
    cv2.arrowedLine(image, origin, to_px(np.array([step, 0.0])), (0, 0, 220), 2, tipLength=0.15)
    cv2.arrowedLine(image, origin, to_px(np.array([0.0, step])), (0, 160, 0), 2, tipLength=0.15)
    for cam, c in zip(rig, centers):
        look = cam.R[2, :2]
        look = look / max(float(np.linalg.norm(look)), 1e-9) * 0.12 * span
        cv2.arrowedLine(image, to_px(c), to_px(c + look), (200, 90, 0), 2, tipLength=0.25)
        cv2.circle(image, to_px(c), 6, (120, 40, 0), -1)
        u, v = to_px(c)
        cv2.putText(image, cam.name, (u + 8, v - 8), _FONT, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(image, f"top view, grid {step:g} m, x red, y green, Z up", (10, size - 15),
                _FONT, 0.5, (60, 60, 60), 1, cv2.LINE_AA)
    return image


def _grid_step(span: float) -> float:
    """A round grid spacing giving 4 to 12 lines over ``span`` metres."""
    for step in (0.1, 0.2, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0):
        if span / step <= 12:
            return step
    return 20.0


def _num(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None
