"""A take's 3D scene as plain arrays: camera frusta, a floor grid and the skeletons of a frame,
each a set of points and the segments joining them (world frame, metres, Z up). Open3D, the
PLY/glTF writers and the report's stills draw these arrays; nothing here needs them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from calibration.camera import CameraRig
from mocap.errors import MocapError
from rigs.motion import LIFTED, Motion3D

FloatArray = NDArray[np.float64]

# RGB in [0, 1]: one colour per person slot (matplotlib's tab10), cycled
PERSON_COLORS = np.array([[0.12, 0.47, 0.71], [1.00, 0.50, 0.05], [0.17, 0.63, 0.17],
                          [0.84, 0.15, 0.16], [0.58, 0.40, 0.74], [0.55, 0.34, 0.29],
                          [0.89, 0.47, 0.76], [0.50, 0.50, 0.50], [0.74, 0.74, 0.13],
                          [0.09, 0.75, 0.81]])
LIFTED_COLOR = np.array([1.0, 0.0, 0.85])      # joints guessed by the lifting network
FRUSTUM_COLOR = np.array([0.25, 0.25, 0.30])
FLOOR_COLOR = np.array([0.78, 0.78, 0.78])
MAX_GRID_LINES = 201                           # per axis: the step grows beyond this
UP_MARK = 0.3                    # the up triangle's height, as a share of the image's height
# each frustum: apex (0) to the four far corners (1-4: top left, top right, bottom right,
# bottom left), the far rectangle, then the up triangle's tip (5) joined to the top corners
_FRUSTUM_EDGES = np.array([[0, 1], [0, 2], [0, 3], [0, 4], [1, 2], [2, 3], [3, 4], [4, 1],
                           [1, 5], [2, 5]])
_FRUSTUM_POINTS = 6


class SceneError(MocapError):
    """The 3D scene cannot be built from what it was given."""


@dataclass(frozen=True, eq=False)
class Lines:
    """Points and straight segments between pairs of them.

    Attributes:
        points: (N, 3) world positions in metres (finite).
        lines: (L, 2) indices into ``points``.
        line_colors: (L, 3) RGB in [0, 1].
        point_colors: (N, 3) RGB in [0, 1].
    """

    points: FloatArray
    lines: NDArray[np.int64]
    line_colors: FloatArray
    point_colors: FloatArray

    def __post_init__(self) -> None:
        n, m = len(self.points), len(self.lines)
        shapes = {"points": (n, 3), "lines": (m, 2), "line_colors": (m, 3),
                  "point_colors": (n, 3)}
        for name, shape in shapes.items():
            if np.shape(getattr(self, name)) != shape:
                raise SceneError(f"Lines.{name} must be {shape}, got {np.shape(getattr(self, name))}")
        if m and (self.lines.min() < 0 or self.lines.max() >= n):
            raise SceneError(f"Lines.lines index points 0..{n - 1}, got {self.lines.min()}.."
                             f"{self.lines.max()}")

    @property
    def n_points(self) -> int:
        return len(self.points)

    @property
    def n_lines(self) -> int:
        return len(self.lines)

    @property
    def segments(self) -> FloatArray:
        """(L, 2, 3) the two end points of each line, in metres."""
        return self.points[self.lines].reshape(-1, 2, 3)

    @classmethod
    def concat(cls, parts: list[Lines]) -> Lines:
        """One set holding every part's points and lines (line indices shifted)."""
        offsets = np.cumsum([0] + [p.n_points for p in parts])[:-1]
        return cls(points=np.concatenate([p.points for p in parts]).reshape(-1, 3),
                   lines=np.concatenate([p.lines + o for p, o in zip(parts, offsets)]
                                        ).reshape(-1, 2).astype(np.int64),
                   line_colors=np.concatenate([p.line_colors for p in parts]).reshape(-1, 3),
                   point_colors=np.concatenate([p.point_colors for p in parts]).reshape(-1, 3))


@dataclass(frozen=True, eq=False)
class Scene3D:
    """What a 3D view of one frame shows.

    Attributes:
        frusta: 6 points (centre, the far image corners, the up triangle's tip) and 10 lines
            per camera (see :func:`camera_frusta`).
        floor: the grid on z = 0.
        skeletons: the frame's known joints (points) and bones (lines), every person.
        lifted: (N,) True for the points of ``skeletons`` the lifting network placed.
    """

    frusta: Lines
    floor: Lines
    skeletons: Lines
    lifted: NDArray[np.bool_]

    def merged(self) -> Lines:
        """Frusta, floor and skeletons as one set, in that order."""
        return Lines.concat([self.frusta, self.floor, self.skeletons])


