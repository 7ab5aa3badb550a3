"""Calibration boards (ChArUco and plain checkerboards) and their ``board.toml`` definition.

The board frame: origin at the outer top-left corner of the printed squares, x along the
columns (to the right on the print), y along the rows (down the print), z = x cross y (into
the print, away from a viewer who sees its front), metres. Corner ``k`` of a board with
``squares = [columns, rows]`` is the inner corner in row ``k // (columns - 1)`` and column
``k % (columns - 1)``, at ``((col + 1) * square_size, (row + 1) * square_size, 0)`` — the ids
and order of OpenCV's ``CharucoBoard.getChessboardCorners()``.

A double-sided board carries on its back the mirror image of the front print, aligned with it
(what :func:`calibration.board_print.write_printable` writes as ``board_back``): seen from
behind, every corner sits where the front's corner of the same id is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from difflib import get_close_matches
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import tomli_w
from numpy.typing import NDArray

from calibration.errors import BoardError
from calibration.io import load_toml, write_text_atomically

BOARD_TYPES = ("charuco", "checkerboard")
_REQUIRED = {"charuco": ("type", "squares", "square_size", "marker_size", "dictionary"),
             "checkerboard": ("type", "squares", "square_size")}
_BOOL_KEYS = ("legacy_pattern", "inverted", "double_sided")
_INCH, _CM = 0.0254, 0.01


def aruco_dictionary_names() -> list[str]:
    """The names of OpenCV's predefined ArUco dictionaries (``DICT_4X4_50`` ...)."""
    return sorted(n for n in dir(cv2.aruco) if n.startswith("DICT_"))


def aruco_dictionary(name: str) -> cv2.aruco.Dictionary:
    """OpenCV's predefined dictionary called ``name``; BoardError listing close names if unknown."""
    if not name.startswith("DICT_") or not hasattr(cv2.aruco, name):
        known = aruco_dictionary_names()
        near = get_close_matches(name.upper(), known, n=3, cutoff=0.5)
        tip = f"did you mean {' or '.join(near)}?" if near else f"known: {', '.join(known)}"
        raise BoardError(f"unknown ArUco dictionary '{name}'; {tip}")
    return cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, name))


