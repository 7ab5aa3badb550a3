"""What a rig calibration returns: the rig, and a typed report of how it was obtained.

``calibration.calibrate`` fills these in, ``calibration.report`` builds the report's parts and
prints it; neither imports the other's module for them. ``dataclasses.asdict`` turns a report
into plain values (dicts, lists, numbers, strings) for serialisation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from calibration.camera import CameraRig
from calibration.detections import BoardDetections
from calibration.extrinsics import BoardPoses
from calibration.intrinsics import IntrinsicsResult
from calibration.world_frame import WorldFrame


@dataclass(frozen=True)
class CameraReport:
    """One camera of the calibrated rig.

    Attributes:
        rms_px: reprojection RMS of its corners kept in the final adjustment, pixels.
        views: its board views (synchronized frames); ``frames_in_footage`` its footage's.
        views_posed: views in which the board's pose could be found from this camera alone.
        observations: corners kept in the final adjustment; ``outliers``: corners dropped.
        behind_camera: observed corners the result puts at or behind the camera.
        intrinsics: "given" (kept exactly as given), "solved" (from its own views, held in the
            joint adjustment), "prior" (its own views gave nothing plausible: a focal length
            from a scan, no distortion) or "refined" (jointly with all cameras' views).
        intrinsics_from: what they were refined from, or are: given, solved or prior.
        refined: whether the joint adjustment refined them.
        intrinsics_rms_px: RMS of its own views' fit (None: nothing solved).
        intrinsics_views: views its own fit used.
        coverage: fraction of the image's cells holding a detected corner (None: unknown).
        fx, fy, cx, cy: the final focal lengths and principal point, pixels.
        distortion: the final k1, k2, p1, p2, k3 (fisheye: k1..k4).
        center_m: (x, y, z) the camera's centre in the world frame, metres.
    """

    rms_px: float
    views: int
    frames_in_footage: int
    views_posed: int
    observations: int
    outliers: int
    behind_camera: int
    intrinsics: str
    intrinsics_from: str
    refined: bool
    intrinsics_rms_px: float | None
    intrinsics_views: int
    coverage: float | None
    fx: float
    fy: float
    cx: float
    cy: float
    distortion: tuple[float, ...]
    center_m: tuple[float, float, float]


@dataclass(frozen=True)
class GraphEdge:
    """Two cameras that saw the board in the same frames; ``in_tree``: the edge was used for
    the initial poses (the camera graph's maximum spanning tree)."""

    cameras: tuple[str, str]
    shared_frames: int
    weight: float
    in_tree: bool


@dataclass(frozen=True)
class BundleSummary:
    """The final bundle adjustment: RMS over the inlier corners before and after (pixels), its
    cost, function evaluations and iterations, whether it converged and why it stopped, and
    its duration in seconds."""

    rms_px: float
    initial_rms_px: float
    cost: float
    evaluations: int
    iterations: int
    converged: bool
    stop_reason: str
    seconds: float


@dataclass(frozen=True)
class CameraTiming:
    """One camera's fitted capture timing, in its ``MotionReport.unit``.

    Attributes:
        fitted: False where the camera had too few moving corners (its values are 0).
        offset: capture latency relative to the root camera.
        readout: time to read out a whole frame (rolling shutter; 0: a global shutter).
        offset_at_bound, readout_at_bound: the value sits on its bound (half a frame; 0 or the
            longest readout): a limit the footage pushed against, not a measurement.
    """

    fitted: bool
    offset: float
    readout: float
    offset_at_bound: bool
    readout_at_bound: bool


@dataclass(frozen=True)
class MotionReport:
    """The board-motion correction (``calibration.rolling_shutter``): whether it was applied
    (it fitted the corners clearly better), the adjustment's RMS without and with it (pixels),
    the unit of the timings ("ms" with frame times, else "frames") and each camera's timing."""

    applied: bool
    rms_px_uncorrected: float
    rms_px_corrected: float
    unit: str
    cameras: dict[str, CameraTiming]


@dataclass(frozen=True)
class FrameShifts:
    """Cameras moved by whole frames (``calibration.frame_shift``): frames per camera (later
    when positive) and the adjustment's RMS before and after the moves, pixels."""

    cameras: dict[str, int]
    rms_px: tuple[float, float]


@dataclass(frozen=True)
class CalibrationReport:
    """How a calibration went.

    Attributes:
        cameras: per camera name (rig order), its report.
        root_camera: the camera whose pose was held (the camera graph's best linked).
        graph_edges: the camera graph.
        frames_used: board frames with a pose in the final adjustment;
            ``frames_multi_view`` those of them seen by 2 or more cameras.
        bundle: the final bundle adjustment.
        world_frame: how the world frame was set.
        timing_s: seconds per step (intrinsics, extrinsics, bundle, world) and in total.
        motion: the board-motion correction and each camera's timing.
        warnings: sentences on what to check or film again.
        frame_shifts: cameras moved by whole frames, or None.
    """

    cameras: dict[str, CameraReport]
    root_camera: str
    graph_edges: list[GraphEdge]
    frames_used: int
    frames_multi_view: int
    bundle: BundleSummary
    world_frame: WorldFrame
    timing_s: dict[str, float]
    motion: MotionReport
    warnings: list[str] = field(default_factory=list)
    frame_shifts: FrameShifts | None = None


@dataclass(frozen=True)
class CalibrationResult:
    """A calibrated rig and how it was obtained.

    Attributes:
        rig: the cameras in the world frame (Z up, metres); each camera's ``extra["rms"]`` is
            its reprojection RMS in pixels; ``rig.extra["metadata"]["world_frame"]`` says how
            the world frame was set (``WorldFrame.to_table``, written to calibration.toml).
        report: per-camera RMS, views and intrinsics, the camera graph, the bundle adjustment,
            the world frame, the board-motion fit, frame shifts, warnings and timings.
        board_poses: the board's pose (board to world) in every frame used.
        intrinsics: per camera, the single-camera intrinsics step's result.
        detections: the detections calibrated from (frames in synchronized indices).
    """

    rig: CameraRig
    report: CalibrationReport
    board_poses: BoardPoses
    intrinsics: dict[str, IntrinsicsResult] = field(default_factory=dict)
    detections: dict[str, BoardDetections] = field(default_factory=dict)