def camera_frusta(rig: CameraRig, depth: float) -> Lines:
    """Each camera's viewing pyramid: its centre joined to the directions of its image corners
    out to ``depth`` metres along its optical axis, the far rectangle, and a triangle on the
    rectangle's top edge showing which way the image is up (its tip in the direction of the
    pixel UP_MARK of the image's height above the top edge's middle). Directions go through the
    lens distortion where the lens reaches the pixel, the ideal pinhole direction where not.

    Returns:
        Lines with 6 points per camera (centre, top left, top right, bottom right, bottom left,
        tip) and 10 lines per camera (4 edges, the rectangle, the triangle's 2 sides).
    """
    if not depth > 0:
        raise SceneError(f"frustum depth must be a positive number of metres, got {depth}")
    size = np.array([c.size for c in rig], dtype=float)                    # (C, 2) w, h
    corners = size[:, None] * np.array([[0, 0], [1, 0], [1, 1], [0, 1],
                                        [0.5, -UP_MARK]])                   # (C, 5, 2) px
    ideal = np.stack([(px - c.K[:2, 2]) @ np.linalg.inv(c.K[:2, :2]).T
                      for c, px in zip(rig, corners)])                      # (C, 5, 2) at z = 1
    rays = rig.undistort(corners)
    rays = np.where(np.isfinite(rays), rays, ideal)
    cam = depth * np.concatenate([rays, np.ones((*rays.shape[:2], 1))], -1)  # (C, 5, 3)
    R = np.stack([c.R for c in rig])                                        # (C, 3, 3)
    t = np.stack([c.t for c in rig])                                        # (C, 3)
    far = np.einsum("cji,ckj->cki", R, cam - t[:, None])                    # R^T (x - t)
    points = np.concatenate([rig.centers[:, None], far], axis=1)            # (C, 6, 3)
    offsets = _FRUSTUM_POINTS * np.arange(len(rig))[:, None, None]          # (C, 1, 1)
    lines = (_FRUSTUM_EDGES + offsets).reshape(-1, 2)                       # (10 C, 2)
    return Lines(points=points.reshape(-1, 3), lines=lines,
                 line_colors=np.tile(FRUSTUM_COLOR, (len(lines), 1)),
                 point_colors=np.tile(FRUSTUM_COLOR, (_FRUSTUM_POINTS * len(rig), 1)))


def floor_step(points: FloatArray, step: float = 0.5,
               max_lines: int = MAX_GRID_LINES) -> float:
    """The spacing in metres of :func:`floor_grid` over ``points`` (N, 3): ``step``, or where
    that draws more than ``max_lines`` lines on an axis, the smallest round spacing above it
    (1, 2 or 5 times a power of ten) that draws at most ``max_lines``.

    Raises:
        SceneError: ``step`` is not positive, or ``max_lines`` is below 5 (the fewest lines
            that cover an extent about a line, one step to either side).
    """
    return _grid_steps(points, step, max_lines)[0]


def floor_grid(points: FloatArray, step: float = 0.5, max_lines: int = MAX_GRID_LINES) -> Lines:
    """Lines on z = 0 covering the xy extent of ``points`` (N, 3) (NaN rows ignored) plus one
    step, on multiples of the step (:func:`floor_step`: ``step`` metres unless an axis would have
    more than ``max_lines`` lines); a 2 m square about the origin when no point is finite."""
    step, (low_k, high_k) = _grid_steps(points, step, max_lines)
    xs = np.arange(low_k[0], high_k[0] + 1) * step                             # (X,)
    ys = np.arange(low_k[1], high_k[1] + 1) * step                             # (Y,)
    x0, x1, y0, y1 = xs[0], xs[-1], ys[0], ys[-1]
    along_y = np.stack([np.stack([xs, np.full_like(xs, y0)], -1),
                        np.stack([xs, np.full_like(xs, y1)], -1)], 1)           # (X, 2, 2)
    along_x = np.stack([np.stack([np.full_like(ys, x0), ys], -1),
                        np.stack([np.full_like(ys, x1), ys], -1)], 1)           # (Y, 2, 2)
    ends = np.concatenate([along_y, along_x]).reshape(-1, 2)                    # (2L, 2)
    n = len(ends) // 2
    return Lines(points=np.concatenate([ends, np.zeros((2 * n, 1))], -1),
                 lines=np.arange(2 * n).reshape(n, 2),
                 line_colors=np.tile(FLOOR_COLOR, (n, 1)),
                 point_colors=np.tile(FLOOR_COLOR, (2 * n, 1)))


