"""Board definitions: board.toml parsing and errors, geometry vs OpenCV, printable files."""

from __future__ import annotations

import re
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from calibration.board import Board, board_from_caliscope, load_board, write_board_toml
from calibration.board_print import png_resolution, write_printable
from calibration.detection import detect_corners
from calibration.errors import BoardError

CHARUCO_TOML = """type = "charuco"
squares = [5, 7]
square_size = 0.04
marker_size = 0.03
dictionary = "DICT_5X5_100"
"""


@pytest.mark.parametrize("squares, legacy", [((4, 5), False), ((5, 7), False), ((5, 6), False),
                                             ((5, 6), True), ((8, 11), True)])
def test_object_points_match_opencv_charuco_corner_ids(squares, legacy):
    board = Board.charuco(squares, 0.05, 0.035, "DICT_4X4_100", legacy_pattern=legacy)
    expected = board.cv2_board().getChessboardCorners()
    np.testing.assert_allclose(board.object_points, expected, atol=1e-7)
    assert board.n_corners == (squares[0] - 1) * (squares[1] - 1) == len(expected)


def test_checkerboard_corners_are_inner_grid_row_by_row():
    board = Board.checkerboard((5, 8), 0.06)
    pts = board.object_points
    assert pts.shape == (28, 3) and board.corner_grid == (4, 7)
    np.testing.assert_allclose(pts[0], [0.06, 0.06, 0.0])
    np.testing.assert_allclose(pts[1], [0.12, 0.06, 0.0])      # along the columns first
    np.testing.assert_allclose(pts[4], [0.06, 0.12, 0.0])      # then the next row
    np.testing.assert_allclose(pts[-1], [0.24, 0.42, 0.0])


def test_load_and_write_round_trip(tmp_path):
    (tmp_path / "board.toml").write_text(CHARUCO_TOML)
    board = load_board(tmp_path / "board.toml")
    assert board == Board.charuco((5, 7), 0.04, 0.03, "DICT_5X5_100")
    assert not (board.inverted or board.double_sided or board.legacy_pattern)
    assert board.source == str(tmp_path / "board.toml")
    flipped = Board.charuco((4, 5), 0.054, 0.0405, "DICT_4X4_1000", inverted=True,
                            double_sided=True, legacy_pattern=True)
    write_board_toml(flipped, tmp_path / "out" / "board.toml")
    assert load_board(tmp_path / "out" / "board.toml") == flipped
    checker = Board.checkerboard((5, 8), 0.06)
    write_board_toml(checker, tmp_path / "c.toml")
    assert load_board(tmp_path / "c.toml") == checker


