"""Rendered views of a calibration board in a virtual studio, with exact ground truth.

Each output pixel is integrated over ``supersample`` x ``supersample`` sub-pixel samples: every
sample is undistorted with the camera's own lens model, its ray is intersected with the board
plane and the board's print is looked up there. Pixel centres sit at integer coordinates
(OpenCV's convention), so :func:`true_corners` are the exact positions a perfect detector
reports. A double-sided board's back shows the mirror image of its front (see
``calibration.board``); a one-sided board seen from behind shows blank paper.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from calibration.board import Board
from calibration.camera import Camera, CameraRig
from calibration.rotations import rot_x, rot_y, rot_z

FloatArray = NDArray[np.float64]
_BLACK, _WHITE, _PAPER_BACK = 35.0, 215.0, 170.0     # grey levels of the print and its back


@dataclass(frozen=True)
class BoardTexture:
    """The board's print at high resolution with a paper margin.

    Attributes:
        image: (H, W) float32 grey levels; inverted boards are inverted margin included.
        px_per_metre: texture pixels per metre on the board.
        margin_px: width of the margin in texture pixels (the squares start there).
    """

    image: NDArray[np.float32]
    px_per_metre: float
    margin_px: int

    @classmethod
    def of(cls, board: Board, px_per_square: int = 96, margin_squares: float = 0.5
           ) -> BoardTexture:
        """The texture of ``board`` with ``margin_squares`` of paper around the squares."""
        m = round(margin_squares * px_per_square)
        img = board.image(px_per_square, inverted=False).astype(np.float32)
        img = np.pad(img, m, constant_values=255.0)
        if board.inverted:
            img = 255.0 - img
        img = _BLACK + (_WHITE - _BLACK) * img / 255.0
        return cls(img.astype(np.float32), px_per_square / board.square_size, m)

    def extent_m(self) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1) of the whole print (margin included) in board metres."""
        h, w = self.image.shape
        s = self.px_per_metre
        return -self.margin_px / s, -self.margin_px / s, (w - self.margin_px) / s, \
            (h - self.margin_px) / s


def board_trajectory(n_frames: int, seed: int = 0, *, board: Board | None = None,
                     center: tuple[float, float, float] = (0.0, 0.0, 1.1),
                     half_extent: tuple[float, float, float] = (0.7, 0.7, 0.35),
                     turns: float = 1.0, max_tilt_deg: float = 60.0, max_roll_deg: float = 25.0,
                     n_floor: int = 0) -> FloatArray:
    """Smooth board-to-world poses moving and turning through the capture volume.

    The board stays upright-ish and faces the horizon direction that turns ``turns`` full
    circles over the take (so every camera of a ring sees its front), tilted by up to
    ``max_tilt_deg`` and rolled in its plane by up to ``max_roll_deg``; its centre wanders
    inside ``center +- half_extent``. The last ``n_floor`` frames lie flat, face up, on the
    floor z = 0 (the board plane is the floor plane).

    Returns:
        (F, 4, 4) board-to-world transforms (board frame as in ``calibration.board``).
    """
    rng = np.random.default_rng(seed)
    size = board.size_m if board is not None else (0.3, 0.4)
    n_move = n_frames - n_floor
    s = np.linspace(0.0, 1.0, max(n_move, 1))
    centre = np.asarray(center) + np.asarray(half_extent) * _wander(rng, s, 3)
    tilt_x, tilt_y, roll = _wander(rng, s, 3).T
    limit = np.radians(max_tilt_deg) / np.sqrt(2)
    azimuth = rng.uniform(0, 2 * np.pi) + 2 * np.pi * turns * s
    R = _upright(azimuth) @ rot_x(limit * tilt_x) @ rot_y(limit * tilt_y) \
        @ rot_z(np.radians(max_roll_deg) * roll)                          # (F, 3, 3)
    poses = _poses(R, centre, size)[:n_move]
    if n_floor:
        psi = rng.uniform(0, 2 * np.pi, n_floor)
        x = np.stack([np.cos(psi), np.sin(psi), np.zeros(n_floor)], axis=1)
        z = np.broadcast_to([0.0, 0.0, -1.0], x.shape)
        Rf = np.stack([x, np.cross(z, x), z], axis=2)                        # (n_floor, 3, 3)
        cf = np.column_stack([rng.uniform(-0.4, 0.4, (n_floor, 2)), np.zeros(n_floor)])
        poses = np.concatenate([poses, _poses(Rf, cf + [center[0], center[1], 0.0], size)])
    return poses


