"""Writing a :class:`~mocap.scene3d.Scene3D` for other 3D tools: PLY (points and edges, as
Open3D's LineSet, MeshLab and CloudCompare read it; world frame, Z up) and glTF 2.0 (.gltf with
its buffer inlined, or .glb) with one node of LINES and POINTS per part (Y up, as glTF requires:
world (x, y, z) is written as (x, z, -y), so Blender's importer puts Z up again). Both are
written atomically."""

from __future__ import annotations

import base64
import json
import struct
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from exporters.atomic import atomic_output
from mocap.scene3d import Lines, Scene3D, SceneError

FloatArray = NDArray[np.float64]
_PARTS = ("frusta", "floor", "skeletons")
_Z_UP_TO_Y_UP = np.array([[1.0, 0, 0], [0, 0, 1], [0, -1, 0]])   # glTF = M @ world
_FLOAT, _UINT = 5126, 5125                                         # glTF componentType codes
_LINES, _POINTS = 1, 0                                             # glTF primitive modes


def write_scene(scene: Scene3D, path: str | Path) -> Path:
    """Write the scene as PLY (``.ply``) or glTF (``.glb``, ``.gltf``) by the path's suffix."""
    path = Path(path)
    if path.suffix.lower() == ".ply":
        return write_scene_ply(scene, path)
    if path.suffix.lower() in (".gltf", ".glb"):
        return write_scene_gltf(scene, path)
    raise SceneError(f"{path}: a scene is written as .ply, .glb or .gltf, not "
                     f"'{path.suffix}'; rename the output")


def write_scene_ply(scene: Scene3D, path: str | Path) -> Path:
    """Write the merged scene as a binary PLY: ``vertex`` (x, y, z as double, RGB as uchar) and
    ``edge`` (vertex1, vertex2 as int, RGB as uchar); returns the path."""
    lines, path = scene.merged(), Path(path)
    vertex = np.zeros(lines.n_points, dtype=[("p", "<f8", 3), ("c", "u1", 3)])
    vertex["p"], vertex["c"] = lines.points, _bytes(lines.point_colors)
    edge = np.zeros(lines.n_lines, dtype=[("i", "<i4", 2), ("c", "u1", 3)])
    edge["i"], edge["c"] = lines.lines, _bytes(lines.line_colors)
    header = ("ply\nformat binary_little_endian 1.0\ncomment mocap scene: frusta, floor, skeletons\n"
              f"element vertex {lines.n_points}\nproperty double x\nproperty double y\n"
              "property double z\nproperty uchar red\nproperty uchar green\nproperty uchar blue\n"
              f"element edge {lines.n_lines}\nproperty int vertex1\nproperty int vertex2\n"
              "property uchar red\nproperty uchar green\nproperty uchar blue\nend_header\n")
    with atomic_output(path) as tmp:
        tmp.write_bytes(header.encode("ascii") + vertex.tobytes() + edge.tobytes())
    return path


def write_scene_gltf(scene: Scene3D, path: str | Path) -> Path:
    """Write the scene as glTF 2.0: ``.glb`` (binary) or ``.gltf`` (JSON, buffer inlined as a
    data URI). Nodes ``frusta``, ``floor`` and ``skeletons`` each hold a LINES primitive (two
    vertices per line, in the line's colour) and a POINTS primitive (the points, in theirs)."""
    path = Path(path)
    if path.suffix.lower() not in (".gltf", ".glb"):
        raise SceneError(f"{path}: a glTF scene is written as .gltf or .glb, not "
                         f"'{path.suffix}'; rename the output")
    document, blob = _gltf_document(scene)
    with atomic_output(path) as tmp:
        if path.suffix.lower() == ".gltf":
            uri = "data:application/octet-stream;base64," + base64.b64encode(blob).decode()
            document["buffers"] = [{"byteLength": len(blob), "uri": uri}]
            tmp.write_text(json.dumps(document), encoding="utf-8")
        else:
            document["buffers"] = [{"byteLength": len(blob)}]
            tmp.write_bytes(_glb(document, blob))
    return path


