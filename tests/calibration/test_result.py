"""The calibration's result types: no import circles among calibration's modules (report.py
imported calibrate.py's CalibrationResult, which imported report.py's summary), and a report
that serialises to plain values."""

from __future__ import annotations

import ast
import json
from dataclasses import asdict
from pathlib import Path

import networkx as nx

from calibration.result import (
    BundleSummary,
    CalibrationReport,
    CameraReport,
    CameraTiming,
    FrameShifts,
    GraphEdge,
    MotionReport,
)
from calibration.world_frame import WorldFrame

PACKAGE = Path(__file__).resolve().parents[2] / "calibration"


def imports_of(path: Path) -> set[str]:
    """The calibration modules a file imports, under TYPE_CHECKING and inside functions too."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module == "calibration":
            found |= {f"calibration.{a.name}" for a in node.names}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("calibration."):
            found.add(str(node.module))
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("calibration.")}
    return found


def test_calibration_modules_import_each_other_without_circles():
    graph = nx.DiGraph()
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        graph.add_edges_from((module, imported) for imported in imports_of(path))
    assert list(nx.simple_cycles(graph)) == []
    assert "calibration.calibrate" not in imports_of(PACKAGE / "report.py")


def test_report_serialises_to_plain_values():
    camera = CameraReport(0.4, 90, 95, 88, 4000, 12, 0, "refined", "solved", True, 0.3, 40,
                          0.8, 1400.0, 1401.0, 960.0, 540.0, (0.1, 0.0, 0.0, 0.0, 0.0),
                          (1.0, 2.0, 3.0))
    report = CalibrationReport(
        {"cam_1": camera}, "cam_1", [GraphEdge(("cam_1", "cam_2"), 50, 50.0, True)], 100, 80,
        BundleSummary(0.4, 0.9, 495.0, 12, 11, True, "converged", 1.5),
        WorldFrame("camera", camera="cam_1"), {"intrinsics": 1.0, "total": 2.0},
        MotionReport(False, 0.4, 0.4, "frames", {"cam_1": CameraTiming(True, 0.0, 0.0, False,
                                                                       False)}),
        ["camera cam_2: check it"], FrameShifts({"cam_2": 1}, (0.8, 0.4)))
    plain = json.loads(json.dumps(asdict(report)))
    assert plain["cameras"]["cam_1"]["center_m"] == [1.0, 2.0, 3.0]
    assert plain["world_frame"]["camera"] == "cam_1"
    assert plain["frame_shifts"] == {"cameras": {"cam_2": 1}, "rms_px": [0.8, 0.4]}
