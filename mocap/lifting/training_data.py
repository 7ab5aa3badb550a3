"""Training pairs for the lifter, made from motion capture: windows of a clip's 3D keypoints,
varied (bone lengths, mirrored, turned), filmed by random but realistic virtual cameras
(:func:`mocap.synthetic.studio.studio_rig`: heights, distances, focal lengths and lens
distortion), and spoiled as a detector spoils 2D (noise, dropouts, confident outliers, left/right
swaps; the lens decides what is in the image, the noise is drawn in pixels of the camera's
focal length); the input is what :func:`mocap.lifting.features.input_features` makes of the 2D, the
target the true root-relative camera coordinates of the window's output frame.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from mocap.lifting.features import (
    ROOT_JOINTS,
    camera_up,
    input_features,
    lift_skeleton,
    root_relative,
)
from mocap.synthetic.studio import studio_rig
from rigs.skeleton import Skeleton

FloatArray = NDArray[np.float64]
IMAGE_SIZES = ((1280, 720), (1920, 1080), (640, 480), (1080, 1920))
CAMERAS_PER_BATCH = 16
BODY_M = 1.8                # a body's height, for framing


@dataclass(frozen=True)
class Spoiling:
    """How far the training 2D and bodies stray from the truth (ranges drawn per window)."""

    noise_px: tuple[float, float] = (0.0, 4.0)          # Gaussian pixel noise, std per axis
    dropout: tuple[float, float] = (0.0, 0.15)          # joints not detected
    outlier_rate: float = 0.03                           # joints confidently elsewhere...
    outlier_size: float = 0.15                           # ...by this times the body's size
    swap_rate: float = 0.02                              # frames with left and right exchanged
    # each bone, +- this fraction. The whole body keeps the clips' size: one view cannot tell a
    # small person near from a tall one far, and bodies scaled 0.8-1.2 taught the network to
    # guess the size from the perspective: 12-16 % too large at the Pose2Sim studio's 3.2 m.
    # Runs scale the lifted pose by the take (subject height, floor, triangulated joints).
    bone_scale: float = 0.08
    camera_distance_m: tuple[float, float] = (2.0, 8.0)   # a batch's cameras within 10 % of one
    camera_height_m: tuple[float, float] = (0.3, 3.0)
    camera_roll_deg: float = 30.0                        # about the optical axis, either way
    # std of a window's place about the point the cameras aim at, in camera distances: people
    # walk about a studio, to its cameras and out of their views
    place: float = 0.3
    # share of the image's height a standing body spans: cameras frame the people they film
    framing: tuple[float, float] = (0.3, 0.9)


def sample_batch(clips: list[FloatArray], rng: np.random.Generator, batch: int,
                 receptive_field: int, causal: bool, spoiling: Spoiling = Spoiling()
                 ) -> tuple[FloatArray, FloatArray]:
    """One batch of training pairs.

    Args:
        clips: each (F, J, 3) world keypoints (Z up, metres) of the lift set, F >= 1.
        receptive_field: frames per window; the output frame is its centre (last if causal).
    Returns:
        inputs (B, receptive_field, 3 J + 6) and targets (B, J, 3) root-relative metres.
    """
    skeleton = lift_skeleton()
    world = _windows(clips, rng, batch, receptive_field,
                     skeleton.indices(ROOT_JOINTS))                             # (B, T, J, 3)
    world = _vary_bodies(world, rng, spoiling, skeleton)
    distance = rng.uniform(*spoiling.camera_distance_m)
    world[..., :2] += rng.normal(0.0, spoiling.place * distance, (batch, 1, 1, 2))
    size = IMAGE_SIZES[rng.integers(len(IMAGE_SIZES))]
    focal = np.array(spoiling.framing) * size[1] * distance / BODY_M
    rig = studio_rig(CAMERAS_PER_BATCH, radius=(0.9 * distance, 1.1 * distance),
                     height=spoiling.camera_height_m, target=(0.0, 0.0, 1.0), size=size,
                     focal_px=(float(focal[0]), float(focal[1])),
                     roll_deg=spoiling.camera_roll_deg, seed=int(rng.integers(2**31)))
    which = rng.integers(len(rig), size=batch)                                 # camera per window
    ideal = np.full(world.shape[:-1] + (2,), np.nan)
    camera_xyz = np.empty_like(world)
    focal = np.empty(batch)
    up = np.empty((batch, 3))
    for c, camera in enumerate(rig):
        mine = which == c
        camera_xyz[mine] = camera.world_to_camera(world[mine])
        inside = camera.in_image(camera.project(world[mine]))          # the lens decides this
        ideal[mine] = np.where(inside[..., None], camera_xyz[mine][..., :2]
                               / camera_xyz[mine][..., 2:], np.nan)
        focal[mine] = camera.K[0, 0]
        up[mine] = camera_up(camera)
    ideal = _spoil(ideal, rng, spoiling, skeleton.mirror, 1.0 / focal)
    out = receptive_field - 1 if causal else receptive_field // 2
    return input_features(ideal, up), root_relative(camera_xyz[:, out], skeleton)


def _windows(clips: list[FloatArray], rng: np.random.Generator, batch: int, length: int,
             root: list[int]) -> FloatArray:
    """(B, length, J, 3) windows drawn in proportion to the clips' lengths, edge frames repeated
    where a window runs past a clip's end, each moved so its root's mean is over the origin."""
    sizes = np.array([len(c) for c in clips])
    clip = rng.choice(len(clips), size=batch, p=sizes / sizes.sum())
    start = (rng.random(batch) * (sizes[clip] + length - 1)).astype(int) - (length - 1)
    frames = np.clip(start[:, None] + np.arange(length), 0, sizes[clip][:, None] - 1)
    world = np.stack([clips[c][f] for c, f in zip(clip, frames, strict=True)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)                       # hips unseen
        centre = np.nan_to_num(np.nanmean(world[..., root, :].mean(-2), axis=1))  # (B, 3)
    return world - np.array([1.0, 1.0, 0.0]) * centre[:, None, None]


def _vary_bodies(world: FloatArray, rng: np.random.Generator, spoiling: Spoiling,
                 skeleton: Skeleton) -> FloatArray:
    """Bones scaled (each, both sides alike), half the windows mirrored, every window turned
    about the vertical axis."""
    n = len(world)
    bone = 1.0 + rng.uniform(-spoiling.bone_scale, spoiling.bone_scale, (n, len(skeleton)))
    bone = (bone + bone[:, skeleton.mirror]) / 2                               # both sides alike
    varied = world.copy()
    for j in skeleton.top_down:
        p = skeleton.parents[j]
        if p >= 0:
            varied[:, :, j] = varied[:, :, p] + bone[:, None, j, None] * (world[:, :, j]
                                                                          - world[:, :, p])
    mirrored = rng.random(n) < 0.5
    varied[mirrored] = varied[mirrored][:, :, skeleton.mirror] * np.array([-1.0, 1.0, 1.0])
    angle = rng.uniform(0, 2 * np.pi, n)
    cos, sin = np.cos(angle), np.sin(angle)
    turn = np.zeros((n, 3, 3))
    turn[:, 0, 0], turn[:, 0, 1], turn[:, 1, 0], turn[:, 1, 1], turn[:, 2, 2] = (
        cos, -sin, sin, cos, 1.0)
    return np.einsum("nij,ntkj->ntki", turn, varied)


def _spoil(ideal: FloatArray, rng: np.random.Generator, spoiling: Spoiling,
           mirror: NDArray[np.int64], pixel: FloatArray) -> FloatArray:
    """(B, T, J, 2) ideal image coordinates with a detector's errors (``pixel`` (B,): a pixel's
    size in them, 1 / focal length); NaN where not detected."""
    n, t, j = ideal.shape[:3]
    swapped = rng.random((n, t)) < spoiling.swap_rate
    ideal = np.where(swapped[..., None, None], ideal[:, :, mirror], ideal)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)                       # frames unseen
        size = np.nanmax(np.nanmax(ideal, -2) - np.nanmin(ideal, -2), -1)    # (B, T)
    noise = (rng.uniform(*spoiling.noise_px, n) * pixel)[:, None, None, None]
    ideal = ideal + noise * rng.standard_normal(ideal.shape)
    outlier = rng.random((n, t, j)) < spoiling.outlier_rate
    jump = spoiling.outlier_size * np.nan_to_num(size)[..., None, None] * rng.standard_normal(
        ideal.shape)
    ideal = np.where(outlier[..., None], ideal + jump, ideal)
    dropped = rng.random((n, t, j)) < rng.uniform(*spoiling.dropout, n)[:, None, None]
    return np.where(dropped[..., None], np.nan, ideal)
