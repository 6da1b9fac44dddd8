"""The structured primal-dual interior-point solver against the CVXPY reference."""

from __future__ import annotations

import numpy as np
import pytest

from convexnn.arrangements import enumerate_arrangements
from convexnn.losses import get_loss
from convexnn.solvers._cone_kernels import available_backends, kernels, use_backend
from convexnn.solvers._result import SolverStatus
from convexnn.solvers.interior_point import solve_ipm

cvxpy = pytest.importorskip("cvxpy")
from conftest import planted_instance as _instance  # noqa: E402

from convexnn.solvers.cvxpy_solver import solve_cvxpy  # noqa: E402


def _network_objective(X, y, res, loss, beta):
    """F of the ReLU network read off the blocks: sum_i (X v_i)_+ - (X w_i)_+."""
    U = np.concatenate([res.V, res.W])
    P = res.V.shape[0]
    f = np.maximum(X @ U.T, 0) @ np.r_[np.ones(P), -np.ones(P)]
    return get_loss(loss).value(f, y) + beta * np.sum(np.linalg.norm(U, axis=1))


@pytest.mark.parametrize("loss", ["squared", "logistic"])
@pytest.mark.parametrize("seed", [0, 1])
def test_matches_cvxpy_exact_enumeration(loss, seed):
    X, y = _instance(16, seed, loss)
    arr = enumerate_arrangements(X)
    beta = 0.05
    res = solve_ipm(X, y, arr.masks(), get_loss(loss), beta, gates=arr.gates, tol=1e-7)
    ref = solve_cvxpy(X, y, arr.masks(), beta, model="relu", loss=loss, tol=1e-9)
    assert res.status is SolverStatus.CONVERGED
    assert abs(res.objective - ref.objective) <= 1e-6 * abs(ref.objective)
    assert res.lower_bound <= ref.objective * (1 + 1e-9)
    assert res.lower_bound <= res.objective
    # the returned blocks are feasible: the network has exactly the reported objective
    D = arr.masks().astype(float)
    C = 2 * D - 1
    for B in (res.V, res.W):
        assert np.all(C * (X @ B.T) >= -1e-12)
    assert _network_objective(X, y, res, loss, beta) == pytest.approx(res.objective, rel=1e-12)


@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_gated_matches_cvxpy(loss):
    X, y = _instance(16, 3, loss)
    arr = enumerate_arrangements(X)
    res = solve_ipm(X, y, arr.masks(), get_loss(loss), 0.05, model="gated", tol=1e-7)
    ref = solve_cvxpy(X, y, arr.masks(), 0.05, model="gated", loss=loss, tol=1e-9)
    assert res.status is SolverStatus.CONVERGED and res.W is None
    assert abs(res.objective - ref.objective) <= 1e-6 * abs(ref.objective)
    assert res.lower_bound <= ref.objective * (1 + 1e-9)


def test_warm_start_and_without_gates():
    X, y = _instance(16, 4, "squared")
    masks = enumerate_arrangements(X).masks()
    loss = get_loss("squared")
    first = solve_ipm(X, y, masks, loss, 0.05)  # no gates: interior points computed
    assert first.converged
    U0 = np.concatenate([first.V, first.W])
    warm = solve_ipm(X, y, masks, loss, 0.06, U0=U0, tol=1e-7)
    cold = solve_cvxpy(X, y, masks, 0.06, model="relu", loss="squared", tol=1e-9)
    assert warm.converged
    assert abs(warm.objective - cold.objective) <= 1e-6 * cold.objective


def test_degenerate_cone_and_zero_row():
    X, y = _instance(14, 5, "squared")
    X = np.vstack([X, X[:1], np.zeros((1, 3))])  # a duplicated row and a zero row
    y = np.r_[y, y[0], 0.3]
    masks = enumerate_arrangements(X).masks()
    # a pattern that splits the duplicated pair: its cone {x0.u >= 0, x0.u <= 0, ...} has an
    # empty interior
    bad = masks[:, :1].copy()
    bad[-2, 0] = not bad[0, 0]
    masks = np.concatenate([masks, bad], axis=1)
    res = solve_ipm(X, y, masks, get_loss("squared"), 0.05, tol=1e-7)
    ref = solve_cvxpy(X, y, masks, 0.05, model="relu", loss="squared", tol=1e-9)
    assert res.info["n_excluded"] >= 1
    # sound whatever the status: a feasible network and a valid lower bound
    assert res.objective >= ref.objective * (1 - 1e-8)
    assert res.lower_bound <= ref.objective * (1 + 1e-9)
    if res.converged:
        assert res.criterion <= 1e-7
        assert abs(res.objective - ref.objective) <= 1e-6 * ref.objective


