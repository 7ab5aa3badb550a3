"""Training the lifter on motion capture (:mod:`mocap.lifting.training_data`), reproducibly: the
same clips, settings and seed give the same weights on the same machine.

Making a batch (projecting windows through random cameras, spoiling the 2D) costs more than the
network's step on it, so a worker process makes them while the network trains: the batches
come in the order one seeded generator draws them, whatever the timing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from numpy.typing import NDArray

from mocap.errors import InputError
from mocap.lifting.features import LIFT_FPS, LIFT_SET
from mocap.lifting.model import LifterShape, TemporalLifter
from mocap.lifting.motion_files import find_motion_files, read_motion
from mocap.lifting.training_data import Spoiling, sample_batch

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 12_000
    batch: int = 256
    learning_rate: float = 1e-3
    final_learning_rate: float = 2e-5      # reached by exponential decay at the last step
    shape: LifterShape = field(default_factory=LifterShape)
    spoiling: Spoiling = field(default_factory=Spoiling)


def train_network(clips: list[FloatArray], config: TrainConfig, seed: int,
                  network: TemporalLifter | None = None,
                  report: Callable[[int, float], None] | None = None
                  ) -> tuple[TemporalLifter, list[float]]:
    """Train (or, given ``network``, go on training) on ``clips``.

    Args:
        clips: each (F, J, 3) world keypoints of the lift set at the take rate.
        seed: seeds the batches and the initial weights.
        report: called with (step, mean loss of the last 100 steps) every 100 steps.
    Returns:
        the network in eval mode and the mean loss (metres, mean joint distance) per 100 steps.
    """
    torch.manual_seed(seed)
    network = TemporalLifter(config.shape) if network is None else network
    optimiser = torch.optim.Adam(network.parameters(), lr=config.learning_rate)
    decay = (config.final_learning_rate / config.learning_rate) ** (1 / max(config.steps, 1))
    schedule = torch.optim.lr_scheduler.ExponentialLR(optimiser, decay)
    network.train()
    batches = _Batches(clips, config, network.shape, seed)
    loader = torch.utils.data.DataLoader(batches, batch_size=None, num_workers=1,
                                         prefetch_factor=4)
    threads = torch.get_num_threads()
    torch.set_num_threads(max(1, threads - 1))        # a core for the worker making batches
    try:
        history = _steps(network, loader, optimiser, schedule, config.steps, report)
    finally:
        torch.set_num_threads(threads)
    return network.eval(), history


def _steps(network: TemporalLifter, loader: torch.utils.data.DataLoader,
           optimiser: torch.optim.Optimizer, schedule: torch.optim.lr_scheduler.LRScheduler,
           steps: int, report: Callable[[int, float], None] | None) -> list[float]:
    """The training loop over ``loader``'s batches; the mean loss per 100 steps."""
    losses: list[float] = []
    history: list[float] = []
    for step, (inputs, targets) in enumerate(loader, start=1):
        predicted = network.one_frame(inputs.float())
        target = targets.float()
        known = torch.isfinite(target).all(-1)                 # a session's 3D may lack joints
        loss = (predicted - target.nan_to_num()).norm(dim=-1)[known].mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        losses.append(loss.item())
        if step % 100 == 0 or step == steps:
            history.append(float(np.mean(losses)))
            losses = []
            if report is not None:
                report(step, history[-1])
    return history


class _Batches(torch.utils.data.IterableDataset):
    """``config.steps`` training batches (inputs, targets) drawn by one generator seeded with
    ``seed``: made in the loader's one worker, in order."""

    def __init__(self, clips: list[FloatArray], config: TrainConfig, shape: LifterShape,
                 seed: int) -> None:
        self.clips, self.config, self.shape, self.seed = clips, config, shape, seed

    def __iter__(self) -> Iterator[tuple[FloatArray, FloatArray]]:
        rng = np.random.default_rng(self.seed)
        for _ in range(self.config.steps):
            yield sample_batch(self.clips, rng, self.config.batch, self.shape.receptive_field,
                               self.shape.causal, self.config.spoiling)


def load_clips(paths: list[Path], hold_out: tuple[str, ...] = (), fps: float = LIFT_FPS
               ) -> tuple[list[FloatArray], list[str]]:
    """The motion files under ``paths`` as (F, L, 3) world keypoints of the lift set at ``fps``,
    less those whose file stem is in ``hold_out``, and their file names.

    Raises:
        InputError: no motion file under ``paths`` (or all held out), or a file unreadable.
    """
    files = [f for f in find_motion_files(paths) if f.stem not in hold_out]
    if not files:
        raise InputError(f"every motion file under {', '.join(map(str, paths))} is held out "
                         f"({', '.join(hold_out)}); nothing is left to train on")
    clips = [read_motion(f, LIFT_SET, fps=fps).xyz[:, 0] for f in files]
    return clips, [f.name for f in files]
