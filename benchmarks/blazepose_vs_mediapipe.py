"""Our direct BlazePose path against mediapipe's legacy ``mp.solutions.pose.Pose`` (model
complexity 1: the same two models) on the Pose2Sim demo's single-person videos.

Prints, per camera: milliseconds per frame of each path for one person (model calls, crops and
decoding; not video decoding), and the pixel distance between the two paths' 33 landmarks:
on single frames (``static_image_mode``: both run the person detector, then the landmark model
on its crop) and over the video (both track from the previous frame's landmarks; MediaPipe
also smooths the points that place its next crop). Also the distance of each path's limb
joints to the demo's OpenPose BODY_25B 2D (an independent detector, for the heatmap refinement
question).

    python benchmarks/blazepose_vs_mediapipe.py [--frames 100] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np

from mocap.detection.blazepose import BlazePose
from mocap.detection.config import DetectionConfig
from mocap.detection.person_detector import PersonDetector
from mocap.detection.pose_landmarks import N_BODY, LandmarkModel, Rois
from rigs.skeleton import get_skeleton

DEMO = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "pose2sim_demo"
LIMBS = ["left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist",
         "right_wrist", "left_knee", "right_knee", "left_ankle", "right_ankle"]


def read_frames(path: Path, n: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while len(frames) < n:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    return frames


def legacy(static: bool):
    """mediapipe's Pose as a function: BGR frame -> (33, 2) px, NaN where not found."""
    import mediapipe as mp
    pose = mp.solutions.pose.Pose(static_image_mode=static, model_complexity=1,
                                  smooth_landmarks=False)

    def run(frame: np.ndarray) -> np.ndarray:
        found = pose.process(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)).pose_landmarks
        if found is None:
            return np.full((N_BODY, 2), np.nan)
        return np.array([[p.x, p.y] for p in found.landmark]) * frame.shape[1::-1]
    return run


def ours(threads: int, **config: int):
    """Our tracker following the best person, as a function like :func:`legacy`'s."""
    detector = BlazePose(DetectionConfig(max_people=1, **config))
    detector._models = (PersonDetector(detector.config.min_person_score, num_threads=threads),
                        LandmarkModel(threads))
    tracker = detector.stream()

    def run(frame: np.ndarray) -> np.ndarray:
        people = tracker(frame)
        return people.xy[0] if len(people.track_id) else np.full((N_BODY, 2), np.nan)
    return run


def track(frames: list[np.ndarray], paths: dict) -> tuple[dict, dict]:
    """Each path over the frames, the paths taking turns on each frame (so that the machine's
    other load falls on all alike): (F, 33, 2) px and median ms per frame, by path name."""
    xy = {name: np.full((len(frames), N_BODY, 2), np.nan) for name in paths}
    times: dict[str, list[float]] = {name: [] for name in paths}
    for f, frame in enumerate(frames):
        for name, run in paths.items():
            start = time.perf_counter()
            xy[name][f] = run(frame)
            times[name].append(time.perf_counter() - start)
    return xy, {name: 1e3 * float(np.median(t[1:])) for name, t in times.items()}


def ours_static(frames: list[np.ndarray], refine: bool) -> np.ndarray:
    """(F, 33, 2) px: MediaPipe's single-image path (whole-frame detection, best one)."""
    detector, landmarks = PersonDetector(tiles=False), LandmarkModel(refine=refine)
    xy = np.full((len(frames), N_BODY, 2), np.nan)
    for f, frame in enumerate(frames):
        _, _, points = detector(frame)
        if len(points):
            xy[f] = landmarks(frame, Rois.from_alignment(points[:1, :2])).xy[0, :N_BODY]
    return xy


def openpose(camera: str, n: int) -> np.ndarray:
    """(F, 10, 2) px of the LIMBS from the demo's OpenPose JSON (the first person)."""
    names = get_skeleton("body25b").joints
    folder = DEMO / "single_person" / "openpose_body25b" / f"{camera}_json"
    out = np.full((n, len(LIMBS), 2), np.nan)
    for f, path in enumerate(sorted(folder.glob("*.json"))[:n]):
        people = json.loads(path.read_text())["people"]
        if people:
            k = np.array(people[0]["pose_keypoints_2d"]).reshape(-1, 3)
            k = k[[names.index(j) for j in LIMBS]]
            out[f] = np.where(k[:, 2:] > 0.3, k[:, :2], np.nan)
    return out


def gap(a: np.ndarray, b: np.ndarray) -> str:
    d = np.linalg.norm(a - b, axis=-1)
    d = d[np.isfinite(d)]
    return f"mean {d.mean():5.1f} median {np.median(d):5.1f} p95 {np.percentile(d, 95):5.1f} px"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    limbs = [get_skeleton("blazepose33").joints.index(j) for j in LIMBS]
    for camera in ("cam01", "cam02", "cam03", "cam04"):
        frames = read_frames(DEMO / "single_person" / "videos" / f"{camera}.mp4", args.frames)
        xy, ms = track(frames, {"legacy": legacy(static=False), "ours": ours(args.threads),
                                "ours, no re-detection": ours(args.threads,
                                                              redetect_every=10_000)})
        ref_static = track(frames, {"legacy": legacy(static=True)})[0]["legacy"]
        static = ours_static(frames, refine=True)
        static_raw = ours_static(frames, refine=False)
        op = openpose(camera, len(frames))
        print(f"{camera}: ms/frame " + ", ".join(f"{k} {v:.1f}" for k, v in ms.items()))
        print(f"  single frames, ours vs legacy:          {gap(static, ref_static)}")
        print(f"  single frames, unrefined vs legacy:     {gap(static_raw, ref_static)}")
        for name in ("ours", "ours, no re-detection"):
            print(f"  tracking, {name:22s} vs legacy: {gap(xy[name], xy['legacy'])}")
        for name, xy in (("legacy", ref_static), ("ours refined", static),
                         ("ours unrefined", static_raw)):
            print(f"  limbs vs OpenPose, {name:15s}: {gap(xy[:, limbs], op)}")


if __name__ == "__main__":
    main()