def test_zero_solution_when_beta_large():
    X, y = _instance(12, 6, "squared")
    masks = enumerate_arrangements(X).masks()
    res = solve_ipm(X, y, masks, get_loss("squared"), 1e3)
    assert res.converged and np.all(res.V == 0) and np.all(res.W == 0)
    assert res.objective == pytest.approx(0.5 * np.mean(y**2))


def test_bad_inputs():
    X, y = _instance(10, 7, "squared")
    masks = enumerate_arrangements(X).masks()
    loss = get_loss("squared")
    with pytest.raises(ValueError):
        solve_ipm(X, y, masks, loss, 0.1, model="linear")
    with pytest.raises(ValueError):
        solve_ipm(X, y, masks, loss, 0.0)
    with pytest.raises(ValueError):
        solve_ipm(X, y[:-1], masks, loss, 0.1)
    with pytest.raises(ValueError):
        solve_ipm(X, y, masks[:-1], loss, 0.1)
    with pytest.raises(ValueError):
        solve_ipm(X, y, masks, loss, 0.1, U0=np.zeros((3, 3)))
    with pytest.raises(ValueError):
        solve_ipm(X, y, masks, loss, 0.1, gates=np.zeros((2, masks.shape[1])))


def _explicit_system(X, S, B, E):
    """The interior point's Newton matrix blockdiag(B_g) + Ft^T diag(E^2) Ft, Ft_g = [0, S_g X]."""
    n, d = X.shape
    K, m = S.shape[1], d + 1
    Ft = np.zeros((n, K * m))
    Ft.reshape(n, K, m)[:, :, 1:] = S[:, :, None] * X[:, None, :]
    H = Ft.T @ (E[:, None] ** 2 * Ft)
    for g in range(K):
        H[g * m:(g + 1) * m, g * m:(g + 1) * m] += B[g]
    return H


@pytest.mark.parametrize("backend", available_backends())
@pytest.mark.parametrize("boundary", [1e-1, 1e-4, 1e-9])
def test_gated_structured_newton_system_matches_the_dense_one(boundary, backend):
    """_GatedKKT (O(n^2 K), Hadamard form) solves the same system as the dense _KKT.

    The primal and dual cone points are built as late in a solve: near their cone boundaries
    (relative distance ``boundary``) and nearly complementary (``z_1 ~ -u``), with the cone
    residuals passed as the solver carries them (``2 boundary |u|^2``, not the cancelling
    ``s_0^2 - |s_1|^2``). At 1e-9 the NT scaling has ``|w1| ~ 2e4`` and the computed ``W`` and
    ``W^{-1}`` are no longer inverses (``|W W^{-1} - I| ~ 0.3``); the system uses ``W^{-2}``,
    and the reference is a dense solve of the explicit system matrix."""
    from convexnn.solvers.interior_point import _KKT, _GatedKKT, _NTScaling

    rng = np.random.default_rng(1)
    n, d, K = 40, 4, 30
    X = rng.standard_normal((n, d))
    S = (X @ rng.standard_normal((d, K)) >= 0).astype(float)
    E = rng.uniform(0.3, 1.0, n)
    u = rng.standard_normal((K, d))
    v = -u + 1e-3 * boundary * rng.standard_normal((K, d))
    nu, nv = np.linalg.norm(u, axis=1), np.linalg.norm(v, axis=1)
    s = np.c_[nu * (1 + boundary * rng.uniform(0.5, 2, K)), u]
    z = np.c_[nv * (1 + boundary * rng.uniform(0.5, 2, K)), v]
    rs = (s[:, 0] - nu) * (s[:, 0] + nu)
    rz = (z[:, 0] - nv) * (z[:, 0] + nv)
    nt = _NTScaling(s, z, rs, rz)
    Winv = nt.dense_inverse()
    B = Winv @ Winv
    H = _explicit_system(X, S, B, E)
    rhs = rng.standard_normal((K, d + 1))
    with use_backend(backend):
        scaled = kernels().gated_scaling(s, z, rs, rz, S, E, X)
        got = _GatedKKT(X, S, E, X @ X.T, scaled).solve(rhs)
    dense = _KKT(X, S, B, E).solve(rhs)
    # residuals of the system: at least as accurate as the dense factorization it replaces
    res_got = np.linalg.norm(H @ got.ravel() - rhs.ravel()) / np.linalg.norm(rhs)
    res_dense = np.linalg.norm(H @ dense.ravel() - rhs.ravel()) / np.linalg.norm(rhs)
    assert res_got <= max(10 * res_dense, 1e-10)


