"""Headless pictures of a :class:`~mocap.scene3d.Scene3D` with Open3D's offscreen renderer
(Filament; on a machine without a GPU it runs on the CPU through Mesa's Vulkan driver,
llvmpipe). Open3D is the optional ``viz`` extra: this module imports without it, and what needs
it raises :class:`VizUnavailableError` saying how to install it."""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import platform
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import cv2
import numpy as np
from numpy.typing import NDArray

from calibration.camera import Camera, CameraRig
from exporters.quiet import quiet_native_output
from mocap.errors import MocapError
from mocap.scene3d import Lines, Scene3D, SceneError, build_scene
from rigs.motion import Motion3D

STILL_SIZE = (480, 360)          # (width, height) px of a report still
VIEW_DIRECTION = np.array([0.55, -0.85, 0.45])   # from the motion towards the still's camera
LINE_WIDTH = {"frusta": 1.5, "floor": 1.0, "skeletons": 4.0}   # px
POINT_SIZE = 7.0                 # px, the skeletons' joints
BACKGROUND = (1.0, 1.0, 1.0, 1.0)
# Renders one lit pixel in a child process: a renderer that cannot start (no Vulkan/EGL
# driver) aborts its whole process, which must not be the caller's.
_PROBE = """
import numpy as np, open3d as o3d
from open3d.visualization import rendering
o3d.utility.set_verbosity_level(o3d.utility.VerbosityLevel.Error)
r = rendering.OffscreenRenderer(32, 32)
s = o3d.geometry.TriangleMesh.create_sphere(1.0)
m = rendering.MaterialRecord()
m.shader = "defaultUnlit"
m.base_color = [0.0, 0.0, 0.0, 1.0]
r.scene.add_geometry("s", s, m)
r.scene.set_background([1.0, 1.0, 1.0, 1.0])
r.setup_camera(60.0, [0.0, 0.0, 0.0], [0.0, 0.0, 4.0], [0.0, 1.0, 0.0])
raise SystemExit(0 if np.asarray(r.render_to_image())[16, 16].max() < 128 else 3)
"""


class VizUnavailableError(MocapError):
    """Open3D (the ``viz`` extra), its renderer or a display is missing."""


def require_open3d() -> ModuleType:
    """The ``open3d`` module; VizUnavailableError naming the extra when it is not installed."""
    if importlib.util.find_spec("open3d") is None:
        raise VizUnavailableError('open3d is not installed; install the viz extra: '
                                  'pip install -e ".[viz]"')
    import open3d

    open3d.utility.set_verbosity_level(open3d.utility.VerbosityLevel.Error)
    return open3d


def offscreen_renderer_works() -> bool:
    """Whether open3d is installed and its offscreen renderer draws here: tried in a child
    process (about 3 s) once per machine and setting, the answer kept in the user's cache folder
    under the open3d version, the Python and the graphics settings it depends on."""
    return importlib.util.find_spec("open3d") is not None and _renderer_draws()


@functools.cache
def _renderer_draws() -> bool:
    known = _probe_answer()
    if known.is_file():
        return known.read_text(encoding="ascii").strip() == "draws"
    try:
        done = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, timeout=120,
                              check=False)
        draws = done.returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False                                    # not kept: it may be a busy machine
    try:
        known.parent.mkdir(parents=True, exist_ok=True)
        temporary = known.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text("draws" if draws else "fails", encoding="ascii")
        temporary.replace(known)
    except OSError:
        pass                                            # a read-only home: probe again next time
    return draws


def _probe_answer() -> Path:
    """Where the probe's answer for this open3d, Python and graphics setting is kept."""
    from importlib.metadata import version

    setting = [version("open3d"), sys.executable, platform.node()] + [
        os.environ.get(k, "") for k in ("VK_ICD_FILENAMES", "VK_DRIVER_FILES", "EGL_PLATFORM",
                                        "LIBGL_ALWAYS_SOFTWARE")]
    key = hashlib.sha256("\n".join(setting).encode()).hexdigest()[:16]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "mocap" / f"open3d-offscreen-{key}"


def to_line_set(lines: Lines):                 # -> open3d.geometry.LineSet
    """Lines as an Open3D LineSet (points, lines, per-line colours)."""
    o3d = require_open3d()
    line_set = o3d.geometry.LineSet(o3d.utility.Vector3dVector(lines.points),
                                    o3d.utility.Vector2iVector(lines.lines.astype(np.int32)))
    line_set.colors = o3d.utility.Vector3dVector(lines.line_colors)
    return line_set


def to_point_cloud(lines: Lines):              # -> open3d.geometry.PointCloud
    """The points of ``lines`` with their colours as an Open3D PointCloud."""
    o3d = require_open3d()
    cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(lines.points))
    cloud.colors = o3d.utility.Vector3dVector(lines.point_colors)
    return cloud