def true_corners(camera: Camera, board: Board, pose: FloatArray) -> FloatArray:
    """Exact pixel positions of the board's corners in ``camera``.

    Args:
        pose: (4, 4) board-to-world transform.
    Returns:
        (K, 2) distorted pixels; NaN outside the image, behind the camera, or where a one-sided
        board turns its back to the camera.
    """
    world = board.object_points @ pose[:3, :3].T + pose[:3, 3]                # (K, 3)
    uv = camera.project(world)
    ok = camera.in_image(uv)
    if not board.double_sided and not _front_visible(camera, pose):
        ok[:] = False
    return np.where(ok[:, None], uv, np.nan)


def render_view(camera: Camera, board: Board, pose: FloatArray,
                texture: BoardTexture | None = None, rng: np.random.Generator | None = None, *,
                blur: float = 0.7, noise: float = 2.0, uneven_light: float = 0.25,
                occlusion: float = 0.0, background: NDArray[np.float32] | None = None,
                supersample: int = 3) -> NDArray[np.uint8]:
    """Render one grey image of the board seen by ``camera``.

    Args:
        pose: (4, 4) board-to-world transform.
        texture: the board's print (built from ``board`` when None; pass one to reuse it).
        rng: randomness of background, noise, lighting and occluder (seeded 0 when None).
        blur: Gaussian blur sigma in pixels (optics); 0 for none.
        noise: sensor noise standard deviation in grey levels.
        uneven_light: relative brightness change across the image (a linear gradient).
        occlusion: probability that a hand-like blob covers part of the board.
        background: (H, W) float32 grey background (random texture when None).
        supersample: sub-pixel samples per pixel side.
    Returns:
        (H, W) uint8 image of ``camera.size``.
    """
    rng = np.random.default_rng(0) if rng is None else rng
    texture = BoardTexture.of(board) if texture is None else texture
    w, h = camera.size
    img = (random_background(camera.size, rng) if background is None
           else background.astype(np.float32, copy=True))
    box = _board_box(camera, texture, pose)
    if box is not None:
        x0, y0, x1, y1 = box
        img[y0:y1, x0:x1] = _render_board(camera, board, pose, texture, box, supersample,
                                          img[y0:y1, x0:x1])
        if occlusion > 0 and rng.uniform() < occlusion:
            _draw_hand(img, camera, board, pose, rng)
    if uneven_light:
        a = rng.uniform(0, 2 * np.pi)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        ramp = ((xx - w / 2) * np.cos(a) + (yy - h / 2) * np.sin(a)) / (0.5 * np.hypot(w, h))
        img *= 1.0 + uneven_light * ramp
    if blur > 0:
        img = np.asarray(cv2.GaussianBlur(img, (0, 0), blur), np.float32)
    if noise > 0:
        img += rng.normal(0.0, noise, img.shape).astype(np.float32)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def random_background(size: tuple[int, int], rng: np.random.Generator) -> NDArray[np.float32]:
    """(H, W) float32 smooth random clutter (blobs at a few scales), grey levels 40..200."""
    w, h = size
    img = np.zeros((h, w), np.float32)
    for cell, weight in ((160, 1.0), (40, 0.5), (10, 0.25)):
        coarse = rng.uniform(-1, 1, (h // cell + 2, w // cell + 2)).astype(np.float32)
        img += weight * cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    return (120.0 + 45.0 * img).astype(np.float32)


def render_session(rig: CameraRig, board: Board, n_frames: int, out_dir: str | Path, *,
                   seed: int = 0, poses: FloatArray | None = None, fps: float = 30.0,
                   codec: str = "mp4v", occlusion: float = 0.2,
                   noise: float = 2.0, blur: float = 0.7, n_floor: int = 0,
                   clutter: bool = True) -> FloatArray:
    """Render one video per camera, ``out_dir/<camera>.mp4``, of the board moving through the
    studio (:func:`board_trajectory` unless ``poses`` is given).

    Args:
        codec: FourCC of the MP4 stream (``mp4v``: OpenCV reads it back, and corners detected
            in it stay within ~0.05 px RMS of the truth on 720p renders).
        clutter: a textured background (:func:`random_background`); False gives a plain grey
            one, which compresses to a fraction of the size (bundled sample sessions).
    Returns:
        (F, 4, 4) board-to-world poses of the frames.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if poses is None:
        poses = board_trajectory(n_frames, seed, board=board, n_floor=n_floor)
    texture = BoardTexture.of(board)
    for c, camera in enumerate(rig):
        rng = np.random.default_rng([seed, c])
        background = (random_background(camera.size, rng) if clutter
                      else np.full(camera.size[::-1], 110.0, np.float32))
        path = out / f"{camera.name}.mp4"
        tmp = out / f".{camera.name}.tmp.mp4"
        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter.fourcc(*codec), fps, camera.size,
                                 isColor=False)
        if not writer.isOpened():
            raise RuntimeError(f"OpenCV cannot write {codec} video to {tmp}")
        for pose in poses:
            writer.write(render_view(camera, board, pose, texture, rng, blur=blur, noise=noise,
                                     occlusion=occlusion, background=background))
        writer.release()
        tmp.replace(path)
    return poses


# --- rendering internals -------------------------------------------------------------------------
def _render_board(camera: Camera, board: Board, pose: FloatArray, texture: BoardTexture,
                  box: tuple[int, int, int, int], s: int, bg: NDArray[np.float32]
                  ) -> NDArray[np.float32]:
    """(h, w) pixels of ``box`` = (x0, y0, x1, y1) with the board composited over ``bg``."""
    x0, y0, x1, y1 = box
    offsets = (np.arange(s) + 0.5) / s - 0.5
    us = (np.arange(x0, x1)[:, None] + offsets).ravel()                      # (w * s,)
    vs = (np.arange(y0, y1)[:, None] + offsets).ravel()                      # (h * s,)
    uv = np.stack(np.meshgrid(us, vs), axis=-1)                              # (h s, w s, 2)
    bx, by, ahead = _pixel_to_board(camera, pose, uv)
    ex0, ey0, ex1, ey1 = texture.extent_m()
    inside = ahead & (bx >= ex0) & (bx < ex1) & (by >= ey0) & (by < ey1)
    ppm, m = texture.px_per_metre, texture.margin_px
    mapx = np.where(inside, bx * ppm + m - 0.5, -10).astype(np.float32)
    mapy = np.where(inside, by * ppm + m - 0.5, -10).astype(np.float32)
    values = cv2.remap(texture.image, mapx, mapy, cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_REPLICATE)
    if not board.double_sided and not _front_visible(camera, pose):
        values = np.full_like(values, _PAPER_BACK)
    h, w = y1 - y0, x1 - x0
    cover = inside.reshape(h, s, w, s).mean(axis=(1, 3)).astype(np.float32)
    board_sum = np.where(inside, values, 0.0).reshape(h, s, w, s).mean(axis=(1, 3))
    return (board_sum + (1.0 - cover) * bg).astype(np.float32)


def _pixel_to_board(camera: Camera, pose: FloatArray, uv: FloatArray
                    ) -> tuple[FloatArray, FloatArray, NDArray[np.bool_]]:
    """(..., 2) distorted pixels to board-plane coordinates bx, by (...,) and a mask (...,)
    of rays that meet the plane in front of the camera."""
    Rc = camera.R @ pose[:3, :3]
    tc = camera.R @ pose[:3, 3] + camera.t
    H = np.column_stack([Rc[:, 0], Rc[:, 1], tc])                           # plane -> camera
    xy = camera.undistort(uv)
    q = (xy @ np.linalg.inv(H)[:, :2].T) + np.linalg.inv(H)[:, 2]            # (..., 3)
    ahead = q[..., 2] > 1e-12
    with np.errstate(divide="ignore", invalid="ignore"):
        bx, by = q[..., 0] / q[..., 2], q[..., 1] / q[..., 2]
    return bx, by, ahead & np.isfinite(bx) & np.isfinite(by)


def _board_box(camera: Camera, texture: BoardTexture, pose: FloatArray
               ) -> tuple[int, int, int, int] | None:
    """Pixel box (x0, y0, x1, y1) around the print in ``camera``, or None when not in view."""
    ex0, ey0, ex1, ey1 = texture.extent_m()
    t = np.linspace(0.0, 1.0, 65)
    edge = np.concatenate([np.stack([ex0 + (ex1 - ex0) * t, np.full_like(t, y)], 1)
                           for y in (ey0, ey1)]
                          + [np.stack([np.full_like(t, x), ey0 + (ey1 - ey0) * t], 1)
                             for x in (ex0, ex1)])
    world = np.column_stack([edge, np.zeros(len(edge))]) @ pose[:3, :3].T + pose[:3, 3]
    cam = camera.world_to_camera(world)
    if (cam[:, 2] <= 0.05).any():
        return None if (cam[:, 2] <= 0.05).all() else (0, 0, *camera.size)
    uv = camera.project(world)
    w, h = camera.size
    x0, y0 = np.floor(np.nanmin(uv, axis=0)).astype(int) - 3
    x1, y1 = np.ceil(np.nanmax(uv, axis=0)).astype(int) + 4
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


def _draw_hand(img: NDArray[np.float32], camera: Camera, board: Board, pose: FloatArray,
               rng: np.random.Generator) -> None:
    """Paint a hand-like blob over one edge of the board, in place."""
    bw, bh = board.size_m
    side = rng.integers(4)
    along = rng.uniform(0.2, 0.8)
    point = [(along * bw, 0.0), (along * bw, bh), (0.0, along * bh), (bw, along * bh)][side]
    world = np.array([*point, 0.0]) @ pose[:3, :3].T + pose[:3, 3]
    centre = camera.project(world[None])[0]
    corners = camera.project(board.object_points[[0, -1]] @ pose[:3, :3].T + pose[:3, 3])
    if not np.isfinite(centre).all() or not np.isfinite(corners).all():
        return
    radius = 0.18 * np.linalg.norm(corners[1] - corners[0])
    mask = np.zeros(img.shape, np.uint8)
    axes = (max(int(radius), 2), max(int(radius * rng.uniform(0.5, 0.9)), 2))
    cv2.ellipse(mask, (int(centre[0]), int(centre[1])), axes, rng.uniform(0, 180), 0, 360,
                (255,), -1, cv2.LINE_AA)
    alpha = mask.astype(np.float32) / 255.0
    img *= 1.0 - alpha
    img += alpha * rng.uniform(110, 170)


def _front_visible(camera: Camera, pose: FloatArray) -> bool:
    """True when ``camera`` is on the front side of the board (against the board's +z)."""
    return float((camera.center - pose[:3, 3]) @ pose[:3, 2]) < 0


def _wander(rng: np.random.Generator, s: FloatArray, n: int) -> FloatArray:
    """(len(s), n) smooth random curves in [-1, 1] (a few sinusoids each)."""
    freq = rng.uniform(0.5, 2.5, (3, n))
    phase = rng.uniform(0, 2 * np.pi, (3, n))
    amp = rng.uniform(0.5, 1.0, (3, n))
    curves = (amp * np.sin(2 * np.pi * freq * s[:, None, None] + phase)).sum(axis=1)
    return curves / amp.sum(axis=0)


def _upright(azimuth: FloatArray) -> FloatArray:
    """(F, 3, 3) board axes (columns x, y, z in world) of an upright board whose front faces
    the horizontal direction ``azimuth`` (F,)."""
    n = np.stack([np.cos(azimuth), np.sin(azimuth), np.zeros_like(azimuth)], axis=1)
    z = -n
    y = np.broadcast_to([0.0, 0.0, -1.0], z.shape)
    x = np.cross(y, z)
    return np.stack([x, y, z], axis=2)


def _poses(R: FloatArray, centre: FloatArray, size: tuple[float, float]) -> FloatArray:
    """(F, 4, 4) transforms with rotation R (F, 3, 3) placing the board's centre at centre."""
    half = np.array([size[0] / 2, size[1] / 2, 0.0])
    T = np.tile(np.eye(4), (len(R), 1, 1))
    T[:, :3, :3] = R
    T[:, :3, 3] = centre - R @ half
    return T