@dataclass(frozen=True)
class Board:
    """A planar calibration board.

    Attributes:
        type: ``"charuco"`` or ``"checkerboard"``.
        squares: (columns, rows) of squares (not inner corners).
        square_size: side of one square in metres.
        marker_size: side of one ArUco marker in metres (ChArUco only; < square_size).
        dictionary: OpenCV's name of the ArUco dictionary, e.g. ``"DICT_4X4_50"``.
        legacy_pattern: the pattern of OpenCV < 4.6 (differs when ``rows`` is even).
        inverted: printed in negative (white markers on black); images are inverted first.
        double_sided: the back carries the mirror image of the front (see the module doc).
        source: where the definition came from, used in error messages.
    """

    type: str
    squares: tuple[int, int]
    square_size: float
    marker_size: float = 0.0
    dictionary: str = "DICT_4X4_50"
    legacy_pattern: bool = False
    inverted: bool = False
    double_sided: bool = False
    source: str = field(default="board.toml", compare=False)

    def __post_init__(self) -> None:
        where = self.source
        if self.type not in BOARD_TYPES:
            raise BoardError(f"{where}: type must be one of {', '.join(BOARD_TYPES)}, "
                             f"got {self.type!r}")
        cols, rows = (int(v) for v in self.squares)
        object.__setattr__(self, "squares", (cols, rows))
        least = 4 if self.type == "checkerboard" else 3
        if min(cols, rows) < least or (cols - 1) * (rows - 1) < 6:
            raise BoardError(f"{where}: squares = [{cols}, {rows}] is too small; a {self.type} "
                             f"needs at least {least} columns and {least} rows of squares "
                             "(squares, not inner corners) and 6 inner corners")
        if not (math.isfinite(self.square_size) and self.square_size > 0):
            raise BoardError(f"{where}: square_size must be > 0 metres, got {self.square_size}")
        if self.type == "charuco":
            self._check_charuco(where)
        elif self.double_sided:
            raise BoardError(f"{where}: double_sided applies to ChArUco boards only (a plain "
                             "checkerboard looks alike from both sides); set it to false")

    def _check_charuco(self, where: str) -> None:
        if not (0 < self.marker_size < self.square_size):
            raise BoardError(f"{where}: marker_size ({self.marker_size} m) must be > 0 and "
                             f"smaller than square_size ({self.square_size} m)")
        try:
            dictionary = aruco_dictionary(self.dictionary)
        except BoardError as e:
            raise BoardError(f"{where}: {e}") from None
        n_dict = dictionary.bytesList.shape[0]
        if self.n_markers > n_dict:
            raise BoardError(f"{where}: a {self.squares[0]}x{self.squares[1]} ChArUco board "
                             f"needs {self.n_markers} markers but {self.dictionary} has only "
                             f"{n_dict}; choose a larger dictionary")

    # --- construction -----------------------------------------------------------------------
    @classmethod
    def charuco(cls, squares: tuple[int, int], square_size: float, marker_size: float,
                dictionary: str = "DICT_4X4_50", **kwargs: Any) -> Board:
        """A ChArUco board; ``kwargs``: legacy_pattern, inverted, double_sided, source."""
        return cls("charuco", (int(squares[0]), int(squares[1])), float(square_size),
                   float(marker_size),
                   dictionary, **kwargs)

    @classmethod
    def checkerboard(cls, squares: tuple[int, int], square_size: float, **kwargs: Any) -> Board:
        """A plain checkerboard of ``squares`` = (columns, rows) squares."""
        return cls("checkerboard", (int(squares[0]), int(squares[1])), float(square_size),
                   **kwargs)

    @classmethod
    def from_table(cls, table: dict[str, Any], where: str = "board.toml") -> Board:
        """A board from a parsed ``board.toml`` table; BoardError names ``where`` and the key."""
        return cls(**_parse_table(table, where), source=where)

    def to_table(self) -> dict[str, Any]:
        """The ``board.toml`` table of this board (inverse of :meth:`from_table`)."""
        table: dict[str, Any] = {"type": self.type, "squares": list(self.squares),
                                 "square_size": self.square_size}
        if self.type == "charuco":
            table.update(marker_size=self.marker_size, dictionary=self.dictionary,
                         legacy_pattern=self.legacy_pattern)
        table.update(inverted=self.inverted, double_sided=self.double_sided)
        return table

    # --- geometry -----------------------------------------------------------------------------
    @property
    def corner_grid(self) -> tuple[int, int]:
        """(columns, rows) of inner corners."""
        return self.squares[0] - 1, self.squares[1] - 1

    @property
    def n_corners(self) -> int:
        """K, the number of inner corners."""
        return (self.squares[0] - 1) * (self.squares[1] - 1)

    @property
    def n_markers(self) -> int:
        """Number of ArUco markers on a ChArUco board (0 for a checkerboard)."""
        return self.squares[0] * self.squares[1] // 2 if self.type == "charuco" else 0

    @property
    def size_m(self) -> tuple[float, float]:
        """(width, height) of the squared area in metres."""
        return self.squares[0] * self.square_size, self.squares[1] * self.square_size

    @property
    def object_points(self) -> NDArray[np.float64]:
        """(K, 3) corner coordinates in the board frame, metres (z = 0)."""
        nx, ny = self.corner_grid
        row, col = np.divmod(np.arange(nx * ny), nx)
        return np.stack([(col + 1) * self.square_size, (row + 1) * self.square_size,
                         np.zeros(nx * ny)], axis=1)

    def cv2_board(self) -> cv2.aruco.CharucoBoard:
        """OpenCV's CharucoBoard of this board (ChArUco only)."""
        if self.type != "charuco":
            raise BoardError(f"{self.source}: a {self.type} has no ArUco markers")
        board = cv2.aruco.CharucoBoard(self.squares, self.square_size, self.marker_size,
                                       aruco_dictionary(self.dictionary))
        board.setLegacyPattern(self.legacy_pattern)
        return board

    def image(self, px_per_square: int, inverted: bool | None = None) -> NDArray[np.uint8]:
        """The printed pattern, (rows * px, columns * px) uint8, square edges on pixel edges.

        Args:
            px_per_square: pixels per square side.
            inverted: render in negative; defaults to the board's ``inverted`` flag.
        """
        pps = int(px_per_square)
        cols, rows = self.squares
        if self.type == "charuco":
            img = np.asarray(self.cv2_board().generateImage((cols * pps, rows * pps),
                                                            marginSize=0, borderBits=1), np.uint8)
        else:
            r, c = np.divmod(np.arange(rows * cols), cols)
            cells = np.where((r + c) % 2 == 0, 0, 255).astype(np.uint8).reshape(rows, cols)
            img = np.kron(cells, np.ones((pps, pps), np.uint8))
        invert = self.inverted if inverted is None else inverted
        return (255 - img).astype(np.uint8) if invert else img

    def describe(self) -> str:
        """A short human description, e.g. ``ChArUco 4x5 squares, DICT_4X4_1000``."""
        cols, rows = self.squares
        if self.type == "checkerboard":
            return f"checkerboard {cols}x{rows} squares ({cols - 1}x{rows - 1} inner corners)"
        return f"ChArUco {cols}x{rows} squares, {self.dictionary}"


def load_board(path: str | Path) -> Board:
    """Read ``board.toml``; BoardError naming the file and the wrong key on bad input."""
    path = Path(path)
    return Board.from_table(_read_toml(path), str(path))


def write_board_toml(board: Board, path: str | Path) -> Path:
    """Write ``board`` as ``board.toml`` at ``path`` atomically."""
    path = Path(path)
    write_text_atomically(path, tomli_w.dumps(board.to_table()))
    return path


