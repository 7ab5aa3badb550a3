"""A session made outside the project (plain numpy, OpenCV and hand-written TOML) runs as ours."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]

# Written as a user would, with no import of the project: 3 cameras, 2 people, 12 keypoints of
# COCO-17 in a shuffled order, one camera with fewer frames; random points, not motion, so the
# session turns smoothing and the skeleton adjustment (bones, smoothness) off.
FOREIGN_SCRIPT = textwrap.dedent('''
    import sys, numpy as np, cv2
    from pathlib import Path
    out = Path(sys.argv[1]); rng = np.random.default_rng(7)
    (out / "calibration").mkdir(parents=True); (out / "keypoints2d").mkdir()
    names = ["left_wrist", "nose", "right_hip", "left_hip", "right_knee", "left_knee",
             "right_ankle", "left_ankle", "right_shoulder", "left_shoulder", "right_elbow",
             "left_elbow"]
    xyz = rng.uniform([-1, -1, 0], [1, 1, 1.8], (50, 2, len(names), 3))
    np.save(out / "truth.npy", xyz)
    toml = []
    for i, angle in enumerate([0.3, 2.2, 4.1]):
        eye = np.array([4 * np.cos(angle), 4 * np.sin(angle), 2.0])
        z = -eye / np.linalg.norm(eye); x = np.cross(z, [0, 0, 1.0]); x /= np.linalg.norm(x)
        R = np.stack([x, np.cross(z, x), z]); t = -R @ eye
        K = np.array([[1200.0 + 40 * i, 0, 640], [0, 1200.0 + 40 * i, 360], [0, 0, 1]])
        dist = np.array([-0.05 * (i + 1), 0.01, 0.0005, -0.0003, 0.0])
        rvec = cv2.Rodrigues(R)[0].ravel()
        toml.append(f"[studio_cam{i}]\\nname = \\"studio_cam{i}\\"\\nsize = [1280.0, 720.0]\\n"
                    f"matrix = {K.tolist()}\\ndistortions = {dist.tolist()}\\n"
                    f"rotation = {rvec.tolist()}\\ntranslation = {t.tolist()}\\n")
        uv = cv2.projectPoints(xyz.reshape(-1, 3), rvec, t, K, dist)[0].reshape(*xyz.shape[:3], 2)
        n = 50 if i < 2 else 40
        np.savez(out / "keypoints2d" / f"studio_cam{i}.npz", xy=uv[:n].astype(np.float64),
                 score=np.full(uv.shape[:3], 0.9)[:n], keypoints=np.array(names),
                 skeleton="coco17", fps=25.0)
    (out / "calibration" / "calibration.toml").write_text("\\n".join(toml))
    (out / "session.toml").write_text("[filter]\\ncutoff_hz = 0\\n[skeleton]\\nenabled = false\\n")
''')


def test_foreign_session_is_reconstructed_exactly(tmp_path):
    folder = tmp_path / "theirs"
    subprocess.run([sys.executable, "-c", FOREIGN_SCRIPT, str(folder)], check=True, timeout=120)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    result = subprocess.run([sys.executable, "-m", "mocap.cli", "run", str(folder)], env=env,
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    truth = np.load(folder / "truth.npy")                                   # (F, P, 12, 3)
    with np.load(folder / "output" / "points3d.npz") as out:
        names = list(out["keypoints"])
        order = [names.index(n) for n in ["left_wrist", "nose", "right_hip", "left_hip",
                                          "right_knee", "left_knee", "right_ankle",
                                          "left_ankle", "right_shoulder", "left_shoulder",
                                          "right_elbow", "left_elbow"]]
        xyz, n_views = out["xyz"][:, :, order], out["n_views"][:, :, order]
        assert str(out["skeleton"]) == "coco17" and float(out["fps"]) == 25.0
        missing = [i for i, n in enumerate(names) if i not in order]
        assert np.isnan(out["xyz"][:, :, missing]).all()
    np.testing.assert_allclose(xyz, truth, rtol=0, atol=1e-6)
    assert (n_views[:40] == 3).all() and (n_views[40:] == 2).all()