@pytest.mark.parametrize("spread", [1.0, 1e6])
def test_relu_paired_newton_system_matches_the_unpaired_one(spread):
    """_KKT(paired=True): the v and w blocks of a pattern share one term of the n x n matrix.

    ``spread`` scales the blocks' eigenvalues over that many orders (as for groups near zero
    or rows near their cone boundary late in a solve: the system's condition number is then
    ~1e10); the reference is a dense solve of the explicit system."""
    from convexnn.solvers.interior_point import _KKT

    rng = np.random.default_rng(2)
    n, d, P = 30, 4, 12
    m, K = d + 1, 2 * P
    X = rng.standard_normal((n, d))
    D = (X @ rng.standard_normal((d, P)) >= 0).astype(float)
    S = np.c_[D, -D]
    E = rng.uniform(0.3, 1.0, n)
    Q = np.linalg.qr(rng.standard_normal((K, m, m)))[0]
    ev = spread ** rng.uniform(-1, 1, (K, m))
    B = (Q * ev[:, None, :]) @ Q.transpose(0, 2, 1)
    H = _explicit_system(X, S, B, E)
    rhs = rng.standard_normal((K, m))
    ref = np.linalg.solve(H, rhs.ravel())
    paired = _KKT(X, S, B, E, paired=True)
    assert paired.paired and paired.Qm.shape == (n, P * d)

    def backward_error(x):
        return np.linalg.norm(H @ x - rhs.ravel()) / (np.linalg.norm(H, 2) * np.linalg.norm(x))

    got = paired.solve(rhs).ravel()
    unpaired = _KKT(X, S, B, E).solve(rhs).ravel()
    # backward stable, like the unpaired factorization (both ~1e-16 here)
    assert backward_error(got) <= 1e-14
    assert backward_error(got) <= 10 * backward_error(unpaired) + 1e-16
    if spread == 1.0:  # well conditioned: the forward error is small too
        assert np.linalg.norm(got - ref) <= 1e-10 * np.linalg.norm(ref)


def test_woodbury_fallback_factors_the_matrix_itself():
    """When Cholesky of M = I + PSD fails by round-off, the eigenvalue fallback must see the
    unmodified M. syrk returns M Fortran-ordered, which LAPACK overwrote in place before the
    failure was detected (the fallback then reconstructed M with an 18 % error)."""
    from convexnn.solvers.interior_point import _FactoredN

    rng = np.random.default_rng(0)
    n = 6
    v = rng.standard_normal(n)
    A = 1e18 * np.outer(v, v)
    A[0, 0] -= 1e3  # PSD up to round-off: the factorization fails part-way
    f = _FactoredN()
    f._factor(np.asfortranarray(np.triu(A)))
    assert f.eig is not None
    w, V = f.eig
    M = A + np.eye(n)
    assert np.linalg.norm((V * w) @ V.T - M) <= 1e-12 * np.linalg.norm(M)


# ---------------------------------------------------------------------------------------------
# working set (screen=True)
# ---------------------------------------------------------------------------------------------
def _sampled(n, P, seed, loss="squared", d=4):
    from convexnn.arrangements import sample_arrangements

    X, y = _instance(n, seed, loss, d=d)
    arr = sample_arrangements(X, P, seed)
    return X, y, arr


@pytest.mark.parametrize("model", ["relu", "gated"])
def test_screened_matches_cvxpy_and_certifies_every_pattern(model, monkeypatch):
    import convexnn.solvers.interior_point as ip

    # screen early and hard so that the support is dropped and a restart must bring it back
    monkeypatch.setattr(ip, "SCREEN_AT", (3,))
    monkeypatch.setattr(ip, "SCREEN_KEEP", 0.1)
    monkeypatch.setattr(ip, "SCREEN_MIN", 4)
    X, y, arr = _sampled(60, 80, 0)
    masks, beta = arr.masks(), 0.02
    loss = get_loss("squared")
    res = solve_ipm(X, y, masks, loss, beta, model=model, gates=arr.gates, tol=1e-7,
                    screen=True)
    ref = solve_cvxpy(X, y, masks, beta, model=model, loss="squared", tol=1e-9)
    assert res.status is SolverStatus.CONVERGED
    assert res.info["rounds"] >= 2  # the hard screening dropped part of the support
    assert abs(res.objective - ref.objective) <= 1e-6 * abs(ref.objective)
    assert res.lower_bound <= ref.objective * (1 + 1e-9)
    # the records of the screened iterations are sound too (loose bound for the groups out)
    assert all(r["lower_bound"] <= ref.objective * (1 + 1e-9) for r in res.history)
    assert min(r["n_working"] for r in res.history) < res.history[0]["n_working"]


