"""Which joint of a mocap skeleton plays which body role (``real_motion.body_points``' roles).

Names are matched without a mapping file for CMU (both namings in ``CMU_NAMINGS``, exactly),
Mixamo (``mixamorig:LeftUpLeg``), Blender's Rigify/metarig (``thigh.L``, ``spine.006``),
Unity-humanoid-like names (``LeftUpperLeg``) and the generic ``_L``/``_R``, ``.L``/``.R``,
``L_``/``R_`` and ``Left``/``Right`` prefixes and suffixes, case-insensitively. A namespace
(``mixamorig:``, ``Armature|``) and a prefix every name shares (``Neo_``, ``Bip01 ``) are
ignored. A mapping (role -> joint name, from a TOML file's ``[roles]`` table) overrides.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Sequence
from pathlib import Path

from mocap.errors import InputError
from mocap.synthetic.real_motion import cmu_roles
from rigs.errors import RigError

_SIDED = {  # role -> joint base names (lower case, no "_", "-" or " "), the first found wins
    "hip": ("upleg", "upperleg", "thigh", "hip"),
    "knee": ("leg", "lowerleg", "shin", "knee", "calf"),
    "ankle": ("foot", "ankle"),
    "toe": ("toebase", "toes", "toe", "ball"),
    "shoulder": ("upperarm", "arm", "shoulder"),        # Mixamo's "Shoulder" is the clavicle
    "elbow": ("forearm", "lowerarm", "elbow"),
    "wrist": ("wrist", "hand"),
    "palm": ("palm", "hand"),
    "fingers": ("handmiddle1", "middle1", "fmiddle.01", "fingers"),
    "thumb": ("handthumb1", "thumb1", "thumb.01", "thumb"),
    "thumb_end": ("handthumb4", "thumb4", "thumbend"),
    "toe_end": ("toeend", "toebaseend", "toesend", "toetip"),
}
_CENTRAL = {"neck_base": ("neck", "spine.004"), "head": ("head", "spine.006"),
            "head_end": ("headtopend", "headtop", "headend")}
_SIDES = ("left", "right")
REQUIRED_ROLES = (*(f"{s}_{r}" for s in _SIDES for r in ("hip", "knee", "ankle", "toe",
                                                          "shoulder", "elbow", "wrist")),
                  "neck_base", "head")
ROLES = (*REQUIRED_ROLES, *(f"{s}_{r}" for s in _SIDES
                            for r in ("palm", "fingers", "thumb", "thumb_end", "toe_end")),
         "head_end")
_END_OF = {"head_end": "head", "left_toe_end": "left_toe", "right_toe_end": "right_toe"}
_SIDE_PATTERNS = (re.compile(r"^(?P<side>left|right)[ _.\-]?(?P<base>.+)$"),
                  re.compile(r"^(?P<side>l|r)[ _.\-](?P<base>.+)$"),
                  re.compile(r"^(?P<base>.+?)[ _.\-]?(?P<side>left|right)$"),
                  re.compile(r"^(?P<base>.+?)[ _.\-](?P<side>l|r)$"))


def is_cmu(names: Sequence[str]) -> bool:
    """Whether ``names`` hold one of CMU's namings whole (then CMU's units apply)."""
    try:
        cmu_roles(names, "")
    except RigError:
        return False
    return True


def joint_roles(names: Sequence[str], mapping: dict[str, str] | None = None, *,
                source: str = "the skeleton") -> dict[str, int]:
    """Role (``left_hip``, ``neck_base``, ``head_end``...; ``ROLES``) -> index into ``names``.

    Args:
        names: the skeleton's joint (and end site) names.
        mapping: role -> joint name, overriding what the names say.
        source: what ``names`` came from, for messages (a file path).
    Raises:
        RigError: a role of ``REQUIRED_ROLES`` has no joint, or ``mapping`` names an unknown
            role or joint; the message lists the joints and asks for a mapping file.
    """
    names = list(names)
    found = cmu_roles(names, source) if is_cmu(names) else _by_convention(names)
    for role, joint in (mapping or {}).items():
        if role not in ROLES:
            raise RigError(f"{source}: the mapping names an unknown role '{role}'"
                           f"{_closest(role, ROLES)}; roles are {', '.join(ROLES)}")
        if joint not in names:
            raise RigError(f"{source}: the mapping gives {role} = \"{joint}\", which is not a "
                           f"joint of the skeleton{_closest(joint, names)}; its joints are "
                           f"{', '.join(names)}")
        found[role] = names.index(joint)
    missing = [r for r in REQUIRED_ROLES if r not in found]
    if missing:
        raise RigError(
            f"{source}: cannot tell which joints are {', '.join(missing)}; the skeleton's "
            f"joints are {', '.join(names)}. Pass a mapping file: a TOML table [roles] with "
            f"one line per role, e.g. {missing[0]} = \"{names[0]}\"")
    return found


def read_mapping(path: str | Path) -> dict[str, str]:
    """The ``[roles]`` table of a TOML mapping file: role -> joint name.

    Raises:
        InputError: the file is missing or not TOML, lacks ``[roles]``, names an unknown role or
            gives a joint name that is not a string.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            table = tomllib.load(f)
    except OSError as e:
        raise InputError(f"{path}: cannot read the joint mapping file "
                         f"({os.strerror(e.errno) if e.errno else e})") from e
    except tomllib.TOMLDecodeError as e:
        raise InputError(f"{path}: the joint mapping file is not valid TOML ({e})") from e
    roles = table.get("roles")
    if not isinstance(roles, dict):
        raise InputError(f"{path}: no [roles] table; write one line per role under [roles], "
                         f"e.g. left_hip = \"LeftUpLeg\"; roles are {', '.join(ROLES)}")
    for role, joint in roles.items():
        if role not in ROLES:
            raise InputError(f"{path}: [roles] has an unknown role '{role}'"
                             f"{_closest(role, ROLES)}; roles are {', '.join(ROLES)}")
        if not isinstance(joint, str):
            raise InputError(f"{path}: [roles] {role} must be a joint name in quotes, got "
                             f"{joint!r}")
    return dict(roles)


