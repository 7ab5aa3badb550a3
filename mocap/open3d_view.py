"""The desktop 3D view of a take in an Open3D window: camera frusta, floor grid and the animated
skeletons. Keys: space plays/pauses, right/left arrow steps one frame, L toggles the highlight
of lifted joints. The key handling and the per-frame geometry are pure functions (tested); the
window itself needs a display."""

from __future__ import annotations

import os
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from calibration.camera import CameraRig
from mocap.open3d_render import (
    LINE_WIDTH,
    POINT_SIZE,
    VIEW_DIRECTION,
    VizUnavailableError,
    require_open3d,
    to_line_set,
    to_point_cloud,
)
from mocap.scene3d import Lines, build_scene, skeleton_lines
from rigs.motion import Motion3D

# GLFW key codes, which Open3D's VisualizerWithKeyCallback passes on
KEY_SPACE, KEY_RIGHT, KEY_LEFT, KEY_L = 32, 262, 263, ord("L")
HELP = "space: play/pause   left/right: step a frame   L: lifted joints highlight"


class DisplayUnavailableError(VizUnavailableError):
    """No display to open the desktop window on."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"cannot open the desktop 3D window: {reason}; open the browser viewer "
                         "instead (mocap view SESSION) or run this on a machine with a display")


@dataclass(frozen=True)
class ViewerState:
    """Where the desktop view is: the frame shown, whether it plays, the lifted highlight."""

    frame: int = 0
    playing: bool = False
    highlight_lifted: bool = True


def on_key(state: ViewerState, key: int, n_frames: int) -> ViewerState:
    """The state after pressing ``key`` (a GLFW code); stepping wraps around the take's
    ``n_frames`` and pauses playback; unknown keys change nothing."""
    if key == KEY_SPACE:
        return replace(state, playing=not state.playing)
    if key in (KEY_RIGHT, KEY_LEFT):
        step = 1 if key == KEY_RIGHT else -1
        return replace(state, frame=(state.frame + step) % n_frames, playing=False)
    if key == KEY_L:
        return replace(state, highlight_lifted=not state.highlight_lifted)
    return state


def play(state: ViewerState, elapsed_s: float, fps: float, n_frames: int) -> ViewerState:
    """The state ``elapsed_s`` seconds of playback later (whole frames at ``fps``, wrapping
    around); unchanged while paused."""
    if not state.playing:
        return state
    return replace(state, frame=(state.frame + int(elapsed_s * fps)) % n_frames)


def frame_geometry(motion: Motion3D, state: ViewerState) -> Lines:
    """The skeletons the view shows in ``state``: the frame's joints and bones, lifted joints
    highlighted or not as the state says."""
    return skeleton_lines(motion, state.frame, state.highlight_lifted)[0]


def update_skeleton(line_set: Any, cloud: Any, lines: Lines) -> None:
    """Put ``lines`` into the window's Open3D skeleton LineSet (bones) and PointCloud (joints)."""
    o3d = require_open3d()
    line_set.points = o3d.utility.Vector3dVector(lines.points)
    line_set.lines = o3d.utility.Vector2iVector(lines.lines.astype(np.int32))
    line_set.colors = o3d.utility.Vector3dVector(lines.line_colors)
    cloud.points = o3d.utility.Vector3dVector(lines.points)
    cloud.colors = o3d.utility.Vector3dVector(lines.point_colors)