@pytest.mark.parametrize("text, message", [
    (CHARUCO_TOML + "dictonary_size = 3\n", (r"unknown key 'dictonary_size'; did you mean "
                                            r"'dictionary'")),
    (CHARUCO_TOML + "invert = true\n", r"unknown key 'invert'; did you mean 'inverted'"),
    (CHARUCO_TOML.replace("[5, 7]", "[5]"), r"'squares' must be \[columns, rows\]"),
    (CHARUCO_TOML.replace("[5, 7]", '"5x7"'), r"'squares' must be \[columns, rows\]"),
    (CHARUCO_TOML + "inverted = \"yes\"\n", r"'inverted' must be true or false"),
    (CHARUCO_TOML.replace("0.04", '"4cm"'), r"'square_size' must be a positive number"),
    (CHARUCO_TOML.replace("0.04", "40"), r"'square_size' = 40 looks like millimetres"),
    (CHARUCO_TOML.replace("marker_size = 0.03\n", ""), r"missing key 'marker_size'"),
    (CHARUCO_TOML.replace('type = "charuco"\n', ""), r"no 'type' key"),
    (CHARUCO_TOML.replace("0.03", "0.05"), (r"marker_size \(0.05 m\) must be > 0 and smaller "
                                           r"than square_size")),
    (CHARUCO_TOML.replace("DICT_5X5_100", "DICT_5x5_100"), (r"unknown ArUco dictionary "
                                                           r"'DICT_5x5_100'; did you mean "
                                                           r"DICT_5X5_100")),
    (CHARUCO_TOML.replace("[5, 7]", "[20, 20]"), (r"needs 200 markers but DICT_5X5_100 has "
                                                 r"only 100")),
    (CHARUCO_TOML.replace("[5, 7]", "[2, 7]"), r"too small"),
    (CHARUCO_TOML.replace("[5, 7]", "[3, 3]"), (r"squares = \[3, 3\] is too small; a charuco "
                                               r"needs .* and 6 inner corners")),
    ('type = "checkerboard"\nsquares = [3, 8]\nsquare_size = 0.06\n', r"at least 4 columns"),
    ('type = "checkerboard"\nsquares = [5, 8]\nsquare_size = 0.06\ndouble_sided = true\n',
     r"double_sided applies to ChArUco boards only"),
    ("type = charuco", r"not valid TOML"),
])
def test_malformed_board_toml_names_file_and_key(tmp_path, text, message):
    path = tmp_path / "board.toml"
    path.write_text(text)
    with pytest.raises(BoardError, match=message) as info:
        load_board(path)
    assert str(path) in str(info.value)


def test_missing_board_file_says_what_to_write(tmp_path):
    with pytest.raises(BoardError, match=r"board file not found; write one with type"):
        load_board(tmp_path / "board.toml")


def test_caliscope_board_file(shared_data):
    board = board_from_caliscope(shared_data / "caliscope_charuco_4cam" / "charuco.toml")
    assert board.type == "charuco" and board.squares == (4, 5)
    assert board.square_size == pytest.approx(0.054) and board.marker_size == pytest.approx(0.0405)
    assert board.dictionary == "DICT_4X4_1000" and board.inverted and board.n_corners == 12


def test_caliscope_board_from_page_size(tmp_path):
    path = tmp_path / "charuco.toml"
    path.write_text('columns = 4\nrows = 5\nboard_height = 11.0\nboard_width = 8.5\n'
                    'dictionary = "DICT_4X4_50"\nunits = "inch"\naruco_scale = 0.75\n')
    board = board_from_caliscope(path)
    assert board.square_size == pytest.approx(min(8.5 / 4, 11 / 5) * 0.0254)
    path.write_text("columns = 4\n")
    with pytest.raises(BoardError, match=r"charuco.toml \(caliscope board\): no 'rows' key"):
        board_from_caliscope(path)


def test_image_layout_and_inversion():
    board = Board.charuco((4, 5), 0.05, 0.035, "DICT_4X4_50")
    img = board.image(40)
    assert img.shape == (200, 160) and img.dtype == np.uint8
    assert img[:40, :40].max() == 0                       # first square dark
    assert img[:40, 40:80].min() < 128 < img[:40, 40:80].max()   # a marker in a light square
    inverted = Board.charuco((4, 5), 0.05, 0.035, "DICT_4X4_50", inverted=True).image(40)
    np.testing.assert_array_equal(inverted, 255 - img)
    checker = Board.checkerboard((4, 5), 0.05).image(10)
    assert checker.shape == (50, 40) and checker[0, 0] == 0 and checker[0, 10] == 255


def _pdf_objects(data: bytes) -> dict[int, bytes]:
    """Objects of a PDF, found through its xref table (so the offsets are checked too)."""
    start = int(re.search(rb"startxref\n(\d+)\n%%EOF", data).group(1))
    assert data[start:start + 4] == b"xref"
    count = int(data[start:].split(b"\n")[1].split()[1])
    entries = data[start:].split(b"\n")[3:3 + count - 1]
    objects = {}
    for number, entry in enumerate(entries, start=1):
        offset = int(entry.split()[0])
        assert data[offset:].startswith(f"{number} 0 obj".encode())
        objects[number] = data[offset:data.index(b"endobj", offset)]
    return objects