def test_screened_default_schedule_on_real_data(shared_data):
    """The estimators' schedule on a UCI set: the same optimum as without screening."""
    from convexnn.arrangements import sample_arrangements
    from convexnn.datasets import load

    ds = load("uci:fertility", data_dir=shared_data)
    X = np.column_stack([ds.X_train, np.ones(ds.X_train.shape[0])])
    y = np.where(ds.y_train == 1, 1.0, -1.0)
    arr = sample_arrangements(X, 120, 0)
    loss = get_loss("squared")
    plain = solve_ipm(X, y, arr.masks(), loss, 1e-2, gates=arr.gates)
    scr = solve_ipm(X, y, arr.masks(), loss, 1e-2, gates=arr.gates, screen=True)
    assert plain.converged and scr.converged
    assert min(r["n_working"] for r in scr.history) < 2 * arr.n_patterns
    # both within tol = 1e-6 of the optimum, each certified by its own lower bound
    assert abs(scr.objective - plain.objective) <= 1e-6 * plain.objective
    assert scr.lower_bound <= plain.objective and plain.lower_bound <= scr.objective


def test_single_round_leaves_a_sound_bound(monkeypatch):
    import convexnn.solvers.interior_point as ip

    monkeypatch.setattr(ip, "SCREEN_AT", (3,))
    monkeypatch.setattr(ip, "SCREEN_KEEP", 0.1)
    monkeypatch.setattr(ip, "SCREEN_MIN", 4)
    X, y, arr = _sampled(60, 80, 1)
    loss = get_loss("squared")
    res = solve_ipm(X, y, arr.masks(), loss, 0.02, gates=arr.gates, tol=1e-7, screen=True,
                    max_rounds=1)
    ref = solve_cvxpy(X, y, arr.masks(), 0.02, model="relu", loss="squared", tol=1e-9)
    assert res.info["rounds"] == 1
    assert res.objective >= ref.objective * (1 - 1e-9)
    assert res.lower_bound <= ref.objective * (1 + 1e-9)
    assert _network_objective(X, y, res, "squared", 0.02) == pytest.approx(res.objective,
                                                                           rel=1e-12)


def test_single_round_bound_covers_excluded_patterns(monkeypatch):
    """A round that returns without the exact pricing still bounds every group outside its
    solve, the excluded patterns' (empty-interior cones) included."""
    import convexnn.solvers.interior_point as ip

    monkeypatch.setattr(ip, "SCREEN_AT", (3,))
    monkeypatch.setattr(ip, "SCREEN_KEEP", 0.1)
    monkeypatch.setattr(ip, "SCREEN_MIN", 4)
    X, y = _instance(14, 5, "squared")
    X = np.vstack([X, X[:1]])  # a duplicated row: patterns splitting the pair are degenerate
    y = np.r_[y, y[0]]
    masks = enumerate_arrangements(X).masks()
    bad = masks.copy()
    bad[-1] = ~bad[0]
    masks = np.concatenate([masks, bad], axis=1)
    res = solve_ipm(X, y, masks, get_loss("squared"), 0.05, tol=1e-7, screen=True,
                    max_rounds=1)
    ref = solve_cvxpy(X, y, masks, 0.05, model="relu", loss="squared", tol=1e-9)
    assert res.info["n_excluded"] >= 1 and res.info["rounds"] == 1
    # the round screened: fewer groups than the non-degenerate patterns' left in its solve
    assert res.info["n_groups_solved"] < 2 * (masks.shape[1] - res.info["n_excluded"])
    assert res.objective >= ref.objective * (1 - 1e-9)
    assert res.lower_bound <= ref.objective * (1 + 1e-9)
    assert all(r["lower_bound"] <= ref.objective * (1 + 1e-9) for r in res.history)