def _grid_steps(points: FloatArray, step: float, max_lines: int
                ) -> tuple[float, tuple[FloatArray, FloatArray]]:
    """The floor grid's step and its first and last lines per axis, (2,) each, in steps."""
    if not step > 0:
        raise SceneError(f"floor grid step must be a positive number of metres, got {step}")
    if max_lines < 5:
        raise SceneError(f"a floor grid's max_lines must be 5 or more (a line one step either "
                         f"side of the extent and one within), got {max_lines}")
    xy = np.asarray(points, dtype=float).reshape(-1, 3)[:, :2]
    xy = xy[np.isfinite(xy).all(-1)]
    low, high = (xy.min(0), xy.max(0)) if len(xy) else (np.full(2, -1.0), np.full(2, 1.0))
    while True:
        low_k, high_k = np.floor(low / step) - 1, np.ceil(high / step) + 1       # (2,) steps
        if (high_k - low_k + 1).max() <= max_lines:
            return step, (low_k, high_k)
        decade = 10.0 ** np.floor(np.log10(step))
        step = float(min(m * decade for m in (1, 2, 5, 10, 20) if m * decade > step * 1.000001))


def skeleton_lines(motion: Motion3D, frame: int, highlight_lifted: bool = True
                   ) -> tuple[Lines, NDArray[np.bool_]]:
    """The known joints of every person in ``frame`` as points and their bones (both ends
    known) as lines, in the person's colour; lifted joints (``source == 2``) in LIFTED_COLOR
    when ``highlight_lifted``.

    Returns:
        The Lines (N known joints, persons in order) and (N,) True where a joint was lifted.
    """
    if not -motion.n_frames <= frame < motion.n_frames:
        raise SceneError(f"frame {frame} is outside the take (0..{motion.n_frames - 1})")
    xyz = motion.xyz[frame]                                                   # (P, J, 3)
    seen = np.isfinite(xyz).all(-1)                                           # (P, J)
    index = np.cumsum(seen).reshape(seen.shape) - 1                           # (P, J)
    bones = np.asarray(motion.skeleton.bones, dtype=np.int64).reshape(-1, 2)  # (B, 2)
    both = seen[:, bones].all(-1)                                             # (P, B)
    person = np.broadcast_to(np.arange(motion.n_people)[:, None], seen.shape)  # (P, J)
    color = PERSON_COLORS[person % len(PERSON_COLORS)]                        # (P, J, 3)
    lifted = (np.asarray(motion.source)[frame] == LIFTED) & seen              # (P, J)
    point_colors = np.where((lifted & highlight_lifted)[..., None], LIFTED_COLOR, color)
    line_person = np.broadcast_to(np.arange(motion.n_people)[:, None], both.shape)[both]
    lines = Lines(points=xyz[seen], lines=index[:, bones][both].reshape(-1, 2),
                  line_colors=PERSON_COLORS[line_person % len(PERSON_COLORS)].reshape(-1, 3),
                  point_colors=point_colors[seen].reshape(-1, 3))
    return lines, lifted[seen]


def build_scene(motion: Motion3D, frame: int, rig: CameraRig | None = None, *,
                depth: float = 0.5, grid_step: float = 0.5,
                highlight_lifted: bool = True) -> Scene3D:
    """Frusta of ``rig``'s cameras (none without a rig), the floor grid under the cameras and
    the whole take, and the skeletons of ``frame``."""
    cameras = rig.centers if rig is not None and len(rig) else np.zeros((0, 3))
    frusta = camera_frusta(rig, depth) if rig is not None and len(rig) else _no_lines()
    floor = floor_grid(np.concatenate([cameras, motion.xyz.reshape(-1, 3)]), grid_step)
    skeletons, lifted = skeleton_lines(motion, frame, highlight_lifted)
    return Scene3D(frusta=frusta, floor=floor, skeletons=skeletons, lifted=lifted)


def _no_lines() -> Lines:
    return Lines(np.zeros((0, 3)), np.zeros((0, 2), np.int64), np.zeros((0, 3)), np.zeros((0, 3)))