def display_problem() -> str | None:
    """Why no window can open on this Linux session (None when a Wayland socket or an X server
    answers). Checked up front: without a display, Open3D's Visualizer silently renders
    offscreen and its window loop never ends."""
    wayland = os.environ.get("WAYLAND_DISPLAY")
    if wayland:
        socket_path = Path(os.environ.get("XDG_RUNTIME_DIR", ""), wayland)
        if socket_path.is_socket():
            return None
    display = os.environ.get("DISPLAY")
    if not display:
        return "neither DISPLAY nor WAYLAND_DISPLAY is set" + (
            f" (WAYLAND_DISPLAY={wayland} has no socket)" if wayland else "")
    host, _, rest = display.rpartition(":")
    number = rest.split(".")[0]
    if not number.isdigit():
        return f"DISPLAY={display} is not of the form [host]:number"
    if host in ("", "unix"):
        if Path(f"/tmp/.X11-unix/X{number}").is_socket():
            return None
        return f"no X server on DISPLAY={display} (no socket /tmp/.X11-unix/X{number})"
    try:
        socket.create_connection((host, 6000 + int(number)), timeout=2).close()
    except OSError as e:
        return f"no X server answers on DISPLAY={display} ({e})"
    return None


def show_desktop(motion: Motion3D, rig: CameraRig | None = None, *, title: str = "mocap",
                 start_frame: int = 0, depth: float = 0.5) -> None:
    """Open the desktop window on ``motion`` (frusta of ``rig``'s cameras, ``depth`` metres
    deep); returns when the user closes it.

    Raises:
        VizUnavailableError: open3d (the ``viz`` extra) is not installed.
        DisplayUnavailableError: there is no display (e.g. over SSH or in CI).
    """
    o3d = require_open3d()
    problem = display_problem() if sys.platform.startswith("linux") else None
    if problem:
        raise DisplayUnavailableError(problem)
    state = ViewerState(frame=start_frame % motion.n_frames)
    scene = build_scene(motion, state.frame, rig, depth=depth)
    bones, joints = to_line_set(scene.skeletons), to_point_cloud(scene.skeletons)
    vis = _window(o3d, title, [to_line_set(scene.frusta), to_line_set(scene.floor), bones, joints],
                  look_at=_centre(motion))
    shown, last = state, time.monotonic()            # what the window shows, and since when

    def show(new: ViewerState) -> bool:
        nonlocal shown
        shown = new
        update_skeleton(bones, joints, frame_geometry(motion, new))
        vis.update_geometry(bones)
        vis.update_geometry(joints)
        return True

    def key_callback(key: int) -> Callable[[Any], bool]:
        def callback(_vis: Any) -> bool:
            nonlocal last
            last = time.monotonic()
            return show(on_key(shown, key, motion.n_frames))
        return callback

    def tick(_vis: Any) -> bool:
        nonlocal last
        now = time.monotonic()
        later = play(shown, now - last, motion.fps, motion.n_frames)
        if later.frame == shown.frame:
            return False
        last = now
        return show(later)

    for key in (KEY_SPACE, KEY_RIGHT, KEY_LEFT, KEY_L):
        vis.register_key_callback(key, key_callback(key))
    vis.register_animation_callback(tick)
    try:
        vis.run()
    finally:
        vis.destroy_window()


def _window(o3d: Any, title: str, geometries: list[Any], look_at: NDArray[np.float64]) -> Any:
    """An Open3D key-callback window showing ``geometries`` on white, its title the key help,
    looking obliquely down at ``look_at`` (3,) (the reports' stills' direction), Z up."""
    vis = o3d.visualization.VisualizerWithKeyCallback()
    if not vis.create_window(window_name=f"{title}: {HELP}", width=1280, height=800):
        raise DisplayUnavailableError("Open3D could not create a window")
    for geometry in geometries:
        vis.add_geometry(geometry)
    options = vis.get_render_option()
    options.point_size, options.line_width = POINT_SIZE, LINE_WIDTH["skeletons"]
    options.background_color = np.ones(3)
    view = vis.get_view_control()
    view.set_up([0.0, 0.0, 1.0])
    view.set_front(VIEW_DIRECTION)
    view.set_lookat(look_at)
    view.set_zoom(0.45)
    return vis


def _centre(motion: Motion3D) -> NDArray[np.float64]:
    """(3,) mean of the take's known joints; the origin when none is known."""
    known = motion.xyz[np.isfinite(motion.xyz).all(-1)]                      # (K, 3)
    return known.mean(axis=0) if len(known) else np.zeros(3)
