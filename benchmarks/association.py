"""Cost of cross-view association and of synchronisation on unassociated crowd takes: the time
per frame of ``associate_people`` for 1-5 people at 4 and 8 cameras, and of ``estimate_offsets``
per camera pair on a one-person take. One run each, wall clock (time.perf_counter).

Run: python benchmarks/association.py
"""

from __future__ import annotations

import sys
import time
from itertools import product

from mocap.association import associate_people
from mocap.sync_estimation import estimate_offsets
from mocap.synthetic.crowd import crowd_take

N_FRAMES = 300
CAMERAS = (4, 8)


def main() -> None:
    print(f"$ python {' '.join(sys.argv)}\n")
    print(f"associate_people, {N_FRAMES} frames\n")
    print("| people | cameras | ms per frame |")
    print("|---|---|---|")
    for n_people, n_cameras in product(range(1, 6), CAMERAS):
        take = crowd_take(n_people, n_cameras, n_frames=N_FRAMES)
        start = time.perf_counter()
        associate_people(take.rig, take.keypoints, max_people=n_people, min_score=0.3)
        ms = 1e3 * (time.perf_counter() - start) / N_FRAMES
        print(f"| {n_people} | {n_cameras} | {ms:.2f} |")

    print(f"\nestimate_offsets, one person, {N_FRAMES} frames\n")
    print("| cameras | pairs | s | ms per pair |")
    print("|---|---|---|---|")
    for n_cameras in CAMERAS:
        take = crowd_take(1, n_cameras, n_frames=N_FRAMES)
        pairs = n_cameras * (n_cameras - 1) // 2
        start = time.perf_counter()
        estimate_offsets(take.rig, take.keypoints)
        seconds = time.perf_counter() - start
        print(f"| {n_cameras} | {pairs} | {seconds:.2f} | {1e3 * seconds / pairs:.1f} |")


if __name__ == "__main__":
    main()
