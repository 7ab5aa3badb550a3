"""Qualisys QTM calibration export (``.qca.txt``, XML) to a :class:`CameraRig`.

What the file holds, per ``<camera>`` (checked against the Pose2Sim demo's file and its
converted TOML):

- ``<intrinsic>``: ``focalLengthU/V`` and ``centerPointU/V`` in 1/64-pixel sensor units;
  ``radialDistortion1..3`` and ``tangentalDistortion1..2`` are the usual dimensionless
  Brown-Conrady coefficients of normalized image coordinates (OpenCV's k1, k2, k3, p1, p2).
- ``<transform>``: ``x, y, z`` is the camera centre in the world, in millimetres; the matrix
  ``r11..r33`` read row by row is the world-to-camera rotation in Qualisys' camera axes, which
  are OpenCV's turned 180 degrees about x (y up, z backwards).
- ``<fov_video left top right bottom>``: the video window on the sensor, inclusive pixel bounds;
  its top-left corner moves the principal point, its extent is the image size.
- ``viewrotation`` (0, 90, 180, 270): the video is shown (and exported) turned clockwise by
  that angle; ``video_resolution`` ("720p"...): the video is scaled from 1080 lines.
- ``serial`` names the camera; ``model`` tells video cameras from marker-only ones.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from calibration.camera import Camera, CameraRig
from calibration.errors import CalibrationFileError
from calibration.io import MAX_IMAGE_SIDE_PX, check_lens_folds

SUBPIXELS = 64.0                    # Qualisys sensor units per pixel
_QUALISYS_TO_OPENCV = np.diag([1.0, -1.0, -1.0])   # 180 degrees about the camera x axis
_FULL_VIDEO_LINES = 1080


def read_qualisys(path: str | Path, *, pose2sim_distortion: bool = False) -> CameraRig:
    """Read a Qualisys ``.qca.txt`` calibration.

    Cameras are ordered by their serial in natural order and named ``cam_01``, ``cam_02``...
    (Pose2Sim's names); each keeps its serial in ``camera.extra["serial"]``. Marker-only
    cameras (a ``model`` without "video") are left out.

    Args:
        path: the ``.qca.txt`` file.
        pose2sim_distortion: divide the distortion coefficients by 64 as Pose2Sim's converter
            does. Off by default: the coefficients are dimensionless, and the Pose2Sim demo's
            checkerboard photos fit the file's own values better than a 64th of them.

    Returns:
        the rig in metres, OpenCV camera axes, world to camera.

    Raises:
        CalibrationFileError: naming the file, the camera and the element or attribute; or a
            camera whose lens folds back inside its image.
    """
    path = Path(path)
    root = _parse(path)
    elements = [c for c in root.iter("camera") if _is_video_camera(c)]
    if not elements:
        raise CalibrationFileError(f"{path}: no video camera found in <cameras>; a Qualisys "
                                   "calibration lists <camera serial=... model=...> elements")
    elements.sort(key=lambda c: _natural_key(c.get("serial", "")))
    width = max(2, len(str(len(elements))))
    cameras = [_camera(c, f"cam_{i + 1:0{width}d}", path, pose2sim_distortion)
               for i, c in enumerate(elements)]
    rig = CameraRig(tuple(cameras), {"metadata": {"source": "qualisys", "file": path.name}})
    return check_lens_folds(rig, path)


def rotate_image(camera: Camera, quarter_turns: int) -> Camera:
    """The same camera seeing its image turned clockwise by ``quarter_turns`` x 90 degrees.

    A pixel (u, v) of a (w, h) image goes to (h - 1 - v, u) per clockwise quarter turn (pixel
    centres at integers); the camera axes turn about z with it, so every world point projects
    to the turned pixel. Tangential distortion (p1, p2) becomes (p2, -p1); radial is unchanged.
    """
    cam = camera
    for _ in range(quarter_turns % 4):
        K, d = cam.K, cam.dist.copy()
        w, h = cam.size
        K_new = np.array([[K[1, 1], 0.0, h - 1 - K[1, 2]],
                          [0.0, K[0, 0], K[0, 2]],
                          [0.0, 0.0, 1.0]])
        if not cam.fisheye:
            d[2], d[3] = d[3], -d[2]
        turn = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
        cam = cam.replace(size=(h, w), K=K_new, dist=d, R=turn @ cam.R, t=turn @ cam.t)
    return cam


# --- one camera ----------------------------------------------------------------------------
def _camera(element: ET.Element, name: str, path: Path, pose2sim_distortion: bool) -> Camera:
    serial = element.get("serial", name)
    where = f"{path}: camera {serial}"
    fov = _attributes(element, "fov_video", ("left", "top", "right", "bottom"), where)
    intr = _attributes(element, "intrinsic", ("focalLengthU", "focalLengthV", "centerPointU",
                                              "centerPointV", "radialDistortion1",
                                              "radialDistortion2", "tangentalDistortion1",
                                              "tangentalDistortion2"), where)
    extra_intr = _attributes(element, "intrinsic", (), where, optional=("radialDistortion3",
                                                                        "skew"))
    pose = _attributes(element, "transform", ("x", "y", "z", "r11", "r12", "r13", "r21", "r22",
                                              "r23", "r31", "r32", "r33"), where)
    scale = _video_scale(element, where)
    size = (round((fov["right"] - fov["left"] + 1) * scale),
            round((fov["bottom"] - fov["top"] + 1) * scale))
    if not (0 < size[0] <= MAX_IMAGE_SIDE_PX and 0 < size[1] <= MAX_IMAGE_SIDE_PX):
        raise CalibrationFileError(f"{where}: <fov_video> gives a {size[0]}x{size[1]} px image "
                                   f"({fov}); export the calibration again from QTM with the "
                                   "video window set")
    fx, fy = intr["focalLengthU"] / SUBPIXELS, intr["focalLengthV"] / SUBPIXELS
    if not (fx > 0 and fy > 0):
        raise CalibrationFileError(f"{where}: <intrinsic focalLengthU/V> must be positive, got "
                                   f"{intr['focalLengthU']:g} and {intr['focalLengthV']:g}")
    cx = intr["centerPointU"] / SUBPIXELS - fov["left"]
    cy = intr["centerPointV"] / SUBPIXELS - fov["top"]
    skew = extra_intr.get("skew", 0.0) / SUBPIXELS
    K = np.array([[fx, skew, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]]) * [[scale], [scale], [1.0]]
    dist = np.array([intr["radialDistortion1"], intr["radialDistortion2"],
                     intr["tangentalDistortion1"], intr["tangentalDistortion2"],
                     extra_intr.get("radialDistortion3", 0.0)])
    if pose2sim_distortion:
        dist /= SUBPIXELS
    R, t = _world_to_camera(pose, where)
    camera = Camera(name, size, K, dist, R, t, extra={"serial": serial})
    return rotate_image(camera, _view_rotation(element, where))


def _world_to_camera(pose: dict[str, float], where: str) -> tuple[np.ndarray, np.ndarray]:
    """Qualisys transform to OpenCV's world-to-camera ``R`` (3, 3) and ``t`` (3,) in metres."""
    M = np.array([[pose[f"r{i}{j}"] for j in (1, 2, 3)] for i in (1, 2, 3)])
    if not np.allclose(M @ M.T, np.eye(3), atol=1e-5) or np.linalg.det(M) <= 0:
        raise CalibrationFileError(f"{where}: <transform> r11..r33 is not a rotation matrix; "
                                   "the file is damaged, export it again from QTM")
    u, _, vt = np.linalg.svd(M)                     # remove the rounding of the printed digits
    R = _QUALISYS_TO_OPENCV @ (u @ vt)
    centre = np.array([pose["x"], pose["y"], pose["z"]]) / 1000.0       # mm -> m
    return R, -R @ centre


def _video_scale(element: ET.Element, where: str) -> float:
    value = (element.get("video_resolution") or "").strip().lower()
    if value in ("", "n/a", "none"):
        return 1.0
    match = re.fullmatch(r"(\d+)p", value)
    if not match or int(match.group(1)) <= 0:
        raise CalibrationFileError(f"{where}: video_resolution={value!r} is not like '1080p' "
                                   "or '720p'")
    return int(match.group(1)) / _FULL_VIDEO_LINES


def _view_rotation(element: ET.Element, where: str) -> int:
    value = element.get("viewrotation", "0").strip()
    if value not in ("0", "90", "180", "270"):
        raise CalibrationFileError(f"{where}: viewrotation={value!r}, expected 0, 90, 180 "
                                   "or 270 (degrees clockwise)")
    return int(value) // 90


# --- XML helpers -----------------------------------------------------------------------------
def _parse(path: Path) -> ET.Element:
    if not path.is_file():
        raise CalibrationFileError(f"{path}: calibration file not found")
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        raise CalibrationFileError(f"{path}: not valid XML ({e}); a Qualisys .qca.txt file "
                                   "is XML with a <calibration> root") from e
    except OSError as e:
        raise CalibrationFileError(f"{path}: cannot be read ({e})") from e
    if root.tag != "calibration":
        raise CalibrationFileError(f"{path}: XML root is <{root.tag}>, a Qualisys calibration "
                                   "has <calibration>")
    return root


def _attributes(element: ET.Element, child: str, required: tuple[str, ...], where: str,
                optional: tuple[str, ...] = ()) -> dict[str, float]:
    node = element.find(child)
    if node is None:
        raise CalibrationFileError(f"{where}: no <{child}> element")
    values = {}
    for key in required + optional:
        text = node.get(key)
        if text is None:
            if key in optional:
                continue
            raise CalibrationFileError(f"{where}: <{child}> has no '{key}' attribute")
        try:
            values[key] = float(text)
        except ValueError:
            raise CalibrationFileError(f"{where}: <{child} {key}={text!r}> is not a "
                                       "number") from None
        if not np.isfinite(values[key]):
            raise CalibrationFileError(f"{where}: <{child} {key}={text!r}> is not finite")
    return values


def _is_video_camera(element: ET.Element) -> bool:
    model = (element.get("model") or "none").lower()
    return "video" in model or model == "none"


def _natural_key(text: str) -> list[int | str]:
    return [int(p) if p.isdigit() else p.lower() for p in re.split(r"(\d+)", text)]