def test_printable_pdf_has_exact_physical_size(tmp_path):
    board = Board.charuco((5, 7), 0.04, 0.03, "DICT_4X4_50")
    files = write_printable(board, tmp_path, dpi=150, margin_m=0.01)
    assert load_board(files["toml"]) == board
    objects = _pdf_objects(files["pdf"].read_bytes())
    box = [float(v) for v in re.search(rb"/MediaBox \[([^\]]+)\]", objects[3]).group(1).split()]
    points = 72 / 0.0254
    np.testing.assert_allclose(box, [0, 0, 0.22 * points, 0.30 * points], atol=1e-3)
    draw = re.search(rb"stream\n(.*)endstream", objects[5], re.DOTALL).group(1).split()
    np.testing.assert_allclose([float(v) for v in draw[1:7]],
                               [0.2 * points, 0, 0, 0.28 * points, 0.01 * points,
                                0.01 * points], atol=1e-3)
    head, stream = objects[4].split(b"\nstream\n", 1)
    width = int(re.search(rb"/Width (\d+)", head).group(1))
    height = int(re.search(rb"/Height (\d+)", head).group(1))
    length = int(re.search(rb"/Length (\d+)", head).group(1))
    pixels = np.frombuffer(zlib.decompress(stream[:length]), np.uint8).reshape(height, width)
    np.testing.assert_array_equal(pixels, board.image(width // 5))


def test_printable_png_stores_dpi_and_is_detectable(tmp_path):
    board = Board.charuco((4, 5), 0.03, 0.022, "DICT_4X4_50")
    files = write_printable(board, tmp_path, dpi=100, margin_m=0.01)
    pps = round(0.03 / 0.0254 * 100)
    assert png_resolution(files["png"].read_bytes()) == round(pps / 0.03)
    with Image.open(files["png"]) as png:
        assert png.info["dpi"][0] == pytest.approx(100, abs=0.5)
    image = cv2.imread(str(files["png"]), cv2.IMREAD_GRAYSCALE)
    margin = round(0.01 * pps / 0.03)
    assert image.shape == (5 * pps + 2 * margin, 4 * pps + 2 * margin)
    xy, mirrored = detect_corners(image, board)
    expected = margin - 0.5 + board.object_points[:, :2] / 0.03 * pps   # edges between pixels
    assert not mirrored and np.isfinite(xy).all()
    np.testing.assert_allclose(xy, expected, atol=0.1)


def test_double_sided_board_gets_a_mirrored_back_print(tmp_path):
    board = Board.charuco((4, 5), 0.03, 0.022, "DICT_4X4_50", double_sided=True)
    files = write_printable(board, tmp_path, dpi=100)
    front = cv2.imread(str(files["png"]), cv2.IMREAD_GRAYSCALE)
    back = cv2.imread(str(files["back_png"]), cv2.IMREAD_GRAYSCALE)
    np.testing.assert_array_equal(back, front[:, ::-1])
    xy, mirrored = detect_corners(back, board)
    assert mirrored
    front_xy, _ = detect_corners(front, board)
    mirrored_x = np.c_[front.shape[1] - 1 - front_xy[:, 0], front_xy[:, 1]]
    np.testing.assert_allclose(xy, mirrored_x, atol=0.05)


def test_png_chunks_have_valid_crcs(tmp_path):
    files = write_printable(Board.checkerboard((4, 4), 0.02), tmp_path, dpi=72)
    data = Path(files["png"]).read_bytes()
    pos, kinds = 8, []
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        payload = data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert crc == zlib.crc32(kind + payload) & 0xFFFFFFFF
        kinds.append(kind)
        pos += 12 + length
    assert kinds == [b"IHDR", b"pHYs", b"IDAT", b"IEND"]
