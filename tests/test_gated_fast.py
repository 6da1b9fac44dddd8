"""The optimized gated-model path (mask-GEMM operator, prediction-space FISTA, working set)
against the CVXPY reference, on NumPy and PyTorch CPU, float64 and float32."""

from __future__ import annotations

import numpy as np
import pytest

from convexnn.arrangements import sample_arrangements
from convexnn.losses import SquaredLoss
from convexnn.operators import MaskedOperator
from convexnn.solvers.fista import kkt_residual, solve_gated_fista, solve_gated_working_set

torch = pytest.importorskip("torch")
BETA = 1e-2


@pytest.fixture(autouse=True)
def _one_torch_thread():
    # Tiny problems: torch's thread pool only adds overhead (10x on a loaded 2-core machine).
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def instance():
    rng = np.random.default_rng(3)
    n, d = 50, 4
    X = np.c_[rng.standard_normal((n, d - 1)), np.ones(n)]
    y = np.maximum(X @ rng.standard_normal(d), 0) - 0.5 * np.maximum(X @ rng.standard_normal(d), 0)
    y = y + 0.1 * rng.standard_normal(n)
    masks = sample_arrangements(X, 24, 0).masks()
    return X, y, masks


@pytest.fixture(scope="module")
def reference(instance):
    pytest.importorskip("cvxpy")
    from convexnn.solvers.cvxpy_solver import solve_cvxpy

    X, y, masks = instance
    return solve_cvxpy(X, y, masks, BETA, model="gated", tol=1e-10)


def _np(a):
    return a.detach().double().numpy() if torch.is_tensor(a) else np.asarray(a, dtype=float)


def _backend(a, backend, dtype=None):
    if dtype is not None:
        a = a.astype(dtype)
    return torch.from_numpy(a) if backend == "torch" else a


@pytest.mark.parametrize(("backend", "solver"), [("numpy", solve_gated_fista),
                                               ("numpy", solve_gated_working_set),
                                               ("torch", solve_gated_working_set)])
def test_matches_cvxpy_float64(instance, reference, backend, solver):
    X, y, masks = instance
    res = solver(_backend(X, backend), _backend(y, backend), _backend(masks, backend),
                 SquaredLoss(), BETA, tol=1e-9, criterion="both", max_iter=20_000)
    assert res.converged
    assert abs(res.objective - reference.objective) <= 1e-6 * abs(reference.objective)
    V, Vref = _np(res.V), np.asarray(reference.V)
    assert np.linalg.norm(V - Vref) <= 1e-6 * np.linalg.norm(Vref) * 10
    # Predictions agree to 1e-6 relative.
    f = np.sum(masks * (X @ V.T), axis=1)
    fref = np.sum(masks * (X @ Vref.T), axis=1)
    assert np.linalg.norm(f - fref) <= 1e-6 * np.linalg.norm(fref)
    assert res.info["kkt"] <= 1e-9 and res.info["gap"] <= 1e-9


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_float32_close_to_float64(instance, backend):
    X, y, masks = instance
    r64 = solve_gated_working_set(_backend(X, backend), _backend(y, backend), _backend(masks, backend),
                                  SquaredLoss(), BETA, tol=1e-8, criterion="both")
    r32 = solve_gated_working_set(_backend(X, backend, "float32"), _backend(y, backend, "float32"),
                                  _backend(masks, backend), SquaredLoss(), BETA, tol=1e-5,
                                  criterion="kkt")
    V32, V64 = _np(r32.V), _np(r64.V)
    assert r32.V.dtype == (torch.float32 if backend == "torch" else np.float32)
    assert np.all(np.isfinite(V32))
    assert r32.converged and r32.info["kkt"] <= 1e-5
    assert abs(r32.objective - r64.objective) <= 1e-3 * abs(r64.objective)
    f32 = np.sum(masks * (X @ V32.T), axis=1)
    f64 = np.sum(masks * (X @ V64.T), axis=1)
    assert np.linalg.norm(f32 - f64) <= 1e-3 * np.linalg.norm(f64)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_masks_stay_compact(instance, backend):
    X, _, masks = instance
    Xb = _backend(X, backend, "float32")
    Mb = _backend(masks, backend)
    op = MaskedOperator(Xb, Mb, dense=False)
    assert not op.is_dense
    assert op.mask.dtype == (torch.bool if backend == "torch" else np.bool_)
    assert op._dense is None
    # The input masks are not copied to a float array and not modified.
    assert Mb.dtype == (torch.bool if backend == "torch" else np.bool_)


