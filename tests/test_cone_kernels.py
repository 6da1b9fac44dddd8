"""The compiled (numba) cone kernels against their NumPy references, and against the
definitions they implement (NT scaling identities, Jordan algebra, step lengths)."""

import numpy as np
import pytest

from convexnn.losses import get_loss
from convexnn.solvers import _cone_kernels as ck
from convexnn.solvers.interior_point import solve_ipm

BACKENDS = ck.available_backends()


def _interior(rng, K, m, margin=0.5):
    """Random points strictly inside the second-order cone, with ``x0^2 - |x1|^2``."""
    x = rng.standard_normal((K, m))
    x[:, 0] = np.linalg.norm(x[:, 1:], axis=1) * (1.0 + margin * rng.random(K)) + 1e-3
    return x, x[:, 0] ** 2 - np.sum(x[:, 1:] ** 2, axis=1)


def _impl(name):
    with ck.use_backend(name):
        return ck.kernels()


@pytest.mark.parametrize("m", [2, 6, 16])
def test_backends_agree(m):
    if "numba" not in BACKENDS:
        pytest.skip("numba not installed")
    rng = np.random.default_rng(m)
    K = 40
    s, rs = _interior(rng, K, m)
    z, rz = _interior(rng, K, m)
    dx = rng.standard_normal((K, m))
    a, b = _impl("numpy"), _impl("numba")
    assert a.name == "numpy" and b.name == "numba"
    pa, pb = a.nt_params(s, z, rs, rz), b.nt_params(s, z, rs, rz)
    for u, v in zip(pa, pb, strict=True):
        np.testing.assert_allclose(u, v, rtol=1e-12, atol=1e-14)
    w0, w1, c, eta, nu, v, det = pa
    for inv in (False, True):
        np.testing.assert_allclose(a.nt_apply(w0, w1, c, eta, dx, inv),
                                   b.nt_apply(w0, w1, c, eta, dx, inv), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(a.nt_apply_inv2(w0, w1, c, eta, dx),
                               b.nt_apply_inv2(w0, w1, c, eta, dx), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(a.nt_inv_of_inverse(nu, v, det, w0, c, eta, dx),
                               b.nt_inv_of_inverse(nu, v, det, w0, c, eta, dx),
                               rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(a.jprod(s, z), b.jprod(s, z), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(a.jdiv(s, z, np.sqrt(rs) ** 2), b.jdiv(s, z, np.sqrt(rs) ** 2),
                               rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(a.dr(s, dx, 0.3), b.dr(s, dx, 0.3), rtol=1e-12, atol=1e-13)
    assert a.soc_min_step(s, dx, rs) == pytest.approx(b.soc_min_step(s, dx, rs), rel=1e-12)
    n = 30
    sl, zl = rng.random((n, K)) + 0.1, rng.random((n, K)) + 0.1
    C = np.where(rng.random((n, K)) < 0.5, -1.0, 1.0)
    dZ, Wq = rng.standard_normal((n, K)), rng.standard_normal((n, K))
    for u, v in zip(a.lin_direction(C, dZ, Wq, zl / sl, sl, zl),
                    b.lin_direction(C, dZ, Wq, zl / sl, sl, zl), strict=True):
        np.testing.assert_allclose(u, v, rtol=1e-14)
    ds, dz, _, _ = a.lin_direction(C, dZ, Wq, zl / sl, sl, zl)
    assert a.lin_comp(sl, ds, zl, dz, 0.4, 0.7) == pytest.approx(
        b.lin_comp(sl, ds, zl, dz, 0.4, 0.7), rel=1e-12)
    np.testing.assert_allclose(a.lin_corrector(sl, zl, ds, dz, 0.2),
                               b.lin_corrector(sl, zl, ds, dz, 0.2), rtol=1e-13)
    L = np.tril(rng.standard_normal((K, m, m)), -1) + np.eye(m) * (1 + rng.random((K, 1, 1)))
    np.testing.assert_allclose(a.lower_inverse(L), b.lower_inverse(L), rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("backend", BACKENDS)
def test_kernels_satisfy_their_definitions(backend):
    rng = np.random.default_rng(1)
    K, m = 25, 7
    k = _impl(backend)
    s, rs = _interior(rng, K, m)
    z, rz = _interior(rng, K, m)
    w0, w1, c, eta, nu, v, det = k.nt_params(s, z, rs, rz)
    # NT scaling: W z = W^{-1} s, and (W^{-1})^{-1} inverts W^{-1}.
    np.testing.assert_allclose(k.nt_apply(w0, w1, c, eta, z, False),
                               k.nt_apply(w0, w1, c, eta, s, True), rtol=1e-10, atol=1e-12)
    x = rng.standard_normal((K, m))
    back = k.nt_inv_of_inverse(nu, v, det, w0, c, eta, k.nt_apply(w0, w1, c, eta, x, True))
    np.testing.assert_allclose(back, x, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(
        k.nt_apply_inv2(w0, w1, c, eta, x),
        k.nt_apply(w0, w1, c, eta, k.nt_apply(w0, w1, c, eta, x, True), True), rtol=1e-13)
    # Jordan product and division are inverse to each other.
    lam, rl = _interior(rng, K, m)
    q = k.jdiv(lam, x, np.sqrt(rl) ** 2)
    np.testing.assert_allclose(k.jprod(lam, q), x, rtol=1e-9, atol=1e-10)
    # dr is the change of the cone residual along the step.
    a = 0.37
    y = s + a * x
    np.testing.assert_allclose(rs + k.dr(s, x, a), y[:, 0] ** 2 - np.sum(y[:, 1:] ** 2, axis=1),
                               rtol=1e-9, atol=1e-10)
    # The largest step lands on the boundary of the binding cone, all others stay inside.
    t = k.soc_min_step(s, x, rs)
    assert np.isfinite(t) and t > 0
    e = s + t * x
    res = e[:, 0] - np.linalg.norm(e[:, 1:], axis=1)
    assert res.min() == pytest.approx(0.0, abs=1e-9 * np.abs(e).max())
    assert np.all(res >= -1e-9 * np.abs(e).max())
    assert k.soc_min_step(s, s, rs) == np.inf      # moving outward never leaves the cone
    L = np.tril(rng.standard_normal((K, m, m)), -1) + 2 * np.eye(m)
    np.testing.assert_allclose(k.lower_inverse(L) @ L, np.broadcast_to(np.eye(m), L.shape),
                               atol=1e-12)
    # The linear rows: the ratio test's step keeps every row's s and z >= 0, one at zero.
    n = 20
    sl, zl = rng.random((n, K)) + 0.1, rng.random((n, K)) + 0.1
    C = np.where(rng.random((n, K)) < 0.5, -1.0, 1.0)
    dZ, Wq = rng.standard_normal((n, K)), rng.standard_normal((n, K))
    ds, dz, rs, rz = k.lin_direction(C, dZ, Wq, zl / sl, sl, zl)
    np.testing.assert_allclose(ds, C * dZ)
    np.testing.assert_allclose(dz, Wq - (zl / sl) * ds)
    assert rs < 0 and rz < 0
    for x, dx, r in ((sl, ds, rs), (zl, dz, rz)):
        lo = float(np.min(x - dx / r))
        assert lo == pytest.approx(0.0, abs=1e-12) and lo >= -1e-12
    assert k.lin_comp(sl, ds, zl, dz, 0.3, 0.6) == pytest.approx(
        float(np.sum((sl + 0.3 * ds) * (zl + 0.6 * dz))), rel=1e-13)
    q = k.lin_corrector(sl, zl, ds, dz, 0.05)
    np.testing.assert_allclose(sl * q, -sl * zl + 0.05 - ds * dz, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("backend", BACKENDS)
def test_block_factorizations(backend):
    """W^{-2} in closed form, the Jacobi-scaled block Cholesky inverse and the pattern-pair
    factor, against direct dense computations; broken-down blocks are flagged."""
    from convexnn.solvers.interior_point import _NTScaling

    rng = np.random.default_rng(5)
    K, m = 12, 6
    k = _impl(backend)
    s, rs = _interior(rng, K, m)
    z, rz = _interior(rng, K, m)
    nt = _NTScaling(s, z, rs, rz)
    Winv = nt.dense_inverse()
    w0, w1, c, eta = nt.w0, nt.w1, nt.c, nt.eta
    np.testing.assert_allclose(k.nt_inv2_dense(w0, w1, c, eta), Winv @ Winv, rtol=1e-12,
                               atol=1e-12 * np.abs(Winv @ Winv).max())
    A = rng.standard_normal((K, m, m + 2))
    B = A @ A.transpose(0, 2, 1) * np.logspace(-6, 6, m)[None, :, None] ** 0.5 \
        * np.logspace(-6, 6, m)[None, None, :] ** 0.5  # badly scaled SPD blocks
    Linv, ok = k.block_chol_inv(B)
    assert ok.all()
    np.testing.assert_allclose(Linv.transpose(0, 2, 1) @ Linv @ B,
                               np.broadcast_to(np.eye(m), B.shape), atol=1e-8)
    assert np.allclose(np.triu(Linv, 1), 0.0)
    C, okp = k.pair_factor(Linv)
    assert okp.all() and C.shape == (K // 2, m - 1, m - 1)
    G = np.linalg.inv(B)[:, 1:, 1:]
    Gp = G[: K // 2] + G[K // 2:]
    np.testing.assert_allclose(C @ C.transpose(0, 2, 1), Gp, rtol=1e-7,
                               atol=1e-9 * np.abs(Gp).max())
    bad = B.copy()
    bad[3] = -np.eye(m)
    _, ok2 = k.block_chol_inv(bad)
    assert not ok2[3]


def test_use_backend_validates():
    with pytest.raises(ValueError, match="backend"):
        with ck.use_backend("fortran"):
            pass


@pytest.mark.parametrize("model", ["gated", "relu"])
def test_interior_point_same_iterates_on_both_backends(model):
    """The solver's path does not depend on the kernels beyond round-off."""
    if "numba" not in BACKENDS:
        pytest.skip("numba not installed")
    rng = np.random.default_rng(3)
    n, d, P = 60, 4, 30
    X = np.c_[rng.standard_normal((n, d - 1)), np.ones(n)]
    y = np.sign(rng.standard_normal(n))
    G = rng.standard_normal((d, P))
    masks = X @ G >= 0
    out = {}
    for b in BACKENDS:
        with ck.use_backend(b):
            out[b] = solve_ipm(X, y, masks, get_loss("squared"), 1e-2, model=model, gates=G,
                               tol=1e-7)
    a, b = out["numpy"], out["numba"]
    assert a.status.converged and b.status.converged
    assert a.n_iter == b.n_iter
    assert abs(a.objective - b.objective) <= 1e-9 * abs(a.objective)


def test_kkt_repairs_broken_blocks_alike_on_both_backends():
    """A block that is singular in round-off: the per-block repair (numba) and the
    whole-batch repair (NumPy) give the same factor."""
    if "numba" not in BACKENDS:
        pytest.skip("numba not installed")
    from convexnn.solvers.interior_point import _KKT

    rng = np.random.default_rng(7)
    n, d, K = 30, 4, 10
    X = rng.standard_normal((n, d))
    S = (rng.random((n, K)) < 0.5).astype(float)
    A = rng.standard_normal((K, d + 1, d + 3))
    B = A @ A.transpose(0, 2, 1)
    v = rng.standard_normal(d + 1)
    B[2] = np.outer(v, v)  # rank one: Cholesky breaks down
    E = rng.random(n) + 0.5
    out = {}
    for b in BACKENDS:
        with ck.use_backend(b):
            out[b] = _KKT(X, S, B.copy(), E).Linv
    assert np.all(np.isfinite(out["numba"]))
    np.testing.assert_allclose(out["numba"], out["numpy"], rtol=1e-6,
                               atol=1e-8 * np.abs(out["numpy"]).max())


@pytest.mark.parametrize("m", [2, 7])
def test_gated_step_kernels_agree(m):
    """The fused gated-step kernels: numba against the NumPy compositions they replace."""
    if "numba" not in BACKENDS:
        pytest.skip("numba not installed")
    rng = np.random.default_rng(10 + m)
    K, n, d = 30, 20, m - 1
    s, rs = _interior(rng, K, m)
    z, rz = _interior(rng, K, m)
    S = (rng.random((n, K)) < 0.5).astype(float)
    X = rng.standard_normal((n, d))
    E = rng.uniform(0.1, 1.0, n)
    gL, cv = rng.standard_normal(n), rng.standard_normal(n)
    x, rc = rng.standard_normal((K, m)), rng.standard_normal((K, m))
    r_t, r_u = rng.standard_normal(K), rng.standard_normal((K, d))
    Z, dZ = rng.standard_normal((n, K)), rng.standard_normal((n, K))
    a, b = _impl("numpy"), _impl("numba")

    def same(u, v):
        for p, q in zip(u, v, strict=True):
            np.testing.assert_allclose(p, q, rtol=1e-11, atol=1e-12)

    same(a.gated_residuals(S, X, gL, z, 0.1), b.gated_residuals(S, X, gL, z, 0.1))
    pa = a.gated_scaling(s, z, rs, rz, S, E, X)
    same(pa, b.gated_scaling(s, z, rs, rz, S, E, X))
    w0, w1, c, eta, nu, v, det, lam, detl, lamlam, _, _ = pa
    same(a.gated_solve_pre(nu, v, det, w0, c, eta, x, S, X, E),
         b.gated_solve_pre(nu, v, det, w0, c, eta, x, S, X, E))
    same([a.gated_solve_post(nu, v, det, w0, c, eta, x, cv, S, X, E)],
         [b.gated_solve_post(nu, v, det, w0, c, eta, x, cv, S, X, E)])
    same([a.gated_apply_h(w0, w1, c, eta, x, S, X, E)], [b.gated_apply_h(w0, w1, c, eta, x, S, X, E)])
    same(a.gated_rhs(lam, rc, detl, w0, w1, c, eta, r_t, r_u),
         b.gated_rhs(lam, rc, detl, w0, w1, c, eta, r_t, r_u))
    same(a.gated_finish(w0, w1, c, eta, rc, x, X, s, rs, z, rz),
         b.gated_finish(w0, w1, c, eta, rc, x, X, s, rs, z, rz))
    # the predictor's form: the same dz and step, no dZ
    fin = a.gated_finish(w0, w1, c, eta, rc, x, X, s, rs, z, rz, False)
    same(fin, b.gated_finish(w0, w1, c, eta, rc, x, X, s, rs, z, rz, False))
    assert fin[1].shape == (0, K)
    same([fin[0], fin[2]], [b.gated_finish(w0, w1, c, eta, rc, x, X, s, rs, z, rz)[i]
                            for i in (0, 2)])
    same(a.gated_corrector(s, x, z, rc, 0.1, lamlam, w0, w1, c, eta, 3.0, 0.2),
         b.gated_corrector(s, x, z, rc, 0.1, lamlam, w0, w1, c, eta, 3.0, 0.2))
    Za, Zb = Z.copy(), Z.copy()
    ua = a.gated_update(s, z, rs, rz, x, rc, 0.01, Za, dZ, S)
    same(ua, b.gated_update(s, z, rs, rz, x, rc, 0.01, Zb, dZ, S))
    assert ua[4] is Za  # Z is updated in place, on both backends
    np.testing.assert_allclose(Za, Z + 0.01 * dZ, rtol=1e-15)


def test_gated_solve_kernels_invert_the_newton_matrix():
    """gated_solve_pre / post around the n x n solve give H^{-1}: H (the unfactored
    gated_apply_h) applied to the result returns the right-hand side."""
    rng = np.random.default_rng(3)
    K, n, m = 25, 15, 5
    s, rs = _interior(rng, K, m)
    z, rz = _interior(rng, K, m)
    S = (rng.random((n, K)) < 0.5).astype(float)
    X = rng.standard_normal((n, m - 1))
    E = rng.uniform(0.1, 1.0, n)
    rhs = rng.standard_normal((K, m))
    for name in BACKENDS:
        k = _impl(name)
        w0, w1, c, eta, nu, v, det, _, _, _, Se, Q = k.gated_scaling(s, z, rs, rz, S, E, X)
        M = np.eye(n) + (Se @ Se.T) * (X @ X.T) + Q @ Q.T
        a, b = k.gated_solve_pre(nu, v, det, w0, c, eta, rhs, S, X, E)
        x = k.gated_solve_post(nu, v, det, w0, c, eta, a, np.linalg.solve(M, b), S, X, E)
        Hx = k.gated_apply_h(w0, w1, c, eta, x, S, X, E)
        assert np.linalg.norm(Hx - rhs) <= 1e-10 * np.linalg.norm(rhs)


@pytest.mark.parametrize("refine_w0", [1e300, 0.0])
def test_fused_gated_step_is_the_python_composition(refine_w0, monkeypatch):
    """gated_step -- the whole gated Newton step in one compiled call, the n x n matrix formed
    and factored by BLAS / LAPACK called from numba -- returns the direction of the Python
    composition it replaces (_GatedKKT and its two direction calls on the same kernels), with
    the refinement step (refine_w0 = 0) and without; a factorization that fails (NaN) is
    reported, not returned (an indefinite matrix: the caller's Python path then repairs it;
    NaN is not a failure to OpenBLAS's potrf, and the caller's finiteness test catches it)."""
    if "numba" not in BACKENDS:
        pytest.skip("numba not installed")
    from convexnn.solvers import interior_point as ip

    monkeypatch.setattr(ip, "REFINE_W0", refine_w0)
    rng = np.random.default_rng(5)
    K, n, m = 40, 30, 6
    s, rs = _interior(rng, K, m)
    z, rz = _interior(rng, K, m)
    S = (rng.random((n, K)) < 0.5).astype(float)
    X = rng.standard_normal((n, m - 1))
    E = rng.uniform(0.1, 1.0, n)
    XXt = X @ X.T
    r_t, r_u = rng.standard_normal(K), rng.standard_normal((K, m - 1))
    comp = float(np.sum(s * z))
    mu = comp / K
    k = _impl("numba")
    work = np.full((3 * K + n) * n + 7, np.nan)  # larger than needed, stale contents
    ok, dx, dz, dZ, a_max = k.gated_step(s, z, rs, rz, S, E, X, XXt, r_t, r_u, comp, mu,
                                         refine_w0, k.lapack, work)
    assert ok
    with ck.use_backend("numba"):
        gk = ip._GatedKKT(X, S, E, XXt, k.gated_scaling(s, z, rs, rz, S, E, X))
        assert gk.refine == (refine_w0 == 0.0)
        nt = gk.nt
        px, pz, _, a_aff = gk.direction(-gk.lamlam, r_t, r_u, s, rs, z, rz, predictor=True)
        rc = k.gated_corrector(s, px, z, pz, min(1.0, a_aff), gk.lamlam, nt.w0, nt.w1, nt.c,
                               nt.eta, comp, mu)
        ref = gk.direction(rc, r_t, r_u, s, rs, z, rz)
    for got, want in zip((dx, dz, dZ, a_max), ref, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12 * np.abs(want).max())
    ok, dx, *_ = k.gated_step(s, z, rs, rz, S, E, X, -1e3 * np.eye(n), r_t, r_u, comp, mu,
                              refine_w0, k.lapack, work)
    assert not ok and dx.shape[0] == 0
