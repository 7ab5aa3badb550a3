"""The ``mocap batch`` subcommand: its options and what it prints (the work: :mod:`mocap.batch`).

Exit status: 0 when every take is ok or up to date, 1 when any take failed (the summary says
why), 2 for bad input (no takes, an unreachable Ray cluster...), as every ``mocap`` command.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_batch(commands: argparse._SubParsersAction) -> None:
    """Add ``batch`` to the ``mocap`` command's subcommands."""
    batch = commands.add_parser(
        "batch", help="run every session (take) under the given folders, in parallel",
        description="Find the sessions under PATH (folders holding session.toml, calibration/, "
        "videos/ or keypoints2d/) and run each as 'mocap run' does: one task per take, and per "
        "camera for 2D detection, in a local process pool or on Ray. Takes whose outputs are "
        "up to date are skipped; a failed take does not stop the others. A summary table is "
        "printed and written to batch_summary.csv and batch_summary.json.")
    batch.add_argument("paths", nargs="+", type=Path, metavar="PATH",
                       help="session folders, or folders holding them (searched recursively)")
    batch.add_argument("--ray", metavar="auto|ADDRESS",
                       help="run on Ray: 'auto' joins the Ray instance on this machine or starts "
                       "one; HOST:6379 or ray://HOST:10001 connects to a cluster (needs "
                       "mocap[distributed]); default: a local process pool")
    batch.add_argument("--workers", type=int, metavar="N",
                       help="tasks at once (default: this machine's cores, or the cluster's "
                       "CPUs; with --ray auto, the CPUs of the instance it starts)")
    batch.add_argument("--summary", type=Path, default=Path("."), metavar="FOLDER",
                       help="where to write batch_summary.csv and .json (default: the current "
                       "folder)")
    batch.add_argument("-q", "--quiet", action="store_true",
                       help="no progress line and no table (failures are still reported)")
    batch.set_defaults(func=batch_command)


def batch_command(args: argparse.Namespace) -> int:
    """Run the batch, print and write its summary; 1 when any take failed."""
    from mocap.batch import run_batch
    from mocap.batch_summary import format_table, write_summary
    rows = run_batch(args.paths, ray=args.ray, workers=args.workers, progress=not args.quiet)
    written = write_summary(rows, args.summary)
    if not args.quiet:
        print(format_table(rows))
        print("\n".join(f"wrote {p}" for p in written))
    failed = [row for row in rows if row["status"] == "failed"]
    for row in failed:
        print(f"mocap: take {row['take']} failed: {row['message']}", file=sys.stderr)
    return 1 if failed else 0
