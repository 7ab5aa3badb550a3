"""The ``mocap`` command. User errors print one clear message (no traceback) and exit 2."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from mocap.errors import user_errors
from mocap.export_config import FORMATS

# `mocap calibrate SESSION` and `mocap calibrate intrinsics|import ...` share a first word;
# the second word picks the hidden command that does the work.
_CALIBRATE_TOOLS = {"intrinsics": "calibrate-intrinsics", "import": "calibrate-import"}


def _version() -> str:
    try:
        return version("mocap")
    except PackageNotFoundError:
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mocap", description="Multi-camera 3D motion capture: calibrate cameras from a "
        "ChArUco board, triangulate 2D keypoints into 3D skeletons, export them.")
    parser.add_argument("--version", action="version", version=f"mocap {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_run(commands)
    _add_detect(commands)
    _add_triangulate(commands)
    from mocap.batch_cli import add_batch
    add_batch(commands)
    _add_calibrate(commands)
    _add_board(commands)
    _add_evaluate(commands)
    _add_export(commands)
    _add_lifter(commands)
    _add_view(commands)
    return parser


def _add_run(commands: argparse._SubParsersAction) -> None:
    run = commands.add_parser(
        "run", help="reconstruct the 3D motion of a session folder",
        description="Calibrate SESSION/calibration if needed, detect 2D in SESSION/videos when "
        "the session has no SESSION/keypoints2d, triangulate, adjust the skeleton, filter; "
        "write SESSION/output/points3d.npz and .trc.")
    _reconstruction_options(run)
    run.set_defaults(func=_run)


def _reconstruction_options(command: argparse.ArgumentParser) -> None:
    """The session, output, calibration and triangulation options of run and triangulate."""
    command.add_argument("session", help="session folder")
    command.add_argument("-o", "--output", help="output folder (default: SESSION/output)")
    command.add_argument("--calibration", type=Path, metavar="FILE",
                         help="use this calibration (ours, Pose2Sim/anipose TOML, Qualisys "
                         ".qca.txt, caliscope or FreeMoCap) instead of the session's")
    command.add_argument("--min-views", type=int, help="cameras needed per joint (default 2)")
    command.add_argument("--min-score", type=float,
                         help="ignore 2D below this score (default 0.3)")
    command.add_argument("--sync", choices=("off", "auto", "check"),
                         help="cameras' time offsets from the motion: check (report, warn), "
                         "auto (also apply them), off (default: session.toml's [sync] mode)")
    command.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")


def _add_detect(commands: argparse._SubParsersAction) -> None:
    det = commands.add_parser(
        "detect", help="find every person's 2D keypoints in a session's videos",
        description="Detect 2D keypoints in SESSION/videos/<camera>.<ext> (matched to the "
        "calibration's cameras when the session has one); write SESSION/output/keypoints2d/"
        "<camera>.npz. Finished work is cached: a rerun resumes, a changed video or setting "
        "redoes only what it affects.")
    det.add_argument("session", help="session folder")
    det.add_argument("-o", "--output", help="output folder (default: SESSION/output)")
    det.add_argument("--detector", help="detector name (default: session.toml's, else blazepose)")
    det.add_argument("--calibration", type=Path, metavar="FILE",
                     help="match the videos to this calibration's cameras")
    det.add_argument("--overlay", nargs="?", const="sheet", choices=("sheet", "video"),
                     help="also draw the skeletons: a contact sheet PNG (default) or a video "
                     "per camera, in SESSION/output/overlay/")
    det.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    det.set_defaults(func=_detect)


def _add_triangulate(commands: argparse._SubParsersAction) -> None:
    tri = commands.add_parser(
        "triangulate", help="the 3D part of run, on the 2D a session has (no detection)",
        description="Calibrate if needed, triangulate SESSION/keypoints2d (else the 2D that "
        "'mocap detect' wrote to SESSION/output/keypoints2d), adjust the skeleton, filter; "
        "write SESSION/output/points3d.npz and .trc. The triangulation is cached: a rerun with "
        "only [filter] changed redoes only the filter.")
    _reconstruction_options(tri)
    tri.set_defaults(func=_triangulate)


def _add_calibrate(commands: argparse._SubParsersAction) -> None:
    cal = commands.add_parser(
        "calibrate", help="calibrate cameras from board footage (also: intrinsics, import)",
        description="mocap calibrate SESSION: intrinsics and extrinsics from "
        "SESSION/calibration/ (board.toml, <camera>.mp4 or <camera>/ image folders, optional "
        "timestamps.csv and intrinsics.toml); writes SESSION/output/calibration.toml and "
        "SESSION/output/calibration_report/. Also: 'mocap calibrate intrinsics FOOTAGE... "
        "--board board.toml -o intrinsics.toml' and 'mocap calibrate import FILE -o OUT'.")
    cal.add_argument("session", help="session folder")
    cal.add_argument("-o", "--output", help="output folder (default: SESSION/output)")
    cal.add_argument("--force", action="store_true", help="recalibrate even if nothing changed")
    cal.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    cal.set_defaults(func=_calibrate)

    intr = commands.add_parser(_CALIBRATE_TOOLS["intrinsics"], prog="mocap calibrate intrinsics",
                               description="Intrinsics of each camera from its board footage.")
    intr.add_argument("footage", nargs="+", type=Path, help="videos or image folders, one per "
                      "camera (the camera is named after the file or folder)")
    intr.add_argument("--board", type=Path, required=True, help="board.toml")
    intr.add_argument("-o", "--output", type=Path, required=True, help="intrinsics TOML to write")
    intr.add_argument("--fisheye", action="store_true", help="OpenCV's fisheye lens model")
    intr.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    intr.set_defaults(func=_calibrate_intrinsics)

    imp = commands.add_parser(_CALIBRATE_TOOLS["import"], prog="mocap calibrate import",
                              description="Convert another system's calibration to ours.")
    imp.add_argument("file", type=Path, help="Qualisys .qca.txt, caliscope camera_array.toml or "
                     "config.toml, FreeMoCap TOML, Pose2Sim/anipose TOML")
    imp.add_argument("-o", "--output", type=Path, required=True, help="calibration TOML to write")
    imp.add_argument("--pose2sim-distortion", action="store_true",
                     help="Qualisys: divide distortion coefficients by 64 as Pose2Sim does")
    imp.set_defaults(func=_calibrate_import)


def _add_board(commands: argparse._SubParsersAction) -> None:
    board = commands.add_parser("board", help="make a printable calibration board")
    tools = board.add_subparsers(dest="board_command", metavar="ACTION", required=True)
    create = tools.add_parser(
        "create", help="write board.png, board.pdf (exact physical size) and board.toml",
        description="Write a printable board at exact physical size and its board.toml.")
    create.add_argument("-o", "--output", type=Path, default=Path("board"), help="folder")
    create.add_argument("--type", choices=("charuco", "checkerboard"), default="charuco")
    create.add_argument("--squares", type=int, nargs=2, default=(5, 7),
                        metavar=("COLUMNS", "ROWS"), help="squares, not inner corners")
    create.add_argument("--square-size", type=float, default=0.04, help="metres")
    create.add_argument("--marker-size", type=float, default=0.03, help="metres (ChArUco)")
    create.add_argument("--dictionary", default="DICT_4X4_50", help="OpenCV ArUco dictionary")
    create.add_argument("--inverted", action="store_true", help="white markers on black")
    create.add_argument("--double-sided", action="store_true", help="also print the back")
    create.add_argument("--dpi", type=int, default=300)
    create.set_defaults(func=_board_create)


def _add_evaluate(commands: argparse._SubParsersAction) -> None:
    ev = commands.add_parser(
        "evaluate", help="score a session's 3D against a reference, and its 2D",
        description="Compare SESSION/output/points3d.npz with a reference (TRC or C3D markers "
        "named like our joints, our points3d.npz, or a CMU BVH), clocks aligned by "
        "cross-correlation: MPJPE, PA-MPJPE, PCK3D@50/100 mm per joint and overall; per "
        "camera, the 2D scored against the reprojected 3D (PCK@0.2 torso, COCO OKS).")
    ev.add_argument("session", help="session folder")
    ev.add_argument("--reference", type=Path, required=True, metavar="FILE",
                    help="reference motion: .trc, .c3d, .npz or .bvh")
    ev.add_argument("-o", "--output", help="output folder (default: SESSION/output)")
    ev.add_argument("--max-shift", type=float, default=2.0, metavar="SECONDS",
                    help="largest clock offset searched (default 2 s)")
    ev.set_defaults(func=_evaluate)


def _add_export(commands: argparse._SubParsersAction) -> None:
    ex = commands.add_parser(
        "export", help="write a session's 3D motion as BVH, FBX, TRC, C3D, CSV, JSON or robot "
        "trajectories",
        description="Export SESSION/output/points3d.npz: bvh (the humanoid rig fitted to each "
        "person), fbx (Blender's bpy: pip install 'mocap[blender]'), trc (OpenSim/Pose2Sim "
        "markers), c3d (ezc3d: pip install 'mocap[biomech]'), csv and json (a row per frame "
        "and person), robot (hand poses and a URDF arm's joints, [export.robot] in "
        "session.toml). Written into SESSION/output together, all or nothing.")
    ex.add_argument("session", help="session folder")
    ex.add_argument("-f", "--format", required=True, metavar="LIST",
                    help="comma-separated formats: " + ", ".join(FORMATS))
    ex.add_argument("-o", "--output", help="output folder (default: SESSION/output)")
    ex.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    ex.set_defaults(func=_export)


def _add_lifter(commands: argparse._SubParsersAction) -> None:
    lifter = commands.add_parser(
        "lifter", help="train, score or fine-tune the 2D-to-3D lifter (needs mocap[lift])",
        description="The lifter gives 3D from one camera's 2D: monocular sessions, and joints "
        "fewer than two cameras saw.")
    tools = lifter.add_subparsers(dest="tool", metavar="TOOL", required=True)
    train = tools.add_parser("train", help="train on BVH/FBX motion capture",
                             description="Train the lifter on the BVH and FBX files under "
                             "MOTION (files or folders) and score the held-out clips.")
    train.add_argument("motion", nargs="+", type=Path, help="motion files or folders")
    train.add_argument("-o", "--output", type=Path, default=Path("lifter.pt"),
                       help="weights file to write (default lifter.pt)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--steps", type=int, help="training steps (default 12000)")
    train.add_argument("--hold-out", default="", metavar="STEMS",
                       help="comma-separated file stems left out of training and scored")
    train.add_argument("--causal", action="store_true",
                       help="a window of past frames only (live use), not centred")
    train.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    train.set_defaults(func=_lifter_train)
    ev = tools.add_parser("eval", help="score the lifter on motion capture or our 3D",
                          description="Project MOTION (BVH, FBX, or points3d.npz files, or "
                          "folders) through the given cameras (or random studio cameras), add "
                          "pixel noise, lift, and print MPJPE and PA-MPJPE.")
    ev.add_argument("motion", nargs="+", type=Path, help="motion files or folders")
    ev.add_argument("--calibration", type=Path, metavar="FILE", help="cameras to project with")
    ev.add_argument("--noise", type=float, default=3.0, metavar="PX",
                    help="Gaussian pixel noise, std per axis (default 3)")
    ev.add_argument("--weights", type=Path, help="weights file (default: the shipped ones)")
    ev.add_argument("--seed", type=int, default=0)
    ev.set_defaults(func=_lifter_eval)
    fine = tools.add_parser("finetune", help="go on training on sessions' triangulated 3D",
                            description="Fine-tune the lifter on the 3D of multi-view "
                            "sessions (SESSION/output/points3d.npz).")
    fine.add_argument("sessions", nargs="+", type=Path, metavar="SESSION")
    fine.add_argument("-o", "--output", type=Path, required=True, help="weights file to write")
    fine.add_argument("--weights", type=Path, help="weights to start from (default: shipped)")
    fine.add_argument("--steps", type=int, default=2000)
    fine.add_argument("--seed", type=int, default=0)
    fine.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    fine.set_defaults(func=_lifter_finetune)


def _add_view(commands: argparse._SubParsersAction) -> None:
    from mocap.viewer_data import COLOURINGS, MAX_FRAMES
    view = commands.add_parser(
        "view", help="write a page that plays a session's 3D skeletons in the browser",
        description="Write SESSION/output/viewer.html from SESSION/output/points3d.npz and the "
        "calibration: the skeletons, the cameras and the floor in 3D, with a frame slider and a "
        "play button, in one self-contained page that opens offline (viewer.html#frame=N opens "
        "at frame N). 'mocap run' writes it too.")
    view.add_argument("session", help="session folder")
    view.add_argument("-o", "--output", help="output folder (default: SESSION/output)")
    view.add_argument("--colour", choices=COLOURINGS, default="error",
                      help="colour joints by reprojection error (default) or by source "
                      "(triangulated, lifted, filled)")
    view.add_argument("--max-frames", type=int, default=MAX_FRAMES, metavar="N",
                      help=f"frames kept at most, spread over the take (default {MAX_FRAMES})")
    view.add_argument("--serve", action="store_true",
                      help="then serve the output folder on 127.0.0.1 (a free port) until "
                      "Ctrl-C")
    view.add_argument("--desktop", action="store_true",
                      help="open an Open3D window instead (the viz extra): space plays, the "
                      "arrow keys step, L toggles the lifted joints' colour")
    view.add_argument("--scene", type=Path, metavar="FILE",
                      help="also write the cameras, floor and skeletons of one frame as a line "
                      "set for other 3D tools: .ply, .glb or .gltf")
    view.add_argument("--frame", type=int, default=0,
                      help="the frame --scene writes and --desktop opens at (default 0)")
    view.set_defaults(func=_view)


def _view(args: argparse.Namespace) -> int:
    from mocap.session import Session
    from mocap.viewer import serve, session_motion, view_session
    session = Session.open(args.session, args.output)
    if args.scene is not None:
        from mocap.scene3d import build_scene
        from mocap.scene3d_io import write_scene
        motion, rig = session_motion(session)
        print(f"wrote {write_scene(build_scene(motion, args.frame, rig), args.scene)}",
              flush=True)
    if args.desktop:
        from mocap.open3d_view import show_desktop
        motion, rig = session_motion(session)
        show_desktop(motion, rig, title=session.root.name, start_frame=args.frame)
        return 0
    path = view_session(session, colour=args.colour, max_frames=args.max_frames)
    print(f"wrote {path}", flush=True)
    if args.serve:
        serve(path.parent, path.name)
    return 0


def _lifter_train(args: argparse.Namespace) -> int:
    from mocap.lifting import require_torch
    require_torch()
    from mocap.lifting.commands import train_command
    from mocap.lifting.model import LifterShape
    from mocap.lifting.train import TrainConfig
    config = TrainConfig(shape=LifterShape(causal=args.causal))
    config = config if args.steps is None else replace(config, steps=args.steps)
    hold_out = tuple(s.strip() for s in args.hold_out.split(",") if s.strip())
    print("\n".join(train_command(args.motion, args.output, seed=args.seed, hold_out=hold_out,
                                  config=config, progress=not args.quiet)))
    return 0


def _lifter_eval(args: argparse.Namespace) -> int:
    from mocap.lifting import require_torch
    require_torch()
    from mocap.lifting.commands import eval_command
    print("\n".join(eval_command(args.motion, weights=args.weights,
                                 calibration=args.calibration, noise_px=args.noise,
                                 seed=args.seed)))
    return 0


def _lifter_finetune(args: argparse.Namespace) -> int:
    from mocap.lifting import require_torch
    require_torch()
    from mocap.lifting.commands import finetune_command
    print("\n".join(finetune_command(args.sessions, args.output, weights=args.weights,
                                     seed=args.seed, steps=args.steps,
                                     progress=not args.quiet)))
    return 0


def _export(args: argparse.Namespace) -> int:
    from mocap.export_config import parse_formats
    from mocap.export_stage import export_session
    from mocap.session import Session
    formats = parse_formats(args.format)
    written, notes = export_session(Session.open(args.session, args.output), formats)
    if not args.quiet:
        print("\n".join(notes + [f"wrote {p}" for p in written]))
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from mocap.evaluate import evaluate_session, format_evaluation
    from mocap.session import Session
    session = Session.open(args.session, args.output)
    result, scores_2d = evaluate_session(session, args.reference, max_shift_s=args.max_shift)
    print("\n".join(format_evaluation(result, scores_2d)))
    return 0


def _run(args: argparse.Namespace) -> int:
    from mocap.pipeline import format_summary, run_session
    from mocap.session import Session
    session = Session.open(args.session, args.output)
    result = run_session(session, calibration_file=args.calibration, progress=not args.quiet,
                         sync=args.sync, min_views=args.min_views, min_score=args.min_score)
    if not args.quiet:
        print(format_summary(result))
    return 0


def _triangulate(args: argparse.Namespace) -> int:
    from mocap.pipeline import format_summary, triangulate_session
    from mocap.session import Session
    session = Session.open(args.session, args.output)
    result = triangulate_session(session, calibration_file=args.calibration,
                                 progress=not args.quiet, sync=args.sync,
                                 min_views=args.min_views, min_score=args.min_score)
    if not args.quiet:
        print(format_summary(result))
    return 0


def _detect(args: argparse.Namespace) -> int:
    from mocap.keypoints_stage import detect_session, format_detection
    from mocap.run_outputs import RunOutputs
    from mocap.session import Session
    session = Session.open(args.session, args.output)
    with RunOutputs(session.output) as run:
        detection = detect_session(session, run, calibration_file=args.calibration,
                                   detector=args.detector, overlay=args.overlay,
                                   progress=not args.quiet)
        written = run.commit()
    if not args.quiet:
        print("\n".join(format_detection(detection) + [f"wrote {p}" for p in written]))
    return 0


def _calibrate(args: argparse.Namespace) -> int:
    from mocap.calibration_stage import calibrate_session
    from mocap.pipeline import format_calibration
    from mocap.run_outputs import RunOutputs
    from mocap.session import Session
    session = Session.open(args.session, args.output)
    with RunOutputs(session.output) as run:
        calibration = calibrate_session(session, run, progress=not args.quiet, force=args.force)
        written = run.commit()
    if not args.quiet:
        print("\n".join(format_calibration(calibration) + [f"wrote {p}" for p in written]))
    return 0


def _calibrate_intrinsics(args: argparse.Namespace) -> int:
    from calibration.board import load_board
    from calibration.board_scan import detect_all
    from calibration.camera import CameraRig
    from calibration.intrinsics import calibrate_intrinsics
    from calibration.io import write_calibration
    board = load_board(args.board)
    detections = detect_all({p.stem if p.is_file() else p.name: p for p in args.footage}, board,
                            progress=not args.quiet)
    results = {cam: calibrate_intrinsics(det, board, fisheye=args.fisheye)
               for cam, det in detections.items()}
    cameras = tuple(r.camera.replace(extra={"rms": r.rms}) for r in results.values())
    write_calibration(CameraRig(cameras), args.output)
    if not args.quiet:
        for cam, r in results.items():
            print(f"{cam}: fx {r.camera.K[0, 0]:.1f} fy {r.camera.K[1, 1]:.1f} px, RMS "
                  f"{r.rms:.3f} px over {r.views_used.size} views, coverage {r.coverage:.0%}")
        print(f"wrote {args.output}")
    return 0


def _calibrate_import(args: argparse.Namespace) -> int:
    from calibration.importers import detect_format, import_calibration, read_qualisys
    from calibration.io import write_calibration
    if args.pose2sim_distortion and detect_format(args.file) == "qualisys":
        rig = read_qualisys(args.file, pose2sim_distortion=True)
    else:
        rig = import_calibration(args.file)
    write_calibration(rig, args.output)
    print(f"imported {len(rig)} cameras ({', '.join(rig.names)}) from {args.file}; "
          f"wrote {args.output}")
    return 0


def _board_create(args: argparse.Namespace) -> int:
    from calibration.board import Board
    from calibration.board_print import write_printable
    board = Board(args.type, tuple(args.squares), args.square_size,
                  args.marker_size if args.type == "charuco" else 0.0, args.dictionary,
                  inverted=args.inverted, double_sided=args.double_sided,
                  source="command-line options")
    for kind, path in write_printable(board, args.output, dpi=args.dpi).items():
        print(f"wrote {path} ({kind})")
    w, h = board.size_m
    print(f"print at 100 % scale: the squares area is {w * 100:.1f} x {h * 100:.1f} cm")
    return 0


def _route(argv: list[str]) -> list[str]:
    """``calibrate intrinsics ...`` -> ``calibrate-intrinsics ...`` (and ``import``)."""
    if len(argv) >= 2 and argv[0] == "calibrate" and argv[1] in _CALIBRATE_TOOLS:
        return [_CALIBRATE_TOOLS[argv[1]], *argv[2:]]
    return argv


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(_route(list(sys.argv[1:] if argv is None else argv)))
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
