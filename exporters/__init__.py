"""Writers (and readers) of motion files: points3d.npz, TRC; BVH, FBX, C3D come later."""

from exporters.errors import ExportError
from exporters.points3d import read_points3d, write_points3d
from exporters.trc import read_trc, write_trc

__all__ = ["ExportError", "read_points3d", "read_trc", "write_points3d", "write_trc"]
