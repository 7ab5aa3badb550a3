"""A serial robot arm read from any URDF: its joint chain, limits and forward kinematics.

:func:`read_urdf` parses the file with the standard XML module (no robotics package needed),
checks what retargeting relies on and names the file and the element at fault otherwise. The
chain runs from the root link (the one link no joint has as child) to ``tip`` (by default the
only leaf link). Joint types: ``revolute`` (``<limit lower upper velocity>`` required),
``continuous`` (``velocity`` required, no position limits), ``prismatic`` (like revolute, in
metres) and ``fixed``. :data:`ARM6` is the project's own open 6-DoF arm (``rigs/data/arm6.urdf``).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from rigs.errors import RigError
from rigs.quaternions import to_matrix

FloatArray = NDArray[np.float64]

ARM6 = Path(__file__).resolve().parent / "data" / "arm6.urdf"
_MOVING = ("revolute", "continuous", "prismatic")


@dataclass(frozen=True)
class ChainJoint:
    """One URDF joint on the chain.

    Attributes:
        name, kind: the joint's name and type (revolute, continuous, prismatic, fixed).
        origin: (4, 4) parent link to joint frame at q = 0 (``<origin xyz rpy>``).
        axis: (3,) unit axis in the joint frame (zeros for fixed joints).
        lower, upper: position limits, rad or m (-inf, inf for continuous and fixed joints).
        velocity: speed limit, rad/s or m/s (inf for fixed joints).
    """

    name: str
    kind: str
    origin: FloatArray
    axis: FloatArray
    lower: float
    upper: float
    velocity: float


@dataclass(frozen=True)
class UrdfArm:
    """A serial chain from ``base_link`` to ``tip_link``; q holds its N moving joints in order."""

    name: str
    path: Path
    base_link: str
    tip_link: str
    chain: tuple[ChainJoint, ...]

    @property
    def moving(self) -> tuple[ChainJoint, ...]:
        return tuple(j for j in self.chain if j.kind in _MOVING)

    @property
    def joint_names(self) -> tuple[str, ...]:
        return tuple(j.name for j in self.moving)

    @property
    def lower(self) -> FloatArray:
        """(N,) lower position limits."""
        return np.array([j.lower for j in self.moving])

    @property
    def upper(self) -> FloatArray:
        """(N,) upper position limits."""
        return np.array([j.upper for j in self.moving])

    @property
    def velocity(self) -> FloatArray:
        """(N,) speed limits, rad/s (m/s for prismatic joints)."""
        return np.array([j.velocity for j in self.moving])

    @property
    def shoulder(self) -> FloatArray:
        """(3,) metres in the base frame: the origin of the second moving joint (of the only one
        where there is one), the point the arm's reach is measured from; the first joint, in
        most arms a yaw about the vertical, turns everything after it about this point."""
        pose = np.eye(4)
        for joint in self.chain[:self._shoulder_index() + 1]:
            pose = pose @ joint.origin
        return pose[:3, 3]

    @property
    def reach(self) -> float:
        """Metres from :attr:`shoulder` to the tip with the arm stretched out: the sum of the
        link lengths after the shoulder (an upper bound where links are not in line; arm6's
        0.83 m is exact)."""
        return float(sum(np.linalg.norm(j.origin[:3, 3])
                         for j in self.chain[self._shoulder_index() + 1:]))

    def _shoulder_index(self) -> int:
        """Index in ``chain`` of the second moving joint (of the only one where there is one)."""
        return [i for i, j in enumerate(self.chain) if j.kind in _MOVING][:2][-1]

    def forward(self, q: FloatArray) -> FloatArray:
        """Tip poses in the base frame.

        Args:
            q: (..., N) joint positions, rad (m for prismatic joints).
        Returns:
            (..., 4, 4) base-from-tip transforms, metres.
        """
        q = np.asarray(q, dtype=float)
        if q.shape[-1:] != (len(self.moving),):
            raise RigError(f"{self.path}: q must be (..., {len(self.moving)}), got {q.shape}")
        pose = np.broadcast_to(np.eye(4), q.shape[:-1] + (4, 4))
        k = 0
        for joint in self.chain:
            pose = pose @ joint.origin
            if joint.kind in _MOVING:
                pose = pose @ _joint_motion(joint, q[..., k])
                k += 1
        return pose


def _joint_motion(joint: ChainJoint, q: FloatArray) -> FloatArray:
    """(..., 4, 4) motion of ``joint`` at positions q (...,)."""
    motion = np.broadcast_to(np.eye(4), q.shape + (4, 4)).copy()
    if joint.kind == "prismatic":
        motion[..., :3, 3] = q[..., None] * joint.axis
    else:
        quat = np.concatenate([np.cos(q / 2)[..., None], np.sin(q / 2)[..., None] * joint.axis],
                              -1)
        motion[..., :3, :3] = to_matrix(quat)
    return motion


def rpy_matrix(rpy: FloatArray) -> FloatArray:
    """(3, 3) rotation of URDF roll, pitch, yaw (radians): Rz(yaw) Ry(pitch) Rx(roll)."""
    (cr, cp, cy), (sr, sp, sy) = np.cos(rpy), np.sin(rpy)
    return np.array([[cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
                     [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
                     [-sp, cp * sr, cp * cr]])


def read_urdf(path: str | Path, tip: str | None = None) -> UrdfArm:
    """Read the serial chain of a URDF file.

    Args:
        path: the .urdf file.
        tip: the link the chain ends at (the tool); None takes the only leaf link.
    Raises:
        RigError: naming the file and what is wrong (not XML, no <robot>, a joint without
            parent, child or limits, an unknown link, several roots or leaves, no moving joint).
    """
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as e:
        raise RigError(f"{path}: not a readable URDF file ({e})") from e
    if root.tag != "robot":
        raise RigError(f"{path}: the root element is <{root.tag}>; a URDF starts with <robot>")
    links = [link.get("name") for link in root.findall("link")]
    joints = {}
    for element in root.findall("joint"):
        parent, child, joint = _parse_joint(element, path, set(links))
        joints[child] = (parent, joint)
    base = _single(sorted(set(links) - set(joints)), "root link", path,
                   "joints must join all links into one tree with one root (no joint's child)")
    chain: list[ChainJoint] = []
    tip = tip or _single(sorted(set(links) - {p for p, _ in joints.values()}), "leaf link",
                         path, "pass tip=<link name> to choose the tool link")
    if tip not in links:
        raise RigError(f"{path}: no link named '{tip}'; links: {', '.join(links)}")
    link = tip
    while link != base:
        if link not in joints or len(chain) > len(joints):
            raise RigError(f"{path}: link '{link}' is not connected to the root '{base}'")
        link, joint = joints[link]
        chain.insert(0, joint)
    if not any(j.kind in _MOVING for j in chain):
        raise RigError(f"{path}: no revolute, continuous or prismatic joint from '{base}' to "
                       f"'{tip}'; nothing to move")
    return UrdfArm(root.get("name", path.stem), path, base, tip, tuple(chain))


def _single(names: list[str], what: str, path: Path, fix: str) -> str:
    if len(names) != 1:
        raise RigError(f"{path}: found {len(names)} {what}s ({', '.join(names) or 'none'}); "
                       f"{fix}")
    return names[0]


def _parse_joint(element: ET.Element, path: Path, links: set[str]
                 ) -> tuple[str, str, ChainJoint]:
    """(parent link, child link, joint) of one <joint> element, checked."""
    name, kind = element.get("name", "?"), element.get("type", "")
    where = f"{path}: joint '{name}'"
    if kind not in _MOVING + ("fixed",):
        raise RigError(f"{where} has type '{kind}'; supported: revolute, continuous, "
                       "prismatic, fixed")
    ends = []
    for tag in ("parent", "child"):
        found = element.find(tag)
        link = None if found is None else found.get("link")
        if link not in links:
            raise RigError(f"{where}: <{tag} link=...> is missing or names an undefined link "
                           f"({link!r})")
        ends.append(link)
    origin = element.find("origin")
    xyz = _floats(origin, "xyz", "0 0 0", where)
    rpy = _floats(origin, "rpy", "0 0 0", where)
    transform = np.eye(4)
    transform[:3, :3], transform[:3, 3] = rpy_matrix(rpy), xyz
    lower, upper, velocity, axis = -np.inf, np.inf, np.inf, np.zeros(3)
    if kind != "fixed":
        axis = _floats(element.find("axis"), "xyz", "1 0 0", where)
        if not np.linalg.norm(axis) > 0:
            raise RigError(f"{where}: <axis xyz> is zero; give the joint's axis")
        axis = axis / np.linalg.norm(axis)
        lower, upper, velocity = _limits(element.find("limit"), kind, where)
    return ends[0], ends[1], ChainJoint(name, kind, transform, axis, lower, upper, velocity)


def _limits(limit: ET.Element | None, kind: str, where: str) -> tuple[float, float, float]:
    """(lower, upper, velocity) of a moving joint's <limit>, checked."""
    limit = ET.Element("limit") if limit is None else limit
    needed = ("velocity",) if kind == "continuous" else ("lower", "upper", "velocity")
    missing = [k for k in needed if limit.get(k) is None]
    if missing:
        raise RigError(f"{where} ({kind}) has no <limit {' '.join(missing)}>; retargeting "
                       "needs its position and velocity limits")
    values = {k: _floats(limit, k, "", where)[0] for k in needed}
    lower, upper = values.get("lower", -np.inf), values.get("upper", np.inf)
    if not lower < upper:
        raise RigError(f"{where}: limit lower {lower} is not below upper {upper}")
    if not values["velocity"] > 0:
        raise RigError(f"{where}: limit velocity {values['velocity']} must be positive")
    return lower, upper, values["velocity"]


def _floats(element: ET.Element | None, key: str, default: str, where: str) -> FloatArray:
    text = default if element is None else element.get(key, default)
    try:
        values = np.array(text.split(), dtype=float)
    except ValueError as e:
        raise RigError(f"{where}: {key}='{text}' is not a list of numbers") from e
    if values.size != (3 if key in ("xyz", "rpy") else 1) or not np.isfinite(values).all():
        raise RigError(f"{where}: {key}='{text}' must be "
                       f"{'3 finite numbers' if key in ('xyz', 'rpy') else 'one finite number'}")
    return values
