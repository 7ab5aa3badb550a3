"""``mocap lifter train | eval | finetune``: the lifter's commands, each returning the lines it
prints (the last line of ``eval`` is ``MPJPE <x> mm PA-MPJPE <y> mm frames <n>``)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from calibration.camera import CameraRig
from calibration.importers import import_calibration
from exporters.points3d import read_points3d
from mocap.errors import InputError
from mocap.lifting.evaluation import LiftScore, lift_errors, score
from mocap.lifting.features import LIFT_FPS, lift_skeleton
from mocap.lifting.motion_files import find_motion_files, read_motion
from mocap.lifting.train import TrainConfig, load_clips, train_network
from mocap.lifting.weights import Lifter, load_lifter, save_lifter
from mocap.synthetic.studio import studio_rig

FloatArray = np.ndarray
EVAL_NOISE_PX = 3.0
EVAL_CAMERAS = 4             # random studio cameras when no calibration is given
FINETUNE_STEPS = 2000
FINETUNE_RATE = 2e-4


def train_command(motion: list[Path], out: Path, *, seed: int, hold_out: tuple[str, ...],
                  config: TrainConfig, progress: bool = True) -> list[str]:
    """Train on the motion files under ``motion`` (less ``hold_out``), write ``out``, and score
    the held-out clips (random studio cameras, EVAL_NOISE_PX noise)."""
    clips, names = load_clips(motion, hold_out)
    report = (lambda step, loss: print(f"step {step}: loss {loss * 1000:.1f} mm", flush=True)
              ) if progress else None
    network, history = train_network(clips, config, seed, report=report)
    held = [f for f in find_motion_files(motion) if f.stem in hold_out]
    lifter = Lifter(network, lift_skeleton().joints, {
        "command": "mocap lifter train", "seed": seed, "steps": config.steps,
        "trained_on": names, "held_out": [f.name for f in held],
        "final_loss_mm": history[-1] * 1000})
    lines = [(f"trained on {len(names)} clips ({', '.join(names)}), {config.steps} steps, "
             f"final loss {history[-1] * 1000:.1f} mm")]
    if held:
        result = evaluate(lifter, [read_motion(f, fps=LIFT_FPS).xyz[:, 0] for f in held],
                          [LIFT_FPS] * len(held), None, EVAL_NOISE_PX, seed)
        lifter.made["held_out_score"] = result.line()
        lines.append(f"held out ({', '.join(f.name for f in held)}): {result.line()}")
    save_lifter(lifter, out)
    return lines + [f"wrote {out}"]


def eval_command(motion: list[Path], *, weights: Path | None, calibration: Path | None,
                 noise_px: float, seed: int) -> list[str]:
    """Score the lifter on every clip under ``motion`` (BVH, FBX, or points3d.npz: each person
    a clip, its joints the lifter's that the file holds)."""
    lifter = load_lifter(weights)
    clips, rates, names = [], [], []
    for path in _eval_files(motion):
        for world, fps, name in _clips_of(path):
            clips.append(world)
            rates.append(fps)
            names.append(name)
    rig = import_calibration(calibration) if calibration is not None else None
    lines = []
    for world, fps, name in zip(clips, rates, names, strict=True):
        lines.append(f"{name}: {evaluate(lifter, [world], [fps], rig, noise_px, seed).line()}")
    return lines + [evaluate(lifter, clips, rates, rig, noise_px, seed).line()]


def finetune_command(sessions: list[Path], out: Path, *, weights: Path | None, seed: int,
                     steps: int = FINETUNE_STEPS, progress: bool = True) -> list[str]:
    """Go on training the lifter on the triangulated 3D of multi-view sessions
    (``SESSION/output/points3d.npz``), every person a clip."""
    lifter = load_lifter(weights)
    clips, names = [], []
    for session in sessions:
        path = Path(session) / "output" / "points3d.npz"
        if not path.is_file():
            raise InputError(f"{session}: no output/points3d.npz; run 'mocap run {session}' "
                             "first (fine-tuning learns from a multi-view take's 3D)")
        for world, fps, name in _clips_of(path):
            clips.append(_resampled(world, fps))
            names.append(f"{Path(session).name}/{name}")
    config = TrainConfig(steps=steps, learning_rate=FINETUNE_RATE,
                         final_learning_rate=FINETUNE_RATE / 10, shape=lifter.network.shape)
    report = (lambda step, loss: print(f"step {step}: loss {loss * 1000:.1f} mm", flush=True)
              ) if progress else None
    network, history = train_network(clips, config, seed, network=lifter.network, report=report)
    made = {**lifter.made, "finetuned_on": names, "finetune_steps": steps}
    save_lifter(replace(lifter, network=network, made=made), out)
    return [(f"fine-tuned on {len(names)} clips ({', '.join(names)}), {steps} steps, final "
            f"loss {history[-1] * 1000:.1f} mm"), f"wrote {out}"]


def evaluate(lifter: Lifter, clips: list[FloatArray], rates: list[float],
             rig: CameraRig | None, noise_px: float, seed: int) -> LiftScore:
    """Every clip (F, L, 3) world at its rate, scored together: seen by ``rig``, the clip moved
    over the point its cameras look at (:func:`look_at_point`), or by random studio cameras
    aimed at the clip when None."""
    rng = np.random.default_rng(seed)
    errors, aligned = [], []
    for world, fps in zip(clips, rates, strict=True):
        if rig is None:
            cameras = _cameras_for(world, rng)
        else:
            cameras = rig
            shift = look_at_point(rig) - np.nanmean(world.reshape(-1, 3), axis=0)
            world = world + shift * np.array([1.0, 1.0, 0.0])
        e, a = lift_errors(lifter, world, cameras, noise_px, rng, fps)
        errors.append(e.reshape(-1, e.shape[-1]))
        aligned.append(a.reshape(-1, a.shape[-1]))
    return score(np.concatenate(errors), np.concatenate(aligned))


def look_at_point(rig: CameraRig) -> FloatArray:
    """(3,) the point nearest every camera's optical axis (least squares)."""
    axes = np.stack([cam.R[2] for cam in rig])                                   # (C, 3)
    across = np.eye(3) - axes[:, :, None] * axes[:, None, :]                      # (C, 3, 3)
    return np.linalg.solve(across.sum(0), np.einsum("cij,cj->i", across, rig.centers))


def _cameras_for(world: FloatArray, rng: np.random.Generator) -> CameraRig:
    centre = np.nanmean(world.reshape(-1, 3), axis=0)
    return studio_rig(EVAL_CAMERAS, target=(float(centre[0]), float(centre[1]), 1.0),
                      seed=int(rng.integers(2**31)))


def _eval_files(paths: list[Path]) -> list[Path]:
    """Motion files and points3d.npz files under ``paths``."""
    npz = [Path(p) for p in paths if Path(p).suffix == ".npz"]
    rest = [Path(p) for p in paths if Path(p).suffix != ".npz"]
    return npz + (find_motion_files(rest) if rest else [])


def _clips_of(path: Path) -> list[tuple[FloatArray, float, str]]:
    """(world (F, L, 3), fps, name) per person of a motion file or a points3d.npz (joints of the
    lifter it lacks are NaN)."""
    if path.suffix != ".npz":
        return [(read_motion(path, fps=LIFT_FPS).xyz[:, 0], LIFT_FPS, path.name)]
    motion = read_points3d(path)
    names = lift_skeleton().joints
    have = [motion.skeleton.joints.index(j) if j in motion.skeleton.joints else -1 for j in names]
    if sum(h >= 0 for h in have) < 4:
        raise InputError(f"{path}: its keypoints ({motion.skeleton.name}) hold too few of the "
                         f"lifter's joints ({', '.join(names)}) to score")
    xyz = np.where(np.array(have)[None, None, :, None] >= 0, motion.xyz[:, :, have], np.nan)
    return [(xyz[:, p], motion.fps, f"{path.name} person {pid}")
            for p, pid in enumerate(motion.person_id)]


def _resampled(world: FloatArray, fps: float) -> FloatArray:
    """(F, L, 3) at ``fps`` -> every k-th frame, k the whole number nearest fps / LIFT_FPS."""
    step = max(1, round(fps / LIFT_FPS))
    return world[::step]