def board_from_caliscope(path: str | Path) -> Board:
    """Read caliscope's ``charuco.toml`` (columns, rows, dictionary, aruco_scale, inverted,
    square_size_override_cm or board_width/board_height in ``units``); every value is checked
    for its type (a boolean is not a number, a number not a boolean) and range."""
    path = Path(path)
    t = _read_toml(path)
    where = f"{path} (caliscope board)"
    cols, rows = (_whole(t.get(key), key, where) for key in ("columns", "rows"))
    override = t.get("square_size_override_cm", t.get("square_size_overide_cm"))
    if override is not None:
        square = _positive(override, "square_size_override_cm", where) * _CM
    else:
        units = t.get("units", "inch")
        if units not in ("inch", "cm"):
            raise BoardError(f"{where}: units must be \"inch\" or \"cm\", got {units!r}")
        side = min(_positive(t.get("board_width"), "board_width", where) / cols,
                   _positive(t.get("board_height"), "board_height", where) / rows)
        square = side * (_INCH if units == "inch" else _CM)
    scale = _positive(t.get("aruco_scale", 0.75), "aruco_scale", where)
    dictionary = t.get("dictionary", "DICT_4X4_50")
    if not isinstance(dictionary, str):
        raise BoardError(f"{where}: dictionary must be a name like \"DICT_4X4_50\", got "
                         f"{dictionary!r}")
    flags = {key: t.get(key, False) for key in ("legacy_pattern", "inverted")}
    for key, value in flags.items():
        if not isinstance(value, bool):
            raise BoardError(f"{where}: {key} must be true or false, got {value!r}")
    return Board.charuco((cols, rows), round(square, 9), round(square * scale, 9), dictionary,
                         **flags, source=str(path))


def _whole(value: Any, key: str, where: str) -> int:
    if value is None:
        raise BoardError(f"{where}: no '{key}' key; caliscope's charuco.toml gives columns and "
                         "rows")
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BoardError(f"{where}: {key} must be a whole number of squares, got {value!r}")
    return value


def _positive(value: Any, key: str, where: str) -> float:
    if value is None:
        raise BoardError(f"{where}: no '{key}' key; give square_size_override_cm, or "
                         "board_width and board_height in units")
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not (math.isfinite(value) and value > 0):
        raise BoardError(f"{where}: {key} must be a positive number, got {value!r}")
    return float(value)


# --- parsing ------------------------------------------------------------------------------------
def _read_toml(path: Path) -> dict[str, Any]:
    return load_toml(path, BoardError, "board file not found; write one with type, squares, "
                     "square_size (and marker_size, dictionary for ChArUco)")


def _parse_table(table: dict[str, Any], where: str) -> dict[str, Any]:
    known = [f.name for f in fields(Board) if f.name != "source"]
    for key in table:
        if key not in known:
            near = get_close_matches(key, known, n=1)
            tip = f"did you mean '{near[0]}'?" if near else f"known keys: {', '.join(known)}"
            raise BoardError(f"{where}: unknown key '{key}'; {tip}")
    kind = table.get("type")
    if kind not in BOARD_TYPES:
        got = "no 'type' key" if kind is None else f"type = {kind!r}"
        raise BoardError(f"{where}: {got}; set type = \"charuco\" or \"checkerboard\"")
    for key in _REQUIRED[kind]:
        if key not in table:
            raise BoardError(f"{where}: missing key '{key}'; a {kind} board needs "
                             f"{', '.join(_REQUIRED[kind])}")
    out: dict[str, Any] = {"type": kind, "squares": _squares(table["squares"], where),
                           "square_size": _metres(table, "square_size", where)}
    if "marker_size" in table:
        out["marker_size"] = _metres(table, "marker_size", where)
    if "dictionary" in table:
        if not isinstance(table["dictionary"], str):
            raise BoardError(f"{where}: 'dictionary' must be a string like \"DICT_4X4_50\", "
                             f"got {table['dictionary']!r}")
        out["dictionary"] = table["dictionary"]
    for key in _BOOL_KEYS:
        if key in table:
            if not isinstance(table[key], bool):
                raise BoardError(f"{where}: '{key}' must be true or false, got {table[key]!r}")
            out[key] = table[key]
    return out


def _squares(value: Any, where: str) -> tuple[int, int]:
    if (not isinstance(value, list) or len(value) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)):
        raise BoardError(f"{where}: 'squares' must be [columns, rows] (two integers, counting "
                         f"squares, not inner corners), got {value!r}")
    return value[0], value[1]


def _metres(table: dict[str, Any], key: str, where: str) -> float:
    value = table[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise BoardError(f"{where}: '{key}' must be a positive number in metres, got {value!r}")
    if value > 1.0:
        raise BoardError(f"{where}: '{key}' = {value} looks like millimetres or centimetres; "
                         "board.toml gives sizes in metres (e.g. 0.04 for 40 mm)")
    return float(value)
