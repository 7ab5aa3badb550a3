"""Bundle adjustment: exact recovery on noise-free data, analytic vs numeric derivatives, the
projection the same in any chunks, the scipy path agreeing with the Schur solver, outlier
rejection, square pixels, the skew of fixed intrinsics kept, corners behind a camera refused,
convergence reported, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize._numdiff import approx_derivative

from calibration.bundle import Observations, bundle_adjust, observations
from calibration.bundle_problem import BundleProblem
from calibration.camera import Camera, CameraRig
from calibration.errors import SolverError
from calibration.extrinsics import BoardPoses
from calibration.rotations import rodrigues_to_matrix
from mocap.synthetic.board_observations import simulate_board_session
from mocap.synthetic.studio import ring_rig


def session(n_cams: int = 4, n_frames: int = 60, noise: float = 0.0, skew: float = 0.0,
            **kwargs: float):
    """(board session, observations, true board poses); ``skew``: K[0, 1] of every camera, px."""
    rig = with_skew(ring_rig(n_cams), skew)
    s = simulate_board_session(rig, n_frames=n_frames, seed=3, noise_px=noise,
                               p_outlier=kwargs.pop("p_outlier", 0.0), **kwargs)
    dets = [s.detections[c.name] for c in rig]
    frames = np.unique(np.concatenate([d.frames for d in dets]))
    truth = BoardPoses(frames, s.R[frames], s.t[frames])
    return s, observations(dets, frames), truth


def with_skew(rig: CameraRig, skew: float) -> CameraRig:
    return CameraRig(tuple(c.replace(K=c.K + [[0, skew, 0], [0, 0, 0], [0, 0, 0]]) for c in rig))


def perturbed(rig: CameraRig, truth: BoardPoses, seed: int = 0
              ) -> tuple[list[Camera], BoardPoses]:
    rng = np.random.default_rng(seed)
    cams = [rig[0]]
    for c in list(rig)[1:]:
        K = c.K * np.array([[1.01, 1, 1.004], [1, 0.99, 0.996], [1, 1, 1]])
        K[0, 1] = c.K[0, 1]                                    # skew is never refined
        cams.append(Camera.from_rvec(c.name, c.size, K, c.dist * 0.7,
                                     c.rvec + rng.normal(0, 0.02, 3), c.t + rng.normal(0, 0.05, 3)))
    n = truth.frames.size
    board = BoardPoses(truth.frames, rodrigues_to_matrix(rng.normal(0, 0.02, (n, 3))) @ truth.R,
                       truth.t + rng.normal(0, 0.03, (n, 3)))
    return cams, board


GRID = np.stack(np.meshgrid(np.linspace(-0.4, 0.4, 9), np.linspace(-0.25, 0.25, 7)), -1)


def assert_same_cameras(cams, truth, atol_k=1e-6, atol_pose=1e-6, atol_px=1e-6):
    """Same focal lengths and principal point (relative to fx), the same pixel for each ray
    over the observed part of the image (distortion coefficients trade against each other and
    against K), the same rotation and translation."""
    for c, t in zip(cams, truth):
        np.testing.assert_allclose(c.K, t.K, rtol=0, atol=atol_k * t.K[0, 0])
        pixels = c.normalized_to_pixels(GRID) - t.normalized_to_pixels(GRID)
        assert np.abs(pixels).max() < atol_px
        np.testing.assert_allclose(c.R, t.R, rtol=0, atol=atol_pose)
        np.testing.assert_allclose(c.t, t.t, rtol=0, atol=atol_pose)


def test_recovers_perturbed_cameras_exactly_on_noise_free_data():
    s, obs, truth = session()
    cams, board = perturbed(s.rig, truth)
    result = bundle_adjust(cams, board, obs, s.board.object_points, refine_intrinsics=True)
    assert_same_cameras(result.cameras, s.rig)
    np.testing.assert_allclose(result.board.t, truth.t, atol=1e-6)
    np.testing.assert_allclose(result.board.R, truth.R, atol=1e-6)
    assert result.inliers.all() and result.rms.max() < 1e-6
    assert (result.initial_rms > 5).all()


@pytest.mark.parametrize("skew", [0.0, 3.0])
def test_analytic_jacobian_matches_finite_differences_for_pinhole_and_fisheye(skew):
    s, obs, truth = session(n_cams=3, n_frames=20, skew=skew)
    cams = list(s.rig)
    cams[1] = Camera(cams[1].name, cams[1].size, cams[1].K, [0.05, -0.01, 0.002, 0.001],
                     cams[1].R, cams[1].t, fisheye=True)
    problem = BundleProblem(cams, truth, obs, s.board.object_points, True, (), 0, square=True)
    x = problem.x0 * (1 + np.random.default_rng(0).normal(0, 1e-3, problem.x0.size))
    analytic = problem.jacobian(x).toarray()
    numeric = approx_derivative(problem.residuals, x, method="3-point",
                                sparsity=problem.sparsity()).toarray()
    scale = np.abs(numeric).max(axis=0)                       # per parameter
    assert np.abs(analytic - numeric).max(axis=0).max() < 1e-5 * scale.max()
    np.testing.assert_allclose(analytic, numeric, rtol=0, atol=1e-5 * scale.max())
    assert problem.tie.size == 3                               # fx = fy held per camera


def test_projection_in_small_chunks_equals_one_pass_per_camera(monkeypatch):
    s, obs, truth = session(n_cams=3, n_frames=20)
    cams = list(s.rig)
    cams[1] = Camera(cams[1].name, cams[1].size, cams[1].K, [0.05, -0.01, 0.002, 0.001],
                     cams[1].R, cams[1].t, fisheye=True)
    problem = BundleProblem(cams, truth, obs, s.board.object_points, True, (), 0)
    x = problem.x0 * (1 + np.random.default_rng(1).normal(0, 1e-3, problem.x0.size))
    whole_uv, whole_J = problem.project(x, with_jacobian=True)
    chunks = problem.by_camera(chunk=7)
    assert {c for c, _ in chunks} == {0, 1, 2} and max(i.stop - i.start for _, i in chunks) == 7
    assert np.array_equal(np.concatenate([np.arange(i.start, i.stop) for _, i in chunks]),
                          np.arange(obs.camera.size))
    assert all((obs.camera[i] == c).all() for c, i in chunks)
    by_camera = BundleProblem.by_camera
    monkeypatch.setattr(BundleProblem, "by_camera", lambda self, chunk=7: by_camera(self, chunk))
    uv, J = problem.project(x, with_jacobian=True)
    np.testing.assert_allclose(uv, whole_uv, rtol=0, atol=1e-9)
    np.testing.assert_allclose(J, whole_J, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(problem.project(x)[0], uv, rtol=0, atol=1e-9)
    world = truth.corners(s.board.object_points)[obs.frame, obs.corner]       # (M, 3)
    expected = np.concatenate([cams[c].project(world[obs.camera == c]) for c in range(3)])
    np.testing.assert_allclose(problem.project(problem.x0)[0], expected, atol=1e-9)


@pytest.mark.parametrize("solver", ["scipy", "scipy-numeric"])
def test_scipy_least_squares_agrees_with_the_schur_solver(solver):
    s, obs, truth = session(n_cams=3, n_frames=12, noise=0.3)
    cams, board = perturbed(s.rig, truth, seed=1)
    obj = s.board.object_points
    # the same objective (scipy applies a robust loss per coordinate, ours per corner)
    schur = bundle_adjust(cams, board, obs, obj, outlier_px=None, loss="linear")
    other = bundle_adjust(cams, board, obs, obj, outlier_px=None, loss="linear", solver=solver)
    for a, b in zip(schur.cameras, other.cameras):
        np.testing.assert_allclose(a.center, b.center, atol=1e-4)    # 0.1 mm
        np.testing.assert_allclose(a.R, b.R, atol=1e-5)
    np.testing.assert_allclose(schur.rms, other.rms, rtol=1e-4)


def test_outliers_are_dropped_and_do_not_bias_the_solution():
    s, obs, truth = session(noise=0.3)
    cams, board = perturbed(s.rig, truth, seed=2)
    rng = np.random.default_rng(5)
    bad = rng.random(obs.camera.size) < 0.01
    angle = rng.uniform(0, 2 * np.pi, bad.sum())
    xy = obs.xy.copy()
    xy[bad] += rng.uniform(5, 30, (bad.sum(), 1)) * np.stack([np.cos(angle), np.sin(angle)], -1)
    dirty = Observations(obs.camera, obs.frame, obs.corner, xy)
    obj = s.board.object_points
    clean = bundle_adjust(cams, board, obs, obj, refine_intrinsics=True)
    result = bundle_adjust(cams, board, dirty, obj, refine_intrinsics=True)
    assert (~result.inliers[bad]).all()                    # every outlier found
    assert result.inliers[~bad].mean() > 0.99              # few good corners lost
    assert (result.rms < 0.5).all()                        # 0.3 px noise: 0.42 px RMS
    for a, b in zip(result.cameras, clean.cameras):
        assert np.linalg.norm(a.center - b.center) < 5e-3         # metres, cameras 4 m away
        np.testing.assert_allclose(a.K, b.K, atol=1.0)


def test_square_pixels_keep_fx_equal_to_fy():
    s, obs, truth = session(n_cams=3, n_frames=30, noise=0.2)
    cams, board = perturbed(s.rig, truth, seed=4)
    result = bundle_adjust(cams, board, obs, s.board.object_points, refine_intrinsics=True,
                           square_pixels=True, fixed_intrinsics=("k3",))
    for c in result.cameras[1:]:
        assert abs(c.K[0, 0] - c.K[1, 1]) < 0.02
    assert result.cameras[2].dist[4] == cams[2].dist[4]


@pytest.mark.parametrize("refine", [False, True])
def test_the_skew_of_intrinsics_is_kept_and_fitted(refine):
    """Cameras with a skewed K (3 px: OpenCV's or another tool's calibration may carry one) and
    noise-free corners made with it: the skew comes back exactly (it is held, never refined) and
    the rig is recovered as exactly as without skew (1e-6, as the test above)."""
    s, obs, truth = session(skew=3.0)
    cams, board = perturbed(s.rig, truth)
    if not refine:
        cams = [c.replace(K=t.K, dist=t.dist) for c, t in zip(cams, s.rig)]
    result = bundle_adjust(cams, board, obs, s.board.object_points, refine_intrinsics=refine)
    assert all(c.K[0, 1] == 3.0 for c in result.cameras)
    if not refine:
        assert all(np.array_equal(c.K, t.K) for c, t in zip(result.cameras, s.rig))
    assert_same_cameras(result.cameras, s.rig)
    assert result.rms.max() < 1e-6


@pytest.mark.parametrize("entry", [(1, 0), (2, 1), (2, 2)])
def test_intrinsic_matrices_the_model_cannot_hold_are_refused(entry):
    """K[1, 0], K[2, 0], K[2, 1] other than 0 or K[2, 2] other than 1 would be rebuilt away."""
    s, obs, truth = session(n_cams=2, n_frames=5)
    K = s.rig[1].K.copy()
    K[entry] += 0.5
    cams = [s.rig[0], s.rig[1].replace(K=K)]
    with pytest.raises(SolverError, match=r"camera cam_2: K must be \[\[fx, s, cx\], \[0, fy, cy\]"):
        bundle_adjust(cams, truth, obs, s.board.object_points)


def mirrored_behind(board: BoardPoses, frame: int, camera: Camera) -> BoardPoses:
    """``board`` with the pose at index ``frame`` reflected through ``camera``'s centre: its
    corners then lie behind the camera, on the same rays, so a projection that divides by a
    negative (or clamped) depth puts them on the very pixels observed."""
    R, t = board.R.copy(), board.t.copy()
    R[frame] = R[frame] @ np.diag([-1.0, -1.0, 1.0])        # the planar board turned 180 deg
    t[frame] = 2 * camera.center - t[frame]
    return BoardPoses(board.frames, R, t)


@pytest.mark.parametrize("solver", ["schur", "scipy"])
@pytest.mark.parametrize("frame", [3, 17])
def test_corners_behind_the_camera_are_not_fitted(solver, frame):
    """One camera (its board poses are the only unknowns) and one board pose placed behind it
    on the rays of its observed corners: those observations must come out infinitely wrong and
    left out, never near 0 px; every other view still fits exactly (noise-free data)."""
    s, obs, truth = session(n_cams=1, n_frames=40)
    board = mirrored_behind(truth, frame, s.rig[0])
    mirrored = obs.frame == frame
    assert mirrored.sum() >= 6
    cam = s.rig[0]
    world = board.corners(s.board.object_points)[obs.frame, obs.corner]
    assert (cam.world_to_camera(world[mirrored])[:, 2] < 0).all()
    result = bundle_adjust([cam], board, obs, s.board.object_points, solver=solver)
    assert np.isinf(result.residuals[mirrored]).all()
    assert not result.inliers[mirrored].any()
    assert result.residuals[~mirrored].max() < 1e-6 and result.inliers[~mirrored].all()


@pytest.mark.parametrize("solver", ["schur", "scipy"])
def test_convergence_is_reported(solver):
    """From perturbed cameras one iteration (evaluation, for scipy) cannot reach the minimum;
    the default budget does."""
    s, obs, truth = session(n_cams=3, n_frames=20, noise=0.3)
    cams, board = perturbed(s.rig, truth, seed=3)
    obj = s.board.object_points
    short = bundle_adjust(cams, board, obs, obj, solver=solver, max_iterations=1,
                          outlier_px=None)
    assert not short.converged and "max_iterations" in short.stop_reason
    assert short.n_iterations == 1
    full = bundle_adjust(cams, board, obs, obj, solver=solver, outlier_px=None)
    assert full.converged and full.n_iterations > 1 and full.stop_reason


def test_bad_input_raises_solver_errors():
    s, obs, truth = session(n_cams=2, n_frames=5)
    empty = Observations(*(a[:0] for a in (obs.camera, obs.frame, obs.corner, obs.xy)))
    with pytest.raises(SolverError, match="no board corner was observed"):
        bundle_adjust(list(s.rig), truth, empty, s.board.object_points)
    with pytest.raises(SolverError, match=r"unknown intrinsic parameter\(s\) \['f'\]"):
        bundle_adjust(list(s.rig), truth, obs, s.board.object_points, refine_intrinsics=True,
                      fixed_intrinsics=("f",))
    with pytest.raises(SolverError, match="unknown bundle adjustment solver 'ceres'"):
        bundle_adjust(list(s.rig), truth, obs, s.board.object_points, solver="ceres")
