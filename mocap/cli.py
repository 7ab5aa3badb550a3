"""The ``mocap`` command. User errors print one clear message (no traceback) and exit 2."""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import PackageNotFoundError, version

from mocap.errors import user_errors
from mocap.pipeline import format_summary, run_session
from mocap.session import Session


def _version() -> str:
    try:
        return version("mocap")
    except PackageNotFoundError:
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mocap", description="Multi-camera 3D motion capture: calibrate cameras, "
        "triangulate 2D keypoints into 3D skeletons, export them.")
    parser.add_argument("--version", action="version", version=f"mocap {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = commands.add_parser("run", help="reconstruct 3D motion of a session folder",
                              description="Read SESSION/calibration and SESSION/keypoints2d, "
                              "triangulate, write SESSION/output/points3d.npz and .trc.")
    run.add_argument("session", help="session folder")
    run.add_argument("-o", "--output", help="output folder (default: SESSION/output)")
    run.add_argument("--min-views", type=int, help="cameras needed per joint (default 2)")
    run.add_argument("--min-score", type=float, help="ignore 2D below this score (default 0.3)")
    run.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    run.set_defaults(func=_run)
    return parser


def _run(args: argparse.Namespace) -> int:
    session = Session.open(args.session, args.output)
    result = run_session(session, min_views=args.min_views, min_score=args.min_score)
    if not args.quiet:
        print(format_summary(result))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except user_errors() as e:
        print(f"mocap: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mocap: interrupted; finished outputs are kept, nothing is half-written",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
