"""Initial camera and board poses from board views, linked over a camera graph.

1. Per camera and frame, the board's pose from its corners (IPPE on undistorted points; both of
   a planar view's solutions are kept, with a reprojection check).
2. A graph whose nodes are cameras and whose edges weigh how many corners two cameras saw of the
   board in the same frames (every such frame counts).
3. Camera poses along the maximum spanning tree from the best-linked camera; each edge's relative
   pose is a robust average over its shared frames (chordal rotation mean, outliers dropped).
4. Per frame, the board pose (from any camera's view) that best fits every camera seeing it.
The world frame is the root camera's until ``calibration.world_frame`` moves it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import cv2
import networkx as nx
import numpy as np
from numpy.typing import NDArray

from calibration.camera import Camera
from calibration.detections import BoardDetections
from calibration.errors import CameraGraphError

FloatArray = NDArray[np.float64]

MIN_POSE_CORNERS = 6


@dataclass(frozen=True)
class BoardPoses:
    """Board-to-world poses per frame: ``x_world = R @ x_board + t``.

    Attributes:
        frames: (F,) frame indices, increasing.
        R: (F, 3, 3) rotations.
        t: (F, 3) translations in metres.
    """

    frames: NDArray[np.int64]
    R: FloatArray
    t: FloatArray

    def corners(self, object_points: FloatArray) -> FloatArray:
        """(F, K, 3) world positions of the board's (K, 3) corners."""
        return np.einsum("fij,kj->fki", self.R, object_points) + self.t[:, None]


@dataclass(frozen=True)
class ViewPoses:
    """Board-to-camera poses of one camera's views, ``x_cam = R @ x_board + t``.

    Attributes:
        frames: (N,) frame indices of the views that passed the reprojection check.
        R, t: (N, 2, 3, 3), (N, 2, 3) the two IPPE solutions, the better first.
        rms: (N, 2) reprojection RMS of each solution, pixels.
        n_corners: (N,) corners seen.
    """

    frames: NDArray[np.int64]
    R: FloatArray
    t: FloatArray
    rms: FloatArray
    n_corners: NDArray[np.int64]


def ippe_poses(camera: Camera, object_points: FloatArray, xy: FloatArray) -> BoardPoses:
    """The board's pose (board to camera) in each of V views, xy (V, K, 2) pixels NaN where
    unseen, by IPPE on the undistorted corners; identity and 1 m ahead where it fails."""
    ideal = camera.undistort(xy)
    R, t = np.tile(np.eye(3), (xy.shape[0], 1, 1)), np.tile([0.0, 0.0, 1.0], (xy.shape[0], 1))
    for v, p in enumerate(ideal):
        seen = np.isfinite(p[:, 0])
        ok, rvec, tvec = cv2.solvePnP(object_points[seen], p[seen], np.eye(3), np.zeros(5),
                                      flags=cv2.SOLVEPNP_IPPE)
        if ok:
            R[v], t[v] = cv2.Rodrigues(rvec)[0], tvec.ravel()
    return BoardPoses(np.arange(xy.shape[0]), R, t)


def board_poses_in_camera(det: BoardDetections, camera: Camera, object_points: FloatArray, *,
                          max_rms_px: float = 3.0) -> ViewPoses:
    """The board's pose in every view of one camera (views that fit worse are left out).

    Args:
        det: xy (N, K, 2) pixels, NaN where unseen.
        camera: its intrinsics.
        object_points: (K, 3) board corners, z = 0.
        max_rms_px: a view whose better pose leaves a larger RMS than this (or than 3 times the
            camera's median) is dropped.
    """
    ideal = camera.undistort(det.xy)                                      # (N, K, 2) at z = 1
    focal = float(np.sqrt(camera.K[0, 0] * camera.K[1, 1]))
    n = det.n_corners
    R, t = np.tile(np.eye(3), (n.size, 2, 1, 1)), np.zeros((n.size, 2, 3))
    rms = np.full((n.size, 2), np.inf)
    for i in np.flatnonzero(n >= MIN_POSE_CORNERS):
        seen = np.isfinite(ideal[i, :, 0])
        ok, rvecs, tvecs, errors = cv2.solvePnPGeneric(
            object_points[seen], ideal[i, seen], np.eye(3), None, flags=cv2.SOLVEPNP_IPPE)
        for j in range(min(int(ok), 2)):
            R[i, j] = cv2.Rodrigues(rvecs[j])[0]
            t[i, j] = tvecs[j].ravel()
            rms[i, j] = float(np.ravel(errors)[j]) * focal
    swap = np.flatnonzero(rms[:, 1] < rms[:, 0])
    R[swap], t[swap], rms[swap] = R[swap, ::-1], t[swap, ::-1], rms[swap, ::-1]
    good = np.isfinite(rms[:, 0]) & (t[:, 0, 2] > 0)
    limit = max(max_rms_px, 3.0 * float(np.median(rms[good, 0]))) if good.any() else max_rms_px
    good &= rms[:, 0] <= limit
    rms[:, 1] = np.where(t[:, 1, 2] > 0, rms[:, 1], np.inf)
    return ViewPoses(det.frames[good], R[good], t[good], rms[good], n[good])


