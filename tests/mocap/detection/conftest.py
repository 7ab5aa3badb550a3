"""Tiny ONNX models the detection tests build themselves (never a download)."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest


def _fixed(outputs: Sequence[np.ndarray]):
    """A torch module that outputs fixed arrays whatever the image (the input still feeds the
    graph)."""
    torch = pytest.importorskip("torch")

    class Fixed(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            for i, o in enumerate(outputs):
                self.register_parameter(f"out{i}", torch.nn.Parameter(
                    torch.as_tensor(o, dtype=torch.float32), requires_grad=False))

        def forward(self, x):
            zero = x.mean() * 0
            return tuple(getattr(self, f"out{i}") + zero for i in range(len(outputs)))

    return Fixed()


def export(module, path: Path, input_shape: tuple[int, ...], n_outputs: int,
           dynamic_batch: bool = False) -> Path:
    """``module`` as an ONNX file at ``path`` with input 'image' and outputs 'out0', ..."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")            # torch.onnx.export writes through it
    names = [f"out{i}" for i in range(n_outputs)]
    axes = {"image": {0: "n"}, **{n: {0: "n"} for n in names}} if dynamic_batch else None
    with warnings.catch_warnings():                  # the TorchScript exporter is deprecated
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(module.eval(), torch.zeros(input_shape), str(path), dynamo=False,
                          input_names=["image"], output_names=names, dynamic_axes=axes)
    return path


@pytest.fixture
def fixed_model(tmp_path: Path) -> Callable[..., Path]:
    """``fixed_model(outputs, input_shape, name)``: an ONNX model giving ``outputs`` for any
    image of ``input_shape`` (batch 1)."""
    def make(outputs: Sequence[np.ndarray], input_shape: tuple[int, ...],
             name: str = "model.onnx") -> Path:
        return export(_fixed(outputs), tmp_path / name, input_shape, len(outputs))
    return make


@pytest.fixture
def export_onnx(tmp_path: Path) -> Callable[..., Path]:
    """``export_onnx(module, input_shape, n_outputs, name, dynamic_batch)``: a torch module as
    an ONNX file in the test's folder."""
    def make(module, input_shape: tuple[int, ...], n_outputs: int = 1, name: str = "model.onnx",
             dynamic_batch: bool = False) -> Path:
        return export(module, tmp_path / name, input_shape, n_outputs, dynamic_batch)
    return make
