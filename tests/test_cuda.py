"""The same solver code on CUDA tensors (issue 3). Skipped where PyTorch sees no GPU: CI and
the 2-core development machine have none, so these run only on a machine with a card."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")


@pytest.mark.parametrize("model,dtype,rel", [
    ("gated", "float64", 1e-6), ("gated", "float32", 1e-3), ("relu", "float64", 1e-6),
    # On PyTorch CPU (the same code) the float32 AL ends near F* (1e-3 below, violation
    # 5e-3): its float32 dual bound is too weak to rank its iterates (tests/test_augmented_
    # lagrangian.py); a known limitation of the ReLU path on PyTorch devices.
    pytest.param("relu", "float32", 1e-3, marks=pytest.mark.xfail(
        reason="float32 augmented Lagrangian: weak certificate, see the module docstring")),
])
def test_estimator_on_cuda_matches_numpy(model, dtype, rel):
    from convexnn import ConvexReLURegressor

    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 4))
    y = rng.standard_normal(60)
    kw = {"beta": 1e-2, "model": model, "arrangements": 30, "random_state": 0}
    ref = ConvexReLURegressor(**kw).fit(X, y)
    solver = "al" if model == "relu" else "auto"
    est = ConvexReLURegressor(**kw, device="cuda", dtype=dtype, solver=solver,
                              max_iter=20000).fit(X, y)
    assert np.isfinite(est.objective_)
    assert est.objective_ <= ref.objective_ * (1 + rel) + 1e-12
    assert est.objective_ >= ref.objective_ * (1 - rel)


def test_gated_working_set_with_metric_on_cuda():
    from convexnn.losses import SquaredLoss
    from convexnn.solvers.fista import solve_gated_working_set

    rng = np.random.default_rng(1)
    X = rng.standard_normal((6000, 12))
    y = np.maximum(X @ rng.standard_normal((12, 4)), 0).sum(1)
    y = (y - y.mean()) / y.std()
    masks = X @ rng.standard_normal((12, 40)) >= 0
    ref = solve_gated_working_set(X, y, masks, SquaredLoss(), 1e-2, tol=1e-8)
    Xt, yt = (torch.as_tensor(a, device="cuda") for a in (X, y))
    res = solve_gated_working_set(Xt, yt, torch.as_tensor(masks, device="cuda"), SquaredLoss(),
                                  1e-2, tol=1e-8, precondition=True)
    assert res.V.device.type == "cuda"
    assert res.status.name == "CONVERGED"
    assert abs(res.objective - ref.objective) <= 1e-7 * ref.objective
