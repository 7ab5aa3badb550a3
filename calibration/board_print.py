"""Printable files of a board: a PNG that knows its DPI, a PDF page of the exact physical size,
and the matching ``board.toml``.

The PDF is the file to print ("actual size", no scaling): its page is the board plus a white
margin, and the squares fill exactly ``columns * square_size`` by ``rows * square_size``. A
double-sided board also gets ``board_back.png`` / ``board_back.pdf``, the mirror image of the
front, to glue on the back with the edges aligned.
"""

from __future__ import annotations

import os
import struct
import tempfile
import zlib
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from calibration.board import Board, write_board_toml
from calibration.errors import BoardError

_INCH = 0.0254
_POINTS_PER_INCH = 72.0
MIN_DPI, MAX_DPI = 72, 2400      # below: squares too coarse to print sharply; above: no printer


def write_printable(board: Board, out_dir: str | Path, dpi: int = 300,
                    margin_m: float = 0.01) -> dict[str, Path]:
    """Write ``board.png``, ``board.pdf`` and ``board.toml`` (and the back's files for a
    double-sided board) into ``out_dir``, each atomically.

    Args:
        dpi: resolution of the PNG and of the image inside the PDF (rounded so that a square
            is a whole number of pixels).
        margin_m: white paper around the squares, metres.
    Returns:
        file kind (``png``, ``pdf``, ``toml``, ``back_png``, ``back_pdf``) to path.
    """
    if not MIN_DPI <= dpi <= MAX_DPI:
        raise BoardError(f"--dpi {dpi}: print resolutions run from {MIN_DPI} to {MAX_DPI} dots "
                         f"per inch (300 suits most printers)")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise BoardError(f"{out} is a file; give a folder for board.png, board.pdf, board.toml")
    out.mkdir(parents=True, exist_ok=True)
    px_per_square = max(round(board.square_size / _INCH * dpi), 8)
    px_per_m = px_per_square / board.square_size
    margin_px = round(margin_m * px_per_m)
    front = board.image(px_per_square)
    sides = {"": front, "back_": front[:, ::-1]} if board.double_sided else {"": front}
    written: dict[str, Path] = {}
    for prefix, pattern in sides.items():
        page = np.pad(pattern, margin_px, constant_values=255)
        written[f"{prefix}png"] = _atomic_write(out / f"board{'_back' if prefix else ''}.png",
                                                png_bytes(page, px_per_m))
        written[f"{prefix}pdf"] = _atomic_write(out / f"board{'_back' if prefix else ''}.pdf",
                                                pdf_bytes(pattern, board.size_m, margin_m))
    written["toml"] = write_board_toml(board, out / "board.toml")
    return written


def png_bytes(image: NDArray[np.uint8], px_per_metre: float) -> bytes:
    """An 8-bit greyscale PNG of ``image`` (H, W) with its resolution in the pHYs chunk."""
    h, w = image.shape
    rows = np.hstack([np.zeros((h, 1), np.uint8), np.ascontiguousarray(image, np.uint8)])
    ppm = int(np.rint(px_per_metre))
    return (b"\x89PNG\r\n\x1a\n"
            + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
            + _png_chunk(b"pHYs", struct.pack(">IIB", ppm, ppm, 1))
            + _png_chunk(b"IDAT", zlib.compress(rows.tobytes(), 9))
            + _png_chunk(b"IEND", b""))


def png_resolution(data: bytes) -> float | None:
    """Pixels per metre stored in a PNG's pHYs chunk, or None."""
    pos = 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"pHYs":
            x, _, unit = struct.unpack(">IIB", data[pos + 8:pos + 17])
            return float(x) if unit == 1 else None
        pos += 12 + length
    return None


def pdf_bytes(image: NDArray[np.uint8], size_m: tuple[float, float], margin_m: float) -> bytes:
    """A one-page PDF: ``image`` (H, W) drawn at exactly ``size_m`` (width, height) metres,
    centred on a white page ``margin_m`` larger on every side."""
    to_pt = _POINTS_PER_INCH / _INCH
    w_pt, h_pt = size_m[0] * to_pt, size_m[1] * to_pt
    m_pt = margin_m * to_pt
    page_w, page_h = w_pt + 2 * m_pt, h_pt + 2 * m_pt
    h, w = image.shape
    pixels = zlib.compress(np.ascontiguousarray(image, np.uint8).tobytes(), 9)
    draw = f"q {w_pt:.4f} 0 0 {h_pt:.4f} {m_pt:.4f} {m_pt:.4f} cm /Im0 Do Q\n".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        (f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {page_w:.4f} {page_h:.4f}] "
         f"/Resources << /XObject << /Im0 4 0 R >> >> /Contents 5 0 R >>").encode(),
        (f"<< /Type /XObject /Subtype /Image /Width {w} /Height {h} /ColorSpace /DeviceGray "
         f"/BitsPerComponent 8 /Interpolate false /Filter /FlateDecode /Length {len(pixels)} >>"
         ).encode() + b"\nstream\n" + pixels + b"\nendstream",
        f"<< /Length {len(draw)} >>".encode() + b"\nstream\n" + draw + b"endstream",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += (f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
            ).encode()
    return bytes(out)


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def _atomic_write(path: Path, data: bytes) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
