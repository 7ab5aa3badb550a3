"""Lifter weights files: the network's state and what it was made for, in one torch file.

A file holds the network's shape (:class:`mocap.lifting.model.LifterShape`), the joint names it
reads and answers, the state dict, and how it was made (command, seed, motion files, held-out
clips, evaluation numbers) so a user can tell what a file is and reproduce it.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from pathlib import Path

import torch

from exporters.atomic import atomic_output
from mocap.errors import InputError
from mocap.lifting.features import lift_skeleton
from mocap.lifting.model import LifterShape, TemporalLifter

SHIPPED = Path(__file__).resolve().parent / "data" / "lifter.pt"
FORMAT = "mocap-lifter-2"       # 2: the log size and the up direction joined the inputs


@dataclass
class Lifter:
    """A network ready to run (eval mode) and its provenance."""

    network: TemporalLifter
    joints: tuple[str, ...]
    made: dict = field(default_factory=dict)        # command, seed, clips, held out, scores


def save_lifter(lifter: Lifter, path: Path) -> Path:
    """Write ``path`` whole or not at all."""
    state = {"format": FORMAT, "shape": lifter.network.shape.as_dict(),
             "joints": list(lifter.joints), "made": lifter.made,
             "state": lifter.network.state_dict()}
    with atomic_output(path) as tmp:
        torch.save(state, tmp)
    return path


def load_lifter(path: Path | None = None) -> Lifter:
    """The lifter in ``path`` (the shipped one by default), in eval mode.

    Raises:
        InputError: the file is missing, not a lifter file, or made for other joints.
    """
    path = SHIPPED if path is None else Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no lifter weights there; give a file written by "
                         "'mocap lifter train' (or leave the option out to use the shipped "
                         "weights)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError) as exc:
        raise InputError(f"{path}: not a lifter weights file ({exc.__class__.__name__}: "
                         f"{exc}); write one with 'mocap lifter train'") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise InputError(f"{path}: not a lifter weights file of this version ({FORMAT}); "
                         "write one with 'mocap lifter train'")
    joints = tuple(state["joints"])
    expected = lift_skeleton().joints
    if joints != expected:
        raise InputError(f"{path}: weights for the joints {', '.join(joints)}; this version's "
                         f"lifter reads {lift_skeleton().name} ({', '.join(expected)}); "
                         "train weights for it with 'mocap lifter train'")
    shape = LifterShape(**{**state["shape"], "dilations": tuple(state["shape"]["dilations"])})
    network = TemporalLifter(shape)
    network.load_state_dict(state["state"])
    return Lifter(network.eval(), joints, dict(state["made"]))