def _by_convention(names: list[str]) -> dict[str, int]:
    """Roles found by the conventions of the module docstring (the first joint wins)."""
    keys: dict[tuple[str, str], int] = {}
    for i, key in enumerate(_side_and_base(names)):
        keys.setdefault(key, i)
    found = {f"{side}_{role}": keys[(side, base)] for role, bases in _SIDED.items()
             for side in _SIDES for base in reversed(bases) if (side, base) in keys}
    found.update({role: keys[("", base)] for role, bases in _CENTRAL.items()
                  for base in reversed(bases) if ("", base) in keys})
    for end, joint in _END_OF.items():         # a BVH end site beats a named tip
        if joint in found and f"{names[found[joint]]}_end" in names:
            found[end] = names.index(f"{names[found[joint]]}_end")
    return found


def _side_and_base(names: list[str]) -> list[tuple[str, str]]:
    """Per name: (``left``/``right``/``""``, base name lower case without separators)."""
    bare = [re.split(r"[:|]", n)[-1] for n in names]
    shared = os.path.commonprefix(bare)
    shared = shared[:max(shared.rfind(c) for c in " _.-") + 1]
    if any(len(n) == len(shared) for n in bare):
        shared = ""
    out = []
    for name in bare:
        n = re.sub(r"^(def|org)[-_.]", "", name[len(shared):].lower())
        side = ""
        for pattern in _SIDE_PATTERNS:
            if match := pattern.match(n):
                side = "left" if match["side"].startswith("l") else "right"
                n = match["base"]
                break
        out.append((side, re.sub(r"[ _\-]", "", n)))
    return out


def _closest(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""