def camera_graph(views: Mapping[str, ViewPoses | BoardDetections]) -> nx.Graph:
    """Cameras as nodes; an edge wherever two cameras saw the board in the same frame.

    Args:
        views: per camera, its posed views (or its detections: anything with ``frames`` (N,)
            and ``n_corners`` (N,)).

    Edge attributes: ``weight`` = sum over shared frames of the smaller corner count,
    ``frames`` = number of shared frames.
    """
    graph = nx.Graph()
    graph.add_nodes_from(views)
    names = list(views)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            _, ia, ib = np.intersect1d(views[a].frames, views[b].frames, return_indices=True)
            if ia.size:
                weight = np.minimum(views[a].n_corners[ia], views[b].n_corners[ib]).sum()
                graph.add_edge(a, b, weight=float(weight), frames=int(ia.size))
    return graph


def check_connected(graph: nx.Graph, detections: Mapping[str, BoardDetections]) -> None:
    """Raise CameraGraphError naming the groups of cameras that share no board view.

    The suggested link is the pair of cameras, one from each group, whose board views came
    closest in time (the board was near both, just not seen by both at once).
    """
    groups = sorted((sorted(g) for g in nx.connected_components(graph)), key=lambda g: g[0])
    if len(groups) < 2:
        return
    best, gap = ("", ""), np.inf
    for gi, group in enumerate(groups):
        for other in groups[gi + 1:]:
            for a in group:
                for b in other:
                    fa, fb = detections[a].frames, detections[b].frames
                    if fa.size and fb.size:
                        d = np.abs(fa[:, None] - fb[None, :]).min()
                        if d < gap:
                            best, gap = (a, b), d
    listed = [_name_list(g) for g in groups]
    where = f", e.g. between {best[0]} and {best[1]}" if np.isfinite(gap) else ""
    lead = (f"cameras {listed[0]} and cameras {listed[1]} share no board view" if len(groups) == 2
            else f"the cameras fall into {len(groups)} groups that share no board view "
                 f"({'; '.join(listed)})")
    raise CameraGraphError(f"{lead}: film the board where a camera of each group sees it at "
                           f"the same time{where}")


def relative_pose(a: ViewPoses, b: ViewPoses) -> tuple[FloatArray, FloatArray, int]:
    """Robust average of camera a -> camera b (``x_b = R @ x_a + t``) over shared frames.

    Rotation: chordal mean, then again over the frames within max(3 x median, 1 degree) of it.
    Translation: per frame from the averaged rotation; mean of those within max(3 x median,
    1 cm) of the coordinate-wise median.

    Returns:
        R (3, 3), t (3,), number of frames kept.
    """
    _, ia, ib = np.intersect1d(a.frames, b.frames, return_indices=True)
    Ra, ta, Rb, tb = a.R[ia, 0], a.t[ia, 0], b.R[ib, 0], b.t[ib, 0]
    weight = np.minimum(a.n_corners[ia], b.n_corners[ib]).astype(float)
    Rab = Rb @ np.swapaxes(Ra, 1, 2)                                     # (S, 3, 3)
    R = _chordal_mean(Rab, weight)
    dev = _angle_between(Rab, R)
    keep = dev <= max(3.0 * np.median(dev), np.radians(1.0))
    R = _chordal_mean(Rab[keep], weight[keep])
    tab = tb - np.einsum("ij,sj->si", R, ta)                             # (S, 3)
    tdev = np.linalg.norm(tab - np.median(tab[keep], axis=0), axis=1)
    keep &= tdev <= max(3.0 * np.median(tdev[keep]), 0.01)
    t = np.average(tab[keep], axis=0, weights=weight[keep])
    return R, t, int(keep.sum())


