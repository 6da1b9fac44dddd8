"""The cone dual norms h_g(c) = max{c^T u : diag(C_g) X u >= 0, ||u|| <= 1} (SPEC §3)
against CVXPY + Clarabel, and the batched triangular inverse of the interior point."""

from __future__ import annotations

import numpy as np
import pytest

from convexnn.solvers._cone_dual import cone_dual_norms, cone_dual_norms_exact
from convexnn.solvers.interior_point import _lower_inverse

cp = pytest.importorskip("cvxpy")


def _instance(seed: int, n: int = 40, d: int = 5, G: int = 12):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    C = np.where(X @ rng.standard_normal((d, G)) >= 0, 1.0, -1.0)  # non-empty cones
    Cvec = rng.standard_normal((G, d))
    return X, C, Cvec


def _h_cvxpy(X, c, Cg):
    u = cp.Variable(X.shape[1])
    prob = cp.Problem(cp.Maximize(c @ u), [cp.multiply(Cg, X @ u) >= 0, cp.norm(u, 2) <= 1])
    prob.solve(solver=cp.CLARABEL)
    return prob.value


@pytest.mark.parametrize("seed", [0, 1])
def test_bounds_and_target_stop_against_cvxpy(seed):
    X, C, Cvec = _instance(seed)
    ref = np.array([_h_cvxpy(X, Cvec[g], C[:, g]) for g in range(C.shape[1])])
    full, lam = cone_dual_norms(X, Cvec, C, n_iter=2000)
    assert np.all(lam >= 0)
    assert np.all(full >= ref - 1e-7)  # upper bounds, whatever the accuracy
    exact, _ = cone_dual_norms_exact(X, Cvec, C, np.arange(C.shape[1]))
    np.testing.assert_allclose(exact, ref, rtol=1e-6, atol=1e-8)
    # With a target, the early stop still returns sound upper bounds, and every group it
    # reports at or below the target is truly below it.
    target = float(np.median(ref))
    early, _ = cone_dual_norms(X, Cvec, C, n_iter=2000, target=target)
    assert np.all(early >= ref - 1e-7)
    assert np.all(ref[early <= target] <= target + 1e-7)
    assert np.any(early <= target)


def test_lower_inverse_matches_numpy():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((30, 7, 20))
    L = np.linalg.cholesky(A @ A.transpose(0, 2, 1))
    Li = _lower_inverse(L)
    np.testing.assert_allclose(Li, np.linalg.inv(L), rtol=1e-10, atol=1e-12)
    assert np.all(np.triu(Li, 1) == 0)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_target_compaction_leaves_the_other_groups_iterates_unchanged(backend):
    # With a target, settled groups leave the batch; the rest must follow exactly the
    # iterates of the uncompacted run (their problems are separate).
    X, C, Cvec = _instance(3, n=60, d=6, G=48)
    ref = np.array([_h_cvxpy(X, Cvec[g], C[:, g]) for g in range(C.shape[1])])
    target = float(np.quantile(ref, 0.6))
    args = (X, Cvec, C)
    if backend == "torch":
        torch = pytest.importorskip("torch")
        args = tuple(torch.from_numpy(a) for a in args)
    # 8 iterations: too few for the stall rule (it compares with ten iterations back)
    comp, lam_c = cone_dual_norms(*args, n_iter=8, rtol=0.0, target=target)
    full, lam_f = cone_dual_norms(*args, n_iter=8, rtol=0.0)
    comp, lam_c, full, lam_f = (np.asarray(a) for a in (comp, lam_c, full, lam_f))
    settled = comp <= target
    assert settled.sum() >= C.shape[1] / 6  # the batch was compacted at least once
    assert not settled.all()
    np.testing.assert_allclose(comp[~settled], full[~settled], rtol=1e-12)
    np.testing.assert_allclose(lam_c[:, ~settled], lam_f[:, ~settled], rtol=1e-12, atol=1e-15)
    assert np.all(comp >= ref - 1e-7) and np.all(lam_c >= 0)
    # the multipliers returned give the bounds returned
    R = Cvec + (C * lam_c).T @ X
    np.testing.assert_allclose(np.linalg.norm(R, axis=1), comp, rtol=1e-10)
