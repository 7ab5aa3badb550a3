"""Model runtimes with one call: ONNX through onnxruntime, TFLite through ai-edge-litert.

``open_model(path)(x)`` runs a model with a single input on a batch ``x`` and gives its outputs
as a list of arrays, whatever the runtime; models with a fixed batch size are run in chunks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from mocap.errors import DetectionError

Shape = tuple[int | None, ...]          # None: a dimension the model leaves open
_ONNX_TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16,
               "tensor(double)": np.float64, "tensor(uint8)": np.uint8,
               "tensor(int8)": np.int8, "tensor(int32)": np.int32, "tensor(int64)": np.int64}


@dataclass(frozen=True)
class ModelRuntime:
    """A loaded model with one input.

    Attributes:
        path: the model file.
        input_shape: the input's shape, e.g. (None, 3, 256, 192); None where left open.
        input_dtype: the input's element type; inputs are cast to it (rounded for integers).
        output_names: the outputs, in the order the call returns them.
        output_shapes: their shapes as the model declares them (None where left open).
        run_batch: runs one batch of the model's own batch size (any size where it is open).
    """

    path: Path
    input_shape: Shape
    input_dtype: np.dtype
    output_names: tuple[str, ...]
    output_shapes: tuple[Shape, ...]
    run_batch: Callable[[NDArray], list[NDArray]]

    def __call__(self, x: NDArray) -> list[NDArray]:
        """The model's outputs for the batch ``x`` of shape ``input_shape`` (any batch size).

        Raises:
            DetectionError: if ``x`` does not have the shape the model takes.
        """
        want = self.input_shape
        if x.ndim != len(want) or any(w is not None and w != s
                                      for w, s in zip(want[1:], x.shape[1:])):
            raise DetectionError(f"{self.path}: the model takes input {_shape_text(want)}, was "
                                 f"given {_shape_text(x.shape)}; check 'input_size' and "
                                 f"'layout' in [detection.model]")
        x = _cast(x, self.input_dtype)
        batch = want[0]
        if batch is None or batch == len(x):
            return self.run_batch(x)
        pad = -len(x) % batch
        x = np.concatenate([x, np.zeros((pad, *x.shape[1:]), x.dtype)])
        parts = [self.run_batch(x[i:i + batch]) for i in range(0, len(x), batch)]
        return [np.concatenate(outs)[:len(x) - pad] for outs in zip(*parts)]

    def output_index(self, key: int | str) -> int:
        """The position of the output named ``key``, or at index ``key`` (negative from the end).

        Raises:
            DetectionError: naming the model's outputs, if there is no such output.
        """
        n = len(self.output_names)
        if isinstance(key, str) and key in self.output_names:
            return self.output_names.index(key)
        if isinstance(key, int) and -n <= key < n:
            return key % n
        raise DetectionError(f"{self.path}: no output {key!r}; the model's outputs are "
                             f"{', '.join(f'{i}: {nm}' for i, nm in enumerate(self.output_names))}"
                             f"; set 'output' in [detection.model] to one of them")


def open_model(path: Path, threads: int = 1) -> ModelRuntime:
    """Load an ONNX (.onnx) or TFLite (.tflite) model; CPU ``threads`` (cameras run in parallel
    processes, so 1 by default).

    Raises:
        DetectionError: if the file is missing, unreadable or has more than one input.
    """
    path = Path(path)
    if not path.is_file():
        raise DetectionError(f"model file {path} not found; [detection.model] 'file' is read "
                             f"from the session folder")
    opener = {".onnx": _open_onnx, ".tflite": _open_tflite}.get(path.suffix.lower())
    if opener is None:
        raise DetectionError(f"{path}: unknown model type; give an .onnx or .tflite file")
    return opener(path, threads)


def _open_onnx(path: Path, threads: int) -> ModelRuntime:
    import onnxruntime as ort
    from onnxruntime.capi import onnxruntime_pybind11_state as state

    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = threads
    try:
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except (RuntimeError, state.Fail, state.InvalidProtobuf, state.InvalidGraph,
            state.InvalidArgument, state.NoSuchFile, state.NotImplemented) as e:
        raise DetectionError(f"{path}: onnxruntime cannot read this model ({e}); check that it "
                             f"is a complete .onnx file") from e
    inputs = session.get_inputs()
    _one_input(path, [i.name for i in inputs])
    if inputs[0].type not in _ONNX_TYPES:
        raise DetectionError(f"{path}: input of type {inputs[0].type} is not supported")
    name, outputs = inputs[0].name, session.get_outputs()
    return ModelRuntime(
        path, _open_dims(inputs[0].shape), np.dtype(_ONNX_TYPES[inputs[0].type]),
        tuple(o.name for o in outputs), tuple(_open_dims(o.shape) for o in outputs),
        lambda x: session.run(None, {name: x}))


def _open_tflite(path: Path, threads: int) -> ModelRuntime:
    from mocap.detection.person_detector import tflite_interpreter

    interpreter = tflite_interpreter(path, threads)
    inputs, outputs = interpreter.get_input_details(), interpreter.get_output_details()
    _one_input(path, [i["name"] for i in inputs])
    index = inputs[0]["index"]

    def run(x: NDArray) -> list[NDArray]:
        interpreter.set_tensor(index, x)
        interpreter.invoke()
        return [interpreter.get_tensor(o["index"]).copy() for o in outputs]

    return ModelRuntime(path, tuple(int(d) for d in inputs[0]["shape"]),
                        np.dtype(inputs[0]["dtype"]), tuple(o["name"] for o in outputs),
                        tuple(tuple(int(d) for d in o["shape"]) for o in outputs), run)


def _one_input(path: Path, names: list[str]) -> None:
    if len(names) != 1:
        raise DetectionError(f"{path}: pose models with one input (the image) are supported; "
                             f"this one has {len(names)}: {', '.join(names)}")


def _open_dims(dims: list[int | str | None]) -> Shape:
    return tuple(d if isinstance(d, int) and d > 0 else None for d in dims)


def _cast(x: NDArray, dtype: np.dtype) -> NDArray:
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return np.clip(np.rint(x), info.min, info.max).astype(dtype)
    return np.ascontiguousarray(x, dtype=dtype)


def _shape_text(shape: Shape) -> str:
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"
