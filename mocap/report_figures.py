"""The figures of a take's report: plotly figures of :mod:`mocap.report_data`'s numbers, and
still images of the 3D skeleton drawn by Open3D's offscreen renderer (the ``viz`` extra) or,
without it, with matplotlib's 3D axes (when it is installed)."""

from __future__ import annotations

import importlib.util
import io

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from calibration.camera import CameraRig
from mocap.open3d_render import offscreen_renderer_works, render_stills
from mocap.report_data import (
    ReportInputs,
    body_bones,
    camera_joint_error,
    decimate,
    detection_rate,
    joint_views,
    nan_mean,
)
from rigs.motion import Motion3D

HEIGHT = 380                 # px of a figure of the page


def detection_figure(inputs: ReportInputs) -> go.Figure:
    """Share of joints each camera detected, over the take (decimated)."""
    kp = inputs.keypoints
    times, rate = decimate(detection_rate(kp, inputs.min_score).T, kp.fps)  # (T,), (T, C)
    fig = go.Figure([go.Scatter(x=times, y=100 * rate[:, c], mode="lines", name=name)
                     for c, name in enumerate(kp.cameras)])
    return _layout(fig, "time (s)", f"joints detected (score >= {inputs.min_score:g}) %")


def camera_joint_error_figure(inputs: ReportInputs) -> go.Figure:
    """Heatmap of the mean reprojection error of each camera's detections of each joint."""
    error = camera_joint_error(inputs)                                     # (C, J)
    fig = go.Figure(go.Heatmap(z=error, x=list(inputs.motion.skeleton.joints),
                               y=list(inputs.keypoints.cameras), colorscale="Viridis",
                               colorbar={"title": "px"}, hoverongaps=False))
    return _layout(fig, "joint", "camera")


def camera_error_figure(inputs: ReportInputs) -> go.Figure:
    """Mean reprojection error of each camera over all its detected joints."""
    error = nan_mean(camera_joint_error(inputs), axis=1)                   # (C,)
    fig = go.Figure(go.Bar(x=list(inputs.keypoints.cameras), y=error))
    return _layout(fig, "camera", "mean reprojection error (px)")


def views_figure(motion: Motion3D) -> go.Figure:
    """Mean number of views per joint (where triangulated) and how often it was triangulated."""
    views, share = joint_views(motion)
    joints = list(motion.skeleton.joints)
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(go.Bar(x=joints, y=views, name="mean views"))
    fig.add_trace(go.Scatter(x=joints, y=100 * share, mode="markers", name="triangulated %"),
                  secondary_y=True)
    fig = _layout(fig, "joint", "cameras")
    return fig.update_yaxes(title_text="% of frames and people", range=[0, 105],
                            secondary_y=True)


def bones_figure(motion: Motion3D) -> go.Figure:
    """Length of each rigid body bone over the take, one panel per person (decimated)."""
    names, lengths = body_bones(motion)                                    # (F, P, B') cm
    times, lengths = decimate(lengths, motion.fps)
    fig = make_subplots(rows=motion.n_people, cols=1, shared_xaxes=True,
                        subplot_titles=[f"person {p}" for p in motion.person_id])
    for p in range(motion.n_people):
        for b, name in enumerate(names):
            fig.add_trace(go.Scatter(x=times, y=lengths[:, p, b], mode="lines", name=name,
                                     legendgroup=name, showlegend=p == 0), row=p + 1, col=1)
    fig = _layout(fig, "time (s)", "bone length (cm)")
    return fig.update_layout(height=80 + 300 * motion.n_people)


def skeleton_stills(motion: Motion3D, frames: np.ndarray,
                    rig: CameraRig | None = None) -> list[bytes] | None:
    """PNG images of the 3D skeletons of ``frames`` (lifted joints highlighted, with the floor
    and ``rig``'s camera frusta) drawn by Open3D's offscreen renderer where the ``viz`` extra is
    installed and renders here; else by matplotlib; None when neither is installed."""
    if len(frames) and offscreen_renderer_works():
        return render_stills(motion, frames, rig)
    return _matplotlib_stills(motion, frames)


def _matplotlib_stills(motion: Motion3D, frames: np.ndarray) -> list[bytes] | None:
    """The skeletons of ``frames`` on matplotlib's 3D axes; None when it is not installed."""
    if importlib.util.find_spec("matplotlib") is None:
        return None
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    bones = np.asarray(motion.skeleton.bones)                               # (B, 2)
    known = motion.xyz[np.isfinite(motion.xyz).all(-1)]                     # (K, 3)
    low, high = known.min(axis=0), known.max(axis=0)
    images = []
    for frame in frames:
        fig = Figure(figsize=(4, 4), dpi=80)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot(projection="3d")
        for p in range(motion.n_people):
            segments = motion.xyz[frame, p][bones]                          # (B, 2, 3)
            for a, b in segments:
                ax.plot(*np.stack([a, b]).T, color=f"C{p}", linewidth=2)
            ax.scatter(*motion.xyz[frame, p].T, color=f"C{p}", s=8)
        ax.set(xlim=(low[0], high[0]), ylim=(low[1], high[1]), zlim=(low[2], high[2]),
               xlabel="x (m)", ylabel="y (m)", zlabel="z (m)",
               title=f"frame {frame} ({frame / motion.fps:.2f} s)")
        ax.set_box_aspect(np.maximum(high - low, 1e-3))
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        images.append(buffer.getvalue())
    return images


def _layout(fig: go.Figure, x_title: str, y_title: str) -> go.Figure:
    """The page's common look: size, margins, axis titles."""
    fig.update_layout(height=HEIGHT, margin={"l": 60, "r": 20, "t": 30, "b": 50},
                      template="plotly_white")
    fig.update_xaxes(title_text=x_title)
    return fig.update_yaxes(title_text=y_title)
