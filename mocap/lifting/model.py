"""The lifter network: dilated temporal convolutions over a window of frames (after Pavllo et
al., VideoPose3D, 2019), from :mod:`mocap.lifting.features` input to root-relative 3D.

A window of ``receptive_field`` frames gives one frame's pose: the centre frame, or the last one
for the causal variant (live use: no frame from the future). Applied to a whole take at once,
the convolutions reuse every intermediate result, so a take costs one pass. Training on single
windows runs the same weights with strides in place of dilations (``one_frame``), which computes
only what the window's one output needs (VideoPose3D's trick: about 9x less work here).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from mocap.lifting.features import n_features


@dataclass(frozen=True)
class LifterShape:
    """The network's size: what a weights file must match to be loaded."""

    n_joints: int = 17
    channels: int = 384
    dilations: tuple[int, ...] = (3, 9)     # kernel 3 everywhere: 1 + 2 (1 + 3 + 9) = 27 frames
    causal: bool = False
    # the network underfits its varied training data (no dropout: 187.7 mm MPJPE on the
    # Pose2Sim cameras after 3,000 steps against 192.2 with 0.15)
    dropout: float = 0.0

    @property
    def receptive_field(self) -> int:
        return 1 + 2 * (1 + sum(self.dilations))

    def as_dict(self) -> dict:
        return {**asdict(self), "dilations": list(self.dilations)}


class TemporalLifter(nn.Module):
    """(B, T, 3 J + 6) features -> (B, T - receptive_field + 1, J, 3) root-relative metres."""

    def __init__(self, shape: LifterShape) -> None:
        super().__init__()
        self.shape = shape
        c = shape.channels
        # no batch normalisation: on this task it slowed training (a small network fitting
        # 50 batches: 71 mm after 800 steps with it, 47 mm without)
        self.expand = nn.Sequential(nn.Conv1d(n_features(shape.n_joints), c, 3), nn.ReLU(),
                                    nn.Dropout(shape.dropout))
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Conv1d(c, c, 3, dilation=d), nn.ReLU(), nn.Dropout(shape.dropout),
                          nn.Conv1d(c, c, 1), nn.ReLU(), nn.Dropout(shape.dropout))
            for d in shape.dilations)
        self.shrink = nn.Conv1d(c, 3 * shape.n_joints, 1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        x = self.expand(features.transpose(1, 2))                                # (B, C, T')
        for d, block in zip(self.shape.dilations, self.blocks, strict=True):
            # the residual is the part of x the dilated kernel's output lines up with
            skip = x[:, :, 2 * d:] if self.shape.causal else x[:, :, d:x.shape[2] - d]
            x = skip + block(x)
        return self._joints(self.shrink(x))

    def one_frame(self, windows: torch.Tensor) -> torch.Tensor:
        """(B, receptive_field, 3 J + 6) windows -> (B, J, 3): ``forward``'s one output, with
        each kernel's taps as a stride instead of a dilation."""
        x = self._strided(self.expand, windows.transpose(1, 2))                   # (B, C, 9)
        for block in self.blocks:
            skip = x[:, :, 2::3] if self.shape.causal else x[:, :, 1::3]
            x = skip + self._strided(block, x)
        return self._joints(self.shrink(x))[:, 0]

    @staticmethod
    def _strided(layers: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
        """``layers`` with its first (kernel 3) convolution applied at stride 3, undilated."""
        conv = layers[0]
        x = F.conv1d(x, conv.weight, conv.bias, stride=3)
        for layer in list(layers)[1:]:
            x = layer(x)
        return x

    def _joints(self, out: torch.Tensor) -> torch.Tensor:
        out = out.transpose(1, 2)                                                 # (B, T, 3J)
        return out.reshape(out.shape[0], out.shape[1], self.shape.n_joints, 3)
