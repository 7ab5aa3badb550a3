"""``output/report.html``: a take's quality at a glance, in one self-contained page.

Sections: a summary first (the take's numbers and links to the files beside the report: the 3D
viewer, points3d.npz, the exports), then the warnings, the calibration, detection rate per
camera over time, reprojection error per camera and joint, views per joint, bone lengths over
time, sync offsets, a summary per person and still images of the 3D skeleton. The figures are
plotly's, with its JavaScript inlined once in the page's head; the images are PNG data URIs:
the page loads nothing from anywhere and opens offline (its only links are to files beside it).
"""

from __future__ import annotations

import base64
import html
from pathlib import Path
from urllib.parse import quote

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from mocap.report_data import (
    MAX_TIME_POINTS,
    ReportInputs,
    calibration_rows,
    person_rows,
    still_frames,
    summary_rows,
    sync_rows,
    warnings,
)
from mocap.report_figures import (
    bones_figure,
    camera_error_figure,
    camera_joint_error_figure,
    detection_figure,
    skeleton_stills,
    views_figure,
)

STYLE = """
body { font-family: sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.warnings li { color: #a30; }
.stills img { margin: 0.3em; border: 1px solid #ddd; }
table.summary th { text-align: left; background: #f4f4f4; }
table.summary td { text-align: left; }
"""
SECTIONS = ("summary", "warnings", "calibration", "detection", "reprojection", "views", "bones",
            "sync", "people", "stills")


def write_report(path: Path, inputs: ReportInputs, title: str) -> None:
    """Write the report of a take to ``path`` (``output/report.html``)."""
    path.write_text(report_html(inputs, title), encoding="utf-8")


def report_html(inputs: ReportInputs, title: str) -> str:
    """The whole page: every section of SECTIONS, in that order."""
    m = inputs.motion
    decimation = (f"<p>Time plots show at most {MAX_TIME_POINTS} points per line: a longer "
                  f"take ({m.n_frames} frames here) is cut into blocks of ceil(frames / "
                  f"{MAX_TIME_POINTS}) frames, each shown as its mean.</p>")
    bodies = {
        "summary": _summary(inputs),
        "warnings": _warnings(inputs),
        "calibration": (f"<p>{html.escape(inputs.calibration.source)}</p>"
                        + _table(calibration_rows(inputs))),
        "detection": decimation + _figure(detection_figure(inputs)),
        "reprojection": ("<p>Mean distance from each camera's detections to the joints "
                         "projected back through it.</p>"
                         + _figure(camera_error_figure(inputs))
                         + _figure(camera_joint_error_figure(inputs))),
        "views": _figure(views_figure(m)),
        "bones": ("<p>The rigid bones outside the head; a steady line is a well-measured "
                  "bone.</p>" + _figure(bones_figure(m))),
        "sync": (_table(sync_rows(inputs.sync)) if inputs.sync is not None else
                 "<p>Not estimated ([sync] mode is off): the cameras' 2D was used as "
                 "given.</p>"),
        "people": _table(person_rows(m)),
        "stills": _stills(inputs),
    }
    titles = {"summary": "Summary", "warnings": "Warnings", "calibration": "Calibration",
              "detection": "Detection rate per camera over time",
              "reprojection": "Reprojection error per camera and joint",
              "views": "Views per joint", "bones": "Bone lengths over time",
              "sync": "Sync offsets", "people": "Per-person summary",
              "stills": "The 3D skeleton"}
    sections = "\n".join(f'<section id="{key}"><h2>{titles[key]}</h2>\n{bodies[key]}</section>'
                         for key in SECTIONS)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape(title)}</title><style>{STYLE}</style>\n"
            f'<script type="text/javascript">{get_plotlyjs()}</script></head>\n'
            f"<body><h1>{html.escape(title)}</h1>\n{sections}\n</body></html>\n")


def _summary(inputs: ReportInputs) -> str:
    """The take's numbers as a two-column table, and a link to each result file."""
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
                   for k, v in summary_rows(inputs))
    links = ", ".join(f'<a href="{html.escape(quote(name))}">{html.escape(name)}</a>'
                      for name in inputs.files)
    return (f'<table class="summary">{rows}</table>\n<p>Files: '
            f"{links or 'none written beside this report'}.</p>")


def _warnings(inputs: ReportInputs) -> str:
    lines = warnings(inputs)
    if not lines:
        return "<p>None.</p>"
    return '<ul class="warnings">' + "".join(
        f"<li>{html.escape(line)}</li>" for line in lines) + "</ul>"


def _stills(inputs: ReportInputs) -> str:
    frames = still_frames(inputs.motion)
    images = skeleton_stills(inputs.motion, frames, inputs.rig)
    if images is None:
        return ("<p>No images: neither Open3D (the viz extra: pip install -e \".[viz]\") nor "
                "matplotlib (pip install matplotlib) is installed, and they draw them.</p>")
    if not images:
        return "<p>No images: no joint was found in 3D.</p>"
    return '<div class="stills">' + "".join(
        f'<img alt="3D skeleton, frame {f}" src="data:image/png;base64,'
        f'{base64.b64encode(png).decode()}">' for f, png in zip(frames, images)) + "</div>"


def _figure(fig: go.Figure) -> str:
    """A figure's div and script, without plotly's JavaScript (the page's head has it)."""
    return fig.to_html(full_html=False, include_plotlyjs=False, default_height=fig.layout.height,
                       config={"displaylogo": False})


def _table(rows: list[dict[str, str]]) -> str:
    if not rows:
        return "<p>Nothing to show.</p>"
    header = "".join(f"<th>{html.escape(k)}</th>" for k in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in row.values())
                   + "</tr>" for row in rows)
    return f"<table><tr>{header}</tr>{body}</table>"