@pytest.mark.parametrize("dense", [True, False])
def test_operator_products(instance, dense):
    X, _, masks = instance
    rng = np.random.default_rng(0)
    V = rng.standard_normal((masks.shape[1], X.shape[1]))
    r = rng.standard_normal(X.shape[0])
    op = MaskedOperator(X, masks, dense=dense, block_bytes=7 * masks.shape[1] * 8)
    assert op.is_dense == dense
    if not dense:
        assert op.block_rows == 7  # several row blocks, the last one partial
    D = masks.astype(float)
    np.testing.assert_allclose(op.forward(V), np.sum(D * (X @ V.T), axis=1), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(op.adjoint(r), (D * r[:, None]).T @ X, rtol=1e-12, atol=1e-12)
    sub = op.columns(np.array([1, 4, 5]))
    np.testing.assert_allclose(sub.forward(V[[1, 4, 5]]),
                               np.sum(D[:, [1, 4, 5]] * (X @ V[[1, 4, 5]].T), axis=1), atol=1e-12)


def test_kkt_residual_zero_at_optimum(instance, reference):
    X, y, masks = instance
    V = np.asarray(reference.V)
    op = MaskedOperator(X, masks)
    G = op.adjoint(SquaredLoss().gradient(op.forward(V), y))
    G0 = op.adjoint(SquaredLoss().gradient(0 * y, y))
    assert kkt_residual(V, G, BETA) <= 1e-6
    assert kkt_residual(np.zeros_like(V), G0, BETA) > 1e-2


def test_working_set_dispatch_keeps_interface(instance):
    from convexnn.solvers.working_set import solve_working_set

    X, y, masks = instance
    res = solve_working_set(X, y, masks.astype(float), SquaredLoss(), BETA, model="gated",
                            inner=solve_gated_fista, tol=1e-8)
    assert res.converged and res.W is None and res.V.shape == (masks.shape[1], X.shape[1])
    assert res.history and {"objective", "lower_bound", "criterion"} <= set(res.history[-1])


@pytest.mark.parametrize("dtype,rel", [("float64", 1e-6), ("float32", 1e-3)])
def test_estimator_torch_device_matches_numpy(dtype, rel):
    """``device="torch"``: the estimator runs the same gated solver on PyTorch CPU tensors."""
    pytest.importorskip("torch")
    from convexnn import ConvexReLURegressor

    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3))
    y = rng.standard_normal(40)
    ref = ConvexReLURegressor(beta=1e-2, model="gated", arrangements=20, random_state=0).fit(X, y)
    est = ConvexReLURegressor(beta=1e-2, model="gated", arrangements=20, random_state=0,
                              device="torch", dtype=dtype, max_iter=3000).fit(X, y)
    assert np.isfinite(est.objective_)
    assert est.objective_ == pytest.approx(ref.objective_, rel=rel)
    np.testing.assert_allclose(est.predict(X), ref.predict(X), rtol=0, atol=1e-2 if rel > 1e-5 else 1e-5)


def test_default_dense_cap_is_at_least_two_gib_and_sees_host_memory():
    import numpy as np

    from convexnn.operators import DEFAULT_MAX_DENSE_BYTES, MaskedOperator, default_max_dense_bytes

    X = np.ones((4, 2))
    assert default_max_dense_bytes(X) >= DEFAULT_MAX_DENSE_BYTES
    M = np.array([[1, 0], [0, 1], [1, 1], [0, 0]], dtype=bool)
    assert MaskedOperator(X, M).is_dense
    assert not MaskedOperator(X, M, max_dense_bytes=8).is_dense      # explicit cap: blocked