def still_camera(points: NDArray[np.float64], size: tuple[int, int] = STILL_SIZE,
                 hfov_deg: float = 50.0) -> Camera:
    """A pinhole camera looking obliquely down (along -VIEW_DIRECTION) at ``points`` (N, 3)
    (NaN rows ignored), far enough that their bounding sphere fills about 80 % of the image."""
    known = np.asarray(points, dtype=float).reshape(-1, 3)
    known = known[np.isfinite(known).all(-1)]
    if not len(known):
        known = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 1.8]])
    low, high = known.min(0), known.max(0)
    centre, radius = (low + high) / 2, max(np.linalg.norm(high - low) / 2, 0.25)
    w, h = size
    f = 0.5 * w / np.tan(np.radians(hfov_deg) / 2)
    half_fov = np.arctan(0.5 * min(w, h) / f)                  # the narrower side
    distance = radius / np.sin(half_fov) / 0.8
    eye = centre + distance * VIEW_DIRECTION / np.linalg.norm(VIEW_DIRECTION)
    forward = (centre - eye) / np.linalg.norm(centre - eye)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)                             # VIEW_DIRECTION is not vertical
    R = np.stack([right, np.cross(forward, right), forward])   # OpenCV: x right, y down
    t = -R @ eye
    K = np.array([[f, 0.0, w / 2], [0.0, f, h / 2], [0.0, 0.0, 1.0]])
    return Camera("still", (w, h), K, np.zeros(5), R, t)


class SceneRenderer:
    """One Open3D offscreen renderer of a fixed image size, drawing scenes through pinhole
    cameras (distortion ignored); reuse it for many pictures (starting one costs ~0.3 s)."""

    def __init__(self, size: tuple[int, int] = STILL_SIZE) -> None:
        o3d = require_open3d()
        from open3d.visualization import rendering

        self._o3d, self._rendering, self.size = o3d, rendering, size
        with quiet_native_output():            # Filament's banner goes to fd 1
            self._renderer = rendering.OffscreenRenderer(*size)
        scene = self._renderer.scene
        scene.set_background(list(BACKGROUND))
        scene.show_skybox(False)
        scene.view.set_post_processing(False)  # no tone mapping: colours come out as given
        scene.view.set_color_grading(rendering.ColorGrading(
            rendering.ColorGrading.Quality.HIGH, rendering.ColorGrading.ToneMapping.LINEAR))

    def render(self, scene: Scene3D, camera: Camera) -> NDArray[np.uint8]:
        """(H, W, 3) RGB image of ``scene`` seen by ``camera`` (its size must be this
        renderer's)."""
        if tuple(camera.size) != tuple(self.size):
            raise SceneError(f"camera {camera.name} is {camera.size} px, the renderer "
                                      f"{self.size}; make a SceneRenderer of that size")
        o3d_scene = self._renderer.scene
        o3d_scene.clear_geometry()
        for name in ("frusta", "floor", "skeletons"):
            part: Lines = getattr(scene, name)
            if part.n_lines:
                o3d_scene.add_geometry(f"{name}_lines", to_line_set(part),
                                       self._material("unlitLine", LINE_WIDTH[name]))
        if scene.skeletons.n_points:
            o3d_scene.add_geometry("joints", to_point_cloud(scene.skeletons),
                                   self._material("defaultUnlit", POINT_SIZE))
        extrinsic = np.eye(4)
        extrinsic[:3, :3], extrinsic[:3, 3] = camera.R, camera.t
        # after the geometry: the camera's near and far planes come from the scene's bounds
        self._renderer.setup_camera(camera.K, extrinsic, *self.size)
        with quiet_native_output():
            return np.asarray(self._renderer.render_to_image()).copy()

    def _material(self, shader: str, size: float):
        material = self._rendering.MaterialRecord()
        material.shader, material.line_width, material.point_size = shader, size, size
        return material


def png(image: NDArray[np.uint8], caption: str = "") -> bytes:
    """PNG bytes of an (H, W, 3) RGB image, ``caption`` written in its top-left corner."""
    bgr = np.ascontiguousarray(image[..., ::-1])
    if caption:
        cv2.putText(bgr, caption, (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (40, 40, 40), 1,
                    cv2.LINE_AA)
    ok, encoded = cv2.imencode(".png", bgr)
    if not ok:
        raise VizUnavailableError("OpenCV could not encode a PNG image")
    return encoded.tobytes()


def render_stills(motion: Motion3D, frames: NDArray[np.int64], rig: CameraRig | None = None,
                  size: tuple[int, int] = STILL_SIZE) -> list[bytes]:
    """PNG images of ``frames`` of ``motion``: skeletons (lifted joints highlighted), floor grid
    and, given a rig, its camera frusta, all seen by one :func:`still_camera` framing the whole
    take; each captioned with its frame number and time."""
    camera = still_camera(motion.xyz.reshape(-1, 3), size)
    renderer = SceneRenderer(size)
    return [png(renderer.render(build_scene(motion, int(f), rig), camera),
                f"frame {f} ({f / motion.fps:.2f} s)") for f in frames]