def read_scene_gltf(path: str | Path) -> dict[str, tuple[FloatArray, FloatArray]]:
    """Read back what :func:`write_scene_gltf` wrote.

    Returns:
        Per node name: its points (N, 3) and its line segments (L, 2, 3), in world coordinates
        (metres, Z up; float32 precision).
    """
    path = Path(path)
    try:
        if path.suffix.lower() == ".glb":
            data = path.read_bytes()
            length = struct.unpack_from("<I", data, 12)[0]
            document = json.loads(data[20:20 + length])
            blob = data[20 + length + 8:]
        else:
            document = json.loads(path.read_text(encoding="utf-8"))
            blob = base64.b64decode(document["buffers"][0]["uri"].split(",", 1)[1])
        return {node["name"]: _node_geometry(document, blob, node["mesh"])
                for node in document["nodes"]}
    except (OSError, ValueError, KeyError, IndexError, struct.error) as e:
        raise SceneError(f"{path}: not a scene written by mocap ({e}); write it again with "
                         "write_scene_gltf") from e


def _gltf_document(scene: Scene3D) -> tuple[dict, bytes]:
    """The glTF JSON (without ``buffers``) and its binary buffer."""
    chunks: list[bytes] = []
    document: dict = {"asset": {"version": "2.0", "generator": "mocap"}, "scene": 0,
                      "scenes": [{"nodes": list(range(len(_PARTS)))}], "nodes": [],
                      "meshes": [], "accessors": [], "bufferViews": []}

    def accessor(values: np.ndarray, kind: str) -> int:
        offset = sum(len(c) for c in chunks)
        raw = np.ascontiguousarray(values, dtype="<f4").tobytes()
        chunks.append(raw + b"\0" * (-len(raw) % 4))
        document["bufferViews"].append({"buffer": 0, "byteOffset": offset, "byteLength": len(raw)})
        entry = {"bufferView": len(document["bufferViews"]) - 1, "componentType": _FLOAT,
                 "count": len(values), "type": "VEC3"}
        if kind == "POSITION" and len(values):
            entry.update(min=values.min(0).tolist(), max=values.max(0).tolist())
        document["accessors"].append(entry)
        return len(document["accessors"]) - 1

    for name in _PARTS:
        part: Lines = getattr(scene, name)
        ends = (part.points[part.lines] @ _Z_UP_TO_Y_UP.T).reshape(-1, 3)        # (2L, 3)
        primitives = []
        for mode, positions, colors in (
                (_LINES, ends, np.repeat(part.line_colors, 2, axis=0)),
                (_POINTS, part.points @ _Z_UP_TO_Y_UP.T, part.point_colors)):
            if len(positions):
                primitives.append({"mode": mode, "attributes": {
                    "POSITION": accessor(positions.astype(np.float32), "POSITION"),
                    "COLOR_0": accessor(colors, "COLOR_0")}})
        document["meshes"].append({"name": name, "primitives": primitives})
        document["nodes"].append({"name": name, "mesh": len(document["meshes"]) - 1})
    return document, b"".join(chunks)


def _glb(document: dict, blob: bytes) -> bytes:
    """A binary glTF: header, JSON chunk (space-padded), BIN chunk (zero-padded)."""
    text = json.dumps(document).encode("utf-8")
    text += b" " * (-len(text) % 4)
    blob += b"\0" * (-len(blob) % 4)
    total = 12 + 8 + len(text) + 8 + len(blob)
    return (struct.pack("<4sII", b"glTF", 2, total) + struct.pack("<I4s", len(text), b"JSON")
            + text + struct.pack("<I4s", len(blob), b"BIN\0") + blob)


def _node_geometry(document: dict, blob: bytes, mesh: int) -> tuple[FloatArray, FloatArray]:
    """One mesh's POINTS (N, 3) and LINES (L, 2, 3) in world coordinates (Z up)."""
    found = {_LINES: np.zeros((0, 3)), _POINTS: np.zeros((0, 3))}
    for primitive in document["meshes"][mesh]["primitives"]:
        found[primitive["mode"]] = _accessor(document, blob, primitive["attributes"]["POSITION"])
    world = {mode: xyz @ _Z_UP_TO_Y_UP for mode, xyz in found.items()}   # M^-1 = M^T
    return world[_POINTS], world[_LINES].reshape(-1, 2, 3)


def _accessor(document: dict, blob: bytes, index: int) -> np.ndarray:
    entry = document["accessors"][index]
    view = document["bufferViews"][entry["bufferView"]]
    values = np.frombuffer(blob, "<f4", 3 * entry["count"], view.get("byteOffset", 0))
    return values.reshape(-1, 3).astype(np.float64)


def _bytes(colors: np.ndarray) -> np.ndarray:
    """(N, 3) RGB in [0, 1] to uint8."""
    return np.clip(np.round(255 * np.asarray(colors)), 0, 255).astype(np.uint8)
