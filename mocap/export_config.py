"""``[export]`` in session.toml: what a run exports and how (the formats themselves:
:mod:`mocap.export_stage`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from mocap.errors import ConfigError

# the cameras as the skeleton adjustment corrected them, beside points3d.npz (refine_cameras)
REFINED_CALIBRATION = "calibration_refined.toml"
FORMATS = ("bvh", "fbx", "trc", "c3d", "csv", "json", "robot")
# what each format writes, for RunOutputs.own: earlier files of a format written again go
OUTPUT_PATTERNS = {"bvh": ("skeleton*.bvh",), "fbx": ("skeleton.fbx", "skeleton.blend"),
                   "trc": ("points3d*.trc",), "c3d": ("points3d*.c3d",),
                   "csv": ("points3d.csv",), "json": ("points3d.json",), "robot": ("robot/*",)}


@dataclass(frozen=True)
class RobotConfig:
    urdf: str = ""                  # the arm's URDF file; "": the bundled rigs/data/arm6.urdf
    tip: str = ""                   # the tool link; "": the URDF's only leaf link
    hand: str = "right"             # the hand the robot follows: right or left
    rate_hz: float = 0.0            # trajectory rate; 0: the take's frame rate
    # x_base = T x_world, 16 numbers row by row; none: the world frame, and the hand's path is
    # moved to workspace_centre (a recording rarely lies in an arm's reach)
    world_to_base: tuple[float, ...] = ()
    workspace_centre: tuple[float, float, float] = (0.4, 0.0, 0.4)
    # without world_to_base, the factor on the hand path's size; 0: shrink it just enough to
    # fit 80 % of the arm's reach (rigs.robot_frame.reach_scale), human scale where it fits
    scale: float = 0.0
    speed_fraction: float = 1.0     # share of the URDF's velocity limits the retiming may use

    def __post_init__(self) -> None:
        if self.hand not in ("right", "left"):
            raise ConfigError(f"[export.robot] hand must be 'right' or 'left', got "
                              f"'{self.hand}'")
        if len(self.world_to_base) not in (0, 16):
            raise ConfigError(f"[export.robot] world_to_base must be 16 numbers (a 4x4 "
                              f"transform, row by row), got {len(self.world_to_base)}")
        if not self.scale >= 0:
            raise ConfigError(f"[export.robot] scale must be 0 (fit the arm's reach) or a "
                              f"positive factor, got {self.scale}")
        if self.rate_hz < 0 or not 0 < self.speed_fraction <= 1:
            raise ConfigError(f"[export.robot] rate_hz must be 0 or more and speed_fraction "
                              f"in (0, 1], got {self.rate_hz} and {self.speed_fraction}")


@dataclass(frozen=True)
class ExportConfig:
    # what ``mocap run`` writes besides points3d.npz and its TRC (fbx only where bpy is)
    formats: tuple[str, ...] = ("bvh", "fbx")
    bvh_units: str = "m"            # or "cm"
    rig_names: str = "blender"      # bone names: blender (thigh.L) or mixamo (mixamorig:...)
    rig_ik_iterations: int = 0      # refinement steps of the rig fit (rigs/rig_fit.py)
    blend: bool = False             # also save skeleton.blend with the cameras (fbx)
    robot: RobotConfig = field(default_factory=RobotConfig)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.formats) - set(FORMATS))
        if unknown:
            raise ConfigError(f"[export] unknown format(s) {', '.join(unknown)}; known: "
                              f"{', '.join(FORMATS)}")
        if self.bvh_units not in ("m", "cm") or self.rig_names not in ("blender", "mixamo"):
            raise ConfigError(f"[export] bvh_units must be m or cm and rig_names blender or "
                              f"mixamo, got '{self.bvh_units}' and '{self.rig_names}'")


def parse_formats(text: str) -> tuple[str, ...]:
    """``"bvh,fbx"`` -> ("bvh", "fbx"); ConfigError naming an unknown one."""
    formats = tuple(dict.fromkeys(f.strip().lower() for f in text.split(",") if f.strip()))
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ConfigError(f"--format: unknown format(s) {', '.join(unknown) or '(none given)'}; "
                          f"give one or more of {', '.join(FORMATS)}, separated by commas")
    return formats