def initial_camera_poses(graph: nx.Graph, views: Mapping[str, ViewPoses],
                         root: str | None = None) -> tuple[dict[str, tuple[FloatArray,
                                                                            FloatArray]], str]:
    """World-to-camera (R, t) of every camera along the maximum spanning tree of ``graph``.

    Args:
        root: the camera whose frame becomes the world frame (default: the best linked one).
    Returns:
        ({name: (R (3, 3), t (3,))}, root).
    """
    if root is None:
        root = max(graph.nodes, key=lambda n: graph.degree(n, weight="weight"))
    tree = nx.maximum_spanning_tree(graph, weight="weight")
    poses = {root: (np.eye(3), np.zeros(3))}
    for parent, child in nx.bfs_edges(tree, root):
        R_pc, t_pc, _ = relative_pose(views[parent], views[child])
        Rp, tp = poses[parent]
        poses[child] = (R_pc @ Rp, R_pc @ tp + t_pc)
    return poses, root


def initial_board_poses(views: Mapping[str, ViewPoses], cameras: Mapping[str, Camera],
                        detections: Mapping[str, BoardDetections],
                        object_points: FloatArray) -> BoardPoses:
    """Per frame seen by any camera, the candidate board pose (either IPPE solution of any
    camera's view, moved to the world frame) that best fits all cameras that saw the board.

    Args:
        cameras: posed cameras (R, t world to camera) with their intrinsics.
    """
    names = list(views)
    cand = [_world_candidates(views[n], cameras[n]) for n in names]
    c_frame = np.concatenate([c[0] for c in cand])                        # (Q,)
    c_R, c_t = np.concatenate([c[1] for c in cand]), np.concatenate([c[2] for c in cand])
    score = np.zeros(c_frame.size)
    for name in names:                                                    # each camera judges
        det, cam = detections[name], cameras[name]
        pos = np.searchsorted(det.frames, c_frame)
        pos = np.minimum(pos, det.frames.size - 1)
        has = det.frames[pos] == c_frame                                 # (Q,) camera saw it
        ideal = cam.undistort(det.xy[pos[has]])                           # (q, K, 2)
        world = np.einsum("qij,kj->qki", c_R[has], object_points) + c_t[has, None]
        cam_xyz = world @ cam.R.T + cam.t
        proj = cam_xyz[..., :2] / np.where(cam_xyz[..., 2:] > 1e-6, cam_xyz[..., 2:], np.nan)
        err = np.linalg.norm(proj - ideal, axis=-1) * cam.K[0, 0]         # (q, K) pixels
        per_view = np.sqrt(np.nanmean(np.where(np.isnan(err) & np.isfinite(ideal[..., 0]),
                                               1e4, err) ** 2, axis=1))
        score[has] += np.minimum(np.nan_to_num(per_view, nan=50.0), 50.0)
    order = np.lexsort((score, c_frame))
    first = np.r_[True, c_frame[order][1:] != c_frame[order][:-1]]
    pick = order[first]
    return BoardPoses(c_frame[pick], c_R[pick], c_t[pick])


# --- helpers ------------------------------------------------------------------------------
def _world_candidates(v: ViewPoses, cam: Camera) -> tuple[NDArray[np.int64], FloatArray,
                                                          FloatArray]:
    """Both solutions of every view as board-to-world poses: frames (2N,), R (2N, 3, 3), t."""
    usable = np.isfinite(v.rms)                                           # (N, 2)
    frames = np.repeat(v.frames[:, None], 2, axis=1)[usable]
    Rcb, tcb = v.R[usable], v.t[usable]                                   # board to camera
    R = np.einsum("ji,njk->nik", cam.R, Rcb)                              # R_c^T R_cb
    t = np.einsum("ji,nj->ni", cam.R, tcb - cam.t)
    return frames, R, t


def _chordal_mean(R: FloatArray, weight: FloatArray) -> FloatArray:
    """The rotation closest (Frobenius) to the weighted mean of (S, 3, 3) rotations."""
    U, _, Vt = np.linalg.svd(np.einsum("s,sij->ij", weight, R))
    D = np.diag([1.0, 1.0, np.sign(np.linalg.det(U @ Vt))])
    return U @ D @ Vt


def _angle_between(R: FloatArray, R0: FloatArray) -> FloatArray:
    """(S,) angles in radians between (S, 3, 3) rotations and one (3, 3) rotation."""
    cos = (np.einsum("sij,ij->s", R, R0) - 1.0) / 2.0
    return np.arccos(np.clip(cos, -1.0, 1.0))


def _name_list(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
