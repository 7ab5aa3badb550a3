"""Inverse kinematics on a rig: damped Gauss-Newton steps bringing bone heads onto targets.

Each step linearises, per frame, every measured head's position in a small rotation of every
bone (about the bone's head, world axes: it turns the bone's whole subtree) and in the root's
translation, and solves the damped normal equations of all frames at once. The damping keeps
directions no target sees (the roll of a straight limb, leaves) where they are.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
from numpy.typing import NDArray

from rigs.bvh import forward_kinematics
from rigs.quaternions import multiply, to_matrix
from rigs.rig import Rig

FloatArray = NDArray[np.float64]


def refine(rig: Rig, rotations: FloatArray, root: FloatArray, targets: FloatArray,
           iterations: int, damping: float) -> tuple[FloatArray, FloatArray]:
    """Local rotations and root translation moved to bring the heads onto ``targets``.

    Args:
        rig: the rig (B bones).
        rotations: (F, B, 4) local rotations to start from.
        root: (F, 3) root translation, metres; NaN frames are left as they are.
        targets: (F, B, 3) metres, where each head should be; NaN: no target.
        iterations: Gauss-Newton steps.
        damping: square metres added to the normal equations' diagonal.
    Returns:
        rotations (F, B, 4) and root (F, 3).
    """
    rotations, root = rotations.copy(), root.copy()
    placed = np.isfinite(root).all(-1)
    if not placed.any():
        return rotations, root
    subtree = _subtree_mask(rig.parents)                                    # (B, B)
    q, t, goal = rotations[placed], root[placed], targets[placed]
    for _ in range(iterations):
        step = _step(rig, q, t, goal, subtree, damping)                     # (F', 3B + 3)
        world = _world_rotations(rig, q)
        parent = np.concatenate([np.broadcast_to(np.eye(3), (len(q), 1, 3, 3)),
                                 world[:, [max(p, 0) for p in rig.parents[1:]]]], axis=1)
        axis = np.einsum("fbji,fbj->fbi", parent, step[:, :-3].reshape(len(q), -1, 3))
        q = multiply(_exp(axis), q)
        t = t + step[:, -3:]
    rotations[placed], root[placed] = q, t
    return rotations, root


def _step(rig: Rig, q: FloatArray, t: FloatArray, goal: FloatArray, subtree: FloatArray,
          damping: float) -> FloatArray:
    """(F, 3B + 3) damped Gauss-Newton step: world rotation vectors per bone, root shift."""
    n_frames, n_bones = q.shape[:2]
    heads = _heads(rig, q, t)                                               # (F, B, 3)
    seen = np.isfinite(goal).all(-1)                                        # (F, B)
    residual = np.where(seen[..., None], heads - np.nan_to_num(goal), 0.0)  # (F, B, 3)
    # d head_k / d omega_a = skew(head_a - head_k) for k in a's subtree
    lever = heads[:, :, None] - heads[:, None, :]                           # (F, A, K, 3)
    jac = _skew(lever) * subtree[None, :, :, None, None]                   # (F, A, K, 3, 3)
    jac = np.where(seen[:, None, :, None, None], jac, 0.0)
    jac = np.moveaxis(jac, 1, 3).reshape(n_frames, 3 * n_bones, 3 * n_bones)  # (F, 3K, 3A)
    shift = np.where(seen[..., None, None], np.eye(3), 0.0).reshape(n_frames, 3 * n_bones, 3)
    jac = np.concatenate([jac, shift], axis=-1)                             # (F, 3K, 3A + 3)
    normal = np.einsum("fki,fkj->fij", jac, jac) + damping * np.eye(jac.shape[-1])
    gradient = np.einsum("fki,fk->fi", jac, residual.reshape(n_frames, -1))
    return -np.linalg.solve(normal, gradient[..., None])[..., 0]


def _heads(rig: Rig, q: FloatArray, t: FloatArray) -> FloatArray:
    """(F, B, 3) world heads of the bones."""
    return _forward(rig, q, t)[1]


def _world_rotations(rig: Rig, q: FloatArray) -> FloatArray:
    """(F, B, 3, 3) world rotations of the bones."""
    return _forward(rig, q, np.zeros((len(q), 3)))[0]


def _forward(rig: Rig, q: FloatArray, t: FloatArray) -> tuple[FloatArray, FloatArray]:
    translations = np.broadcast_to(rig.offsets, q.shape[:2] + (3,)).copy()
    translations[:, 0] = t
    return forward_kinematics(rig.parents, to_matrix(q), translations)


def _subtree_mask(parents: tuple[int, ...]) -> FloatArray:
    """(B, B) 1 where bone k is bone a or below it."""
    graph = nx.DiGraph([(p, b) for b, p in enumerate(parents) if p >= 0])
    graph.add_nodes_from(range(len(parents)))
    mask = np.eye(len(parents))
    for a in range(len(parents)):
        mask[a, list(nx.descendants(graph, a))] = 1.0
    return mask


def _skew(v: FloatArray) -> FloatArray:
    """(..., 3) to (..., 3, 3) cross-product matrices: skew(v) @ w = v x w."""
    x, y, z = np.moveaxis(v, -1, 0)
    zero = np.zeros_like(x)
    return np.stack([np.stack([zero, -z, y], -1), np.stack([z, zero, -x], -1),
                     np.stack([-y, x, zero], -1)], -2)


def _exp(rotation_vector: FloatArray) -> FloatArray:
    """(..., 3) rotation vectors (radians) to (..., 4) unit quaternions."""
    angle = np.linalg.norm(rotation_vector, axis=-1, keepdims=True)
    half = angle / 2
    scale = np.where(angle > 1e-12, np.sin(half) / np.where(angle > 1e-12, angle, 1.0), 0.5)
    return np.concatenate([np.cos(half), scale * rotation_vector], axis=-1)
