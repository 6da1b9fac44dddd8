"""Small second-order-cone kernels of the interior-point method, in NumPy or compiled.

Every interior-point step (:mod:`.interior_point`) applies a handful of operations to arrays
of ``K`` second-order cones of dimension ``m`` (rows of ``(K, m)`` arrays: ``K`` is 200-500 and
``m = d + 1`` is 5-60 on the UCI sets): Nesterov-Todd scalings, Jordan products and divisions,
the largest step inside each cone. Each is a few passes over a few thousand numbers, so in
NumPy their cost is the per-call overhead of ~10-20 array operations each (a row reduction
``np.sum(a, axis=1)`` of a ``(250, 12)`` array took 17 us here, the product ``a * a`` 2.5 us);
on the small sets that overhead was a third of a whole gated solve. The same kernels compiled
by numba (a loop over the cones, one pass, no temporaries) ran 8x faster (``soc_min_step`` on
``(500, 16)``: 24 vs 190 us) and made the gated hybrid 1.3-1.7x faster end to end on eight
UCI sets (A/B in one process, the same iterates and ``F`` to 12 digits).

numba is an optional dependency (the ``jit`` extra, part of ``all``). Without it, or with the
environment variable ``CONVEXNN_JIT=0``, the NumPy versions below run; both compute the same
formulas in the same order up to the association of sums, and ``tests/test_cone_kernels.py``
checks them against each other. The compiled ones are cached on disk (numba's
``cache=True``), so only the first process on a machine pays the compilation (seconds); a
later process pays loading them (~0.5 s, once, at the first interior-point solve).

Formulas: :class:`.interior_point._NTScaling` (NT scaling, [V10]_) and the helpers there.

.. [V10] L. Vandenberghe, The CVXOPT linear and quadratic cone program solvers, 2010.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import numpy as np

__all__ = ["kernels", "use_backend", "available_backends"]


# ---------------------------------------------------------------------------------------------
# NumPy versions (the reference; row sums by einsum: 2-3x faster than np.sum(axis=1) on the
# short rows here)
# ---------------------------------------------------------------------------------------------
def _rowdot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise dot products ``sum_j a_ij b_ij`` (one pass, no temporary)."""
    return np.einsum("ij,ij->i", a, b)


def _jacobi(B: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Jacobi scaling of a batch of symmetric blocks (K, m, m): ``D^{-1} B D^{-1}`` and the
    ``D = diag(B)^{1/2}`` (K, m) used (diagonals floored at 1e-300)."""
    dg = np.sqrt(np.maximum(np.einsum("kii->ki", B), 1e-300))
    return B / (dg[:, :, None] * dg[:, None, :]), dg


def soc_min_step(x: np.ndarray, dx: np.ndarray, rx: np.ndarray) -> float:
    """Largest ``a`` with ``x_k + a dx_k`` in the cone for every ``k`` (``inf`` if none binds);
    ``rx = x0^2 - |x1|^2 > 0`` is kept accurately by the caller (it cancels near the
    boundary). The roots of ``qa a^2 + qb a + rx`` by the cancellation-free formula."""
    qa = dx[:, 0] ** 2 - _rowdot(dx[:, 1:], dx[:, 1:])
    qb = 2.0 * (x[:, 0] * dx[:, 0] - _rowdot(x[:, 1:], dx[:, 1:]))
    disc = qb * qb - 4.0 * qa * rx
    out = np.full(x.shape[0], np.inf)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        sq = np.sqrt(np.maximum(disc, 0.0))
        q = -0.5 * (qb + np.where(qb >= 0, 1.0, -1.0) * sq)
        r1 = np.where(q != 0, rx / q, np.inf)
        r2 = np.where(qa != 0, q / qa, np.inf)
        for rr in (r1, r2):
            out = np.where((rr > 0) & (disc >= 0), np.minimum(out, rr), out)
        lim0 = np.where(dx[:, 0] < 0, -x[:, 0] / dx[:, 0], np.inf)
    return float(np.min(np.minimum(out, lim0), initial=np.inf))


def dr(x: np.ndarray, dx: np.ndarray, a: float) -> np.ndarray:
    """Change of ``x0^2 - |x1|^2`` along ``x + a dx``."""
    return a * (2.0 * (x[:, 0] * dx[:, 0] - _rowdot(x[:, 1:], dx[:, 1:]))
                + a * (dx[:, 0] ** 2 - _rowdot(dx[:, 1:], dx[:, 1:])))


def jprod(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Jordan product ``x o y = (x . y, x0 y1 + y0 x1)``."""
    out = np.empty_like(x)
    out[:, 0] = _rowdot(x, y)
    out[:, 1:] = x[:, :1] * y[:, 1:] + y[:, :1] * x[:, 1:]
    return out


def jdiv(lam: np.ndarray, r: np.ndarray, detl: np.ndarray) -> np.ndarray:
    """``q`` with ``lam o q = r`` (``detl = lam0^2 - |lam1|^2``)."""
    q = np.empty_like(r)
    q[:, 0] = (lam[:, 0] * r[:, 0] - _rowdot(lam[:, 1:], r[:, 1:])) / detl
    q[:, 1:] = (r[:, 1:] - q[:, :1] * lam[:, 1:]) / lam[:, :1]
    return q


def nt_params(s: np.ndarray, z: np.ndarray, rs: np.ndarray, rz: np.ndarray) -> tuple[Any, ...]:
    """``(w0, w1, c, eta, nu, v, det)`` of the NT scaling (:class:`.interior_point._NTScaling`):
    ``w = (s/sqrt(rs) + J z/sqrt(rz)) / (2 gamma)``, ``w0`` clamped at 1, ``c = 1/(1 + w0)``,
    ``eta = (rs/rz)^(1/4)``, ``nu = |w1|``, ``v = w1/nu`` and ``det = w0 (1 + c nu^2) - nu^2``."""
    sqs, sqz = np.sqrt(rs), np.sqrt(rz)
    sb = s / sqs[:, None]
    zb = z / sqz[:, None]
    gam = np.sqrt(0.5 * (1.0 + _rowdot(sb, zb)))
    w = sb.copy()
    w[:, 0] += zb[:, 0]
    w[:, 1:] -= zb[:, 1:]
    w /= (2.0 * gam)[:, None]
    w0 = np.maximum(w[:, 0], 1.0)
    w1 = w[:, 1:]
    c = 1.0 / (1.0 + w0)
    eta = np.sqrt(sqs / sqz)
    nu = np.sqrt(_rowdot(w1, w1))
    v = w1 / np.where(nu > 0, nu, 1.0)[:, None]
    det = w0 * (1.0 + c * nu * nu) - nu * nu
    return w0, w1, c, eta, nu, v, det


def nt_apply(w0: np.ndarray, w1: np.ndarray, c: np.ndarray, eta: np.ndarray, x: np.ndarray,
             inverse: bool) -> np.ndarray:
    """``W x`` (or ``W^{-1} x``), ``W = eta [[w0, w1^T], [w1, I + c w1 w1^T]]``."""
    w1x = _rowdot(w1, x[:, 1:])
    sg = -1.0 if inverse else 1.0
    out = np.empty_like(x)
    out[:, 0] = w0 * x[:, 0] + sg * w1x
    out[:, 1:] = x[:, 1:] + (sg * x[:, 0] + c * w1x)[:, None] * w1
    out *= (1.0 / eta if inverse else eta)[:, None]
    return out


def nt_apply_inv2(w0: np.ndarray, w1: np.ndarray, c: np.ndarray, eta: np.ndarray,
                  x: np.ndarray) -> np.ndarray:
    """``W^{-2} x`` as two applications of ``W^{-1}``."""
    return nt_apply(w0, w1, c, eta, nt_apply(w0, w1, c, eta, x, True), True)


def nt_inv_of_inverse(nu: np.ndarray, v: np.ndarray, det: np.ndarray, w0: np.ndarray,
                      c: np.ndarray, eta: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``(W^{-1})^{-1} x`` through the 2 x 2 form on ``span(e_0, (0, v))``
    (:meth:`.interior_point._NTScaling.inv_of_inverse`)."""
    p = _rowdot(v, x[:, 1:])
    out = np.empty_like(x)
    out[:, 0] = eta * ((1.0 + c * nu * nu) * x[:, 0] + nu * p) / det
    op = eta * (nu * x[:, 0] + w0 * p) / det
    out[:, 1:] = eta[:, None] * x[:, 1:] + (op - eta * p)[:, None] * v
    return out


def lin_direction(C: np.ndarray, dZ: np.ndarray, Wq: np.ndarray, wl: np.ndarray,
                  sl: np.ndarray, zl: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, float]:
    """The linear (cone-row) part of a Newton direction, ``(n, K)`` arrays: ``ds = C o dZ``,
    ``dz = Wq - wl o ds``, and the smallest ratios ``min(ds / sl)`` and ``min(dz / zl)``
    (``sl, zl > 0``: each side's ratio test is ``-1 / min`` when that is negative)."""
    ds = C * dZ
    dz = Wq - wl * ds
    return (ds, dz, float(np.min(ds / sl, initial=np.inf)),
            float(np.min(dz / zl, initial=np.inf)))


def lin_comp(sl: np.ndarray, ds: np.ndarray, zl: np.ndarray, dz: np.ndarray, ap: float,
             ad: float) -> float:
    """Complementarity ``sum((sl + ap ds) o (zl + ad dz))`` of the linear rows after a step
    (primal step ``ap``, dual ``ad``)."""
    return float(np.sum((sl + ap * ds) * (zl + ad * dz)))


def lin_corrector(sl: np.ndarray, zl: np.ndarray, ds: np.ndarray, dz: np.ndarray,
                  smu: float) -> np.ndarray:
    """Mehrotra corrector of the linear rows, ``W^{-1} q = (-sl o zl + smu - ds o dz) / sl``."""
    return (-sl * zl + smu - ds * dz) / sl


def lower_inverse(L: np.ndarray) -> np.ndarray:
    """Inverses of a batch of lower-triangular matrices (K, m, m), by forward substitution
    vectorized over the batch: row ``j`` of ``L^{-1}`` is ``(e_j - L[j, :j] L^{-1}[:j]) /
    L[j, j]``. For the small blocks here (K = 500, m = 15) this is 3x faster than the batched
    LAPACK solve ``np.linalg.solve(L, I)`` (0.75 vs 2.4 ms, one thread), whose per-matrix
    call overhead dominates; the results agree to round-off (5e-17 on a unit test batch)."""
    K, m, _ = L.shape
    Li = np.zeros_like(L)
    dinv = 1.0 / np.einsum("kii->ki", L)
    Li[:, 0, 0] = dinv[:, 0]
    for j in range(1, m):
        row = -(L[:, j:j + 1, :j] @ Li[:, :j, :])[:, 0, :]
        row[:, j] += 1.0
        Li[:, j, :] = row * dinv[:, j:j + 1]
    return Li


def nt_inv2_dense(w0: np.ndarray, w1: np.ndarray, c: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """The matrices ``W^{-2}`` (K, m, m) in closed form: with ``W^{-1} = A / eta``,
    ``A = [[w0, -w1^T], [-w1, I + c w1 w1^T]]`` and ``nu^2 = |w1|^2``,
    ``A^2 = [[w0^2 + nu^2, -b w1^T], [-b w1, I + e w1 w1^T]]``, ``b = w0 + 1 + c nu^2``,
    ``e = 1 + 2c + c^2 nu^2`` (multiply out; checked against the product of the dense
    ``W^{-1}`` in tests/test_cone_kernels.py). ``O(K m^2)`` instead of a batched product."""
    K, m1 = w1.shape
    n2 = _rowdot(w1, w1)
    ie2 = 1.0 / (eta * eta)
    b = -(w0 + 1.0 + c * n2) * ie2
    e = (1.0 + 2.0 * c + c * c * n2) * ie2
    B = np.empty((K, m1 + 1, m1 + 1))
    B[:, 0, 0] = (w0 * w0 + n2) * ie2
    B[:, 0, 1:] = b[:, None] * w1
    B[:, 1:, 0] = B[:, 0, 1:]
    B[:, 1:, 1:] = (e[:, None, None] * w1[:, :, None]) * w1[:, None, :]
    B[:, np.arange(1, m1 + 1), np.arange(1, m1 + 1)] += ie2[:, None]
    return B


def block_chol_inv(B: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``Linv`` (K, m, m) with ``B_k^{-1} = Linv_k^T Linv_k``: the inverse of the Cholesky
    factor of the Jacobi-scaled block (``Linv = Lc^{-1} D^{-1}``, ``D = diag(B)^{1/2}``; the
    blocks of groups near zero or of rows near their cone boundary have entries many orders
    apart), and a flag per block (False where the factorization broke down: the caller
    repairs those blocks). Here all blocks fail together (one batched LAPACK call)."""
    Bs, dg = _jacobi(B)
    try:
        Lc = np.linalg.cholesky(Bs)
    except np.linalg.LinAlgError:
        return np.zeros_like(B), np.zeros(B.shape[0], dtype=bool)
    return lower_inverse(Lc) / dg[:, None, :], np.ones(B.shape[0], dtype=bool)


def pair_factor(Linv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``C_j`` (k, d, d), ``k = K / 2``, with ``C_j C_j^T = G_j + G_{j+k}``, ``G_g =
    [Linv_g^T Linv_g]_uu`` (the ``u``-blocks of ``B_g^{-1}`` of a pattern's two groups):
    Jacobi-scaled Cholesky, and a flag per pair as for :func:`block_chol_inv`."""
    k = Linv.shape[0] // 2
    Lu = Linv[:, :, 1:]
    G = Lu.transpose(0, 2, 1) @ Lu  # batched GEMM (einsum: 7x slower)
    Gp = G[:k] + G[k:]
    Gs, dg = _jacobi(Gp)
    try:
        C = np.linalg.cholesky(Gs)
    except np.linalg.LinAlgError:
        return np.zeros_like(Gp), np.zeros(k, dtype=bool)
    return C * dg[:, :, None], np.ones(k, dtype=bool)


# ---------------------------------------------------------------------------------------------
# The gated interior-point step, fused (:class:`.interior_point._GatedKKT` and the gated branch
# of the step). Compositions of the kernels above plus the masked products with ``S`` (n, K),
# the 0/1 masks of the groups in the solve, and ``X`` (n, d). Compiled, each is one call where
# the NumPy composition is 5-15 array operations: on the small UCI sets (n 75-250) the gated
# step's NumPy call overhead was about two thirds of its time.
# ---------------------------------------------------------------------------------------------
def gated_residuals(S: np.ndarray, X: np.ndarray, gL: np.ndarray, zs: np.ndarray,
                    beta: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Dual residuals of the gated program at ``grad L = gL``: ``c_g = X^T S_g gL``,
    ``r_u = c - z_u``, ``r_t = beta - z_0`` and ``h_g = ||c_g||`` (the dual-constraint value of
    group ``g`` at ``mu = -gL``)."""
    c = S.T @ (gL[:, None] * X)
    return c - zs[:, 1:], beta - zs[:, 0], np.sqrt(_rowdot(c, c))


def gated_scaling(s: np.ndarray, z: np.ndarray, rs: np.ndarray, rz: np.ndarray, S: np.ndarray,
                  E: np.ndarray, X: np.ndarray) -> tuple[Any, ...]:
    """Everything a gated step needs of the NT scaling: its parameters (:func:`nt_params`),
    ``lam = W z``, ``detl = sqrt(rs rz)`` (``= lam0^2 - |lam1|^2``), ``lam o lam``, and the two
    ``(n, K)`` factors of the Woodbury matrix, ``Se = S o E sqrt(alpha)`` and ``Q = S o E o
    (X q^T)`` with ``alpha I + q q^T`` the ``u``-block of ``B^{-1} = (W^{-2})^{-1}``
    (:class:`.interior_point._GatedKKT`): from the 2 x 2 form of
    :meth:`.interior_point._NTScaling.inv_of_inverse`, ``alpha = eta^2`` and, on ``v``, the
    square of ``eta A^{-1}`` has entry ``eta^2 (nu^2 + w0^2) / det^2``, so
    ``q = v (eta^2 (nu^2 + w0^2) / det^2 - eta^2)^{1/2}``."""
    w0, w1, c, eta, nu, v, det = nt_params(s, z, rs, rz)
    lam = nt_apply(w0, w1, c, eta, z, False)
    e2 = eta * eta
    coef = np.maximum(e2 * (nu * nu + w0 * w0) / (det * det) - e2, 0.0)
    SE = S * E[:, None]
    Se = SE * eta[None, :]
    Q = SE * (X @ (v * np.sqrt(coef)[:, None]).T)
    return w0, w1, c, eta, nu, v, det, lam, np.sqrt(rs * rz), jprod(lam, lam), Se, Q


def gated_solve_pre(nu: np.ndarray, v: np.ndarray, det: np.ndarray, w0: np.ndarray,
                    c: np.ndarray, eta: np.ndarray, rhs: np.ndarray, S: np.ndarray,
                    X: np.ndarray, E: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First half of ``H^{-1} rhs`` (:meth:`.interior_point._GatedKKT.solve`): ``a = V rhs`` and
    the right-hand side ``E o Ft V a`` of the ``n x n`` solve (``V = (W^{-1})^{-1}``)."""
    a = nt_inv_of_inverse(nu, v, det, w0, c, eta, rhs)
    a2 = nt_inv_of_inverse(nu, v, det, w0, c, eta, a)
    return a, E * _rowdot(S, X @ a2[:, 1:].T)


def gated_solve_post(nu: np.ndarray, v: np.ndarray, det: np.ndarray, w0: np.ndarray,
                     c: np.ndarray, eta: np.ndarray, a: np.ndarray, cv: np.ndarray,
                     S: np.ndarray, X: np.ndarray, E: np.ndarray) -> np.ndarray:
    """Second half: ``V (a - V Ft^T E cv)``, ``cv = M^{-1} (E o Ft V a)``."""
    back = np.zeros_like(a)
    back[:, 1:] = S.T @ ((E * cv)[:, None] * X)
    return nt_inv_of_inverse(nu, v, det, w0, c, eta,
                             a - nt_inv_of_inverse(nu, v, det, w0, c, eta, back))


def gated_apply_h(w0: np.ndarray, w1: np.ndarray, c: np.ndarray, eta: np.ndarray,
                  x: np.ndarray, S: np.ndarray, X: np.ndarray, E: np.ndarray) -> np.ndarray:
    """``H x = W^{-2} x + Ft^T E^2 Ft x``, the gated Newton matrix applied (unfactored)."""
    out = nt_apply_inv2(w0, w1, c, eta, x)
    f = _rowdot(S, X @ x[:, 1:].T)
    out[:, 1:] += S.T @ ((E * E * f)[:, None] * X)
    return out


def gated_rhs(lam: np.ndarray, rc: np.ndarray, detl: np.ndarray, w0: np.ndarray,
              w1: np.ndarray, c: np.ndarray, eta: np.ndarray, r_t: np.ndarray,
              r_u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The Newton right-hand side for the complementarity term ``rc``: ``Wq = W^{-1} q`` with
    ``lam o q = rc`` (:func:`jdiv`), and ``rhs = Wq - (r_t, r_u)``."""
    Wq = nt_apply(w0, w1, c, eta, jdiv(lam, rc, detl), True)
    rhs = np.empty_like(Wq)
    rhs[:, 0] = -r_t + Wq[:, 0]
    rhs[:, 1:] = -r_u + Wq[:, 1:]
    return Wq, rhs


def gated_finish(w0: np.ndarray, w1: np.ndarray, c: np.ndarray, eta: np.ndarray,
                 Wq: np.ndarray, dx: np.ndarray, X: np.ndarray, s: np.ndarray, rs: np.ndarray,
                 z: np.ndarray, rz: np.ndarray, with_dZ: bool = True
                 ) -> tuple[np.ndarray, np.ndarray, float]:
    """From the primal direction ``dx``: ``dz = Wq - W^{-2} dx``, ``dZ = X du^T`` (an empty
    ``(0, K)`` array unless ``with_dZ``: the predictor needs only the step) and the largest
    step keeping ``s + a dx`` and ``z + a dz`` inside their cones."""
    dz = Wq - nt_apply_inv2(w0, w1, c, eta, dx)
    dZ = X @ dx[:, 1:].T if with_dZ else np.empty((0, dx.shape[0]))
    return dz, dZ, min(soc_min_step(s, dx, rs), soc_min_step(z, dz, rz))


def gated_corrector(s: np.ndarray, dx: np.ndarray, z: np.ndarray, dz: np.ndarray, a: float,
                    lamlam: np.ndarray, w0: np.ndarray, w1: np.ndarray, c: np.ndarray,
                    eta: np.ndarray, comp: float, mu: float) -> np.ndarray:
    """Mehrotra's corrector from the affine direction ``(dx, dz)`` and its step ``a``:
    ``sigma = (comp_aff / comp)^3`` (clipped to [0, 1]) and the complementarity term
    ``rc = -lam o lam - (W^{-1} dx) o (W dz) + sigma mu e``."""
    comp_a = float(np.sum((s + a * dx) * (z + a * dz)))
    sigma = min(1.0, max(comp_a, 0.0) / comp) ** 3
    rc = -lamlam - jprod(nt_apply(w0, w1, c, eta, dx, True), nt_apply(w0, w1, c, eta, dz, False))
    rc[:, 0] += sigma * mu
    return rc


def gated_update(s: np.ndarray, z: np.ndarray, rs: np.ndarray, rz: np.ndarray, dx: np.ndarray,
                 dz: np.ndarray, a: float, Z: np.ndarray, dZ: np.ndarray, S: np.ndarray
                 ) -> tuple[np.ndarray, ...]:
    """The step of length ``a``: ``s, z``, their cone residuals ``x0^2 - |x1|^2`` carried by
    :func:`dr` (guarded against drift: never below ``1e-3`` of the direct value), ``Z = X U^T``
    (updated in place) and the predictions ``f = sum_g S_g o Z_g``."""
    rs = rs + dr(s, dx, a)
    rz = rz + dr(z, dz, a)
    s = s + a * dx
    z = z + a * dz
    rs = np.maximum(rs, 1e-3 * np.maximum(s[:, 0] ** 2 - _rowdot(s[:, 1:], s[:, 1:]), 1e-300))
    rz = np.maximum(rz, 1e-3 * np.maximum(z[:, 0] ** 2 - _rowdot(z[:, 1:], z[:, 1:]), 1e-300))
    Z += a * dZ
    return s, z, rs, rz, Z, _rowdot(S, Z)


_NAMES = ("soc_min_step", "dr", "jprod", "jdiv", "nt_params", "nt_apply", "nt_apply_inv2",
          "nt_inv_of_inverse", "lin_direction", "lin_comp", "lin_corrector", "lower_inverse",
          "nt_inv2_dense", "block_chol_inv", "pair_factor", "gated_residuals", "gated_scaling",
          "gated_solve_pre", "gated_solve_post", "gated_apply_h", "gated_rhs", "gated_finish",
          "gated_corrector", "gated_update")
# gated_step: the whole gated Newton step as one compiled call (numba only; the NumPy
# backend composes it in Python: interior_point._GatedKKT). LAPACK: its BLAS / LAPACK
# addresses.
_NUMPY = SimpleNamespace(name="numpy", gated_step=None, lapack=None,
                         **{k: globals()[k] for k in _NAMES})


# ---------------------------------------------------------------------------------------------
# backend choice
# ---------------------------------------------------------------------------------------------
_JIT: SimpleNamespace | None = None
_JIT_TRIED = False
_FORCED: str | None = None
#: ``CONVEXNN_JIT`` read once, at the first call of :func:`kernels` (reading the environment
#: on every call cost 13 us: 2 % of a small gated solve).
_ENV_OFF: bool | None = None


def _jit() -> SimpleNamespace | None:
    """The compiled kernels (loaded on first use), or None without numba."""
    global _JIT, _JIT_TRIED
    if not _JIT_TRIED:
        _JIT_TRIED = True
        try:
            from . import _cone_jit
        except ImportError:  # numba not installed (or broken): the NumPy kernels serve
            _JIT = None
        else:
            _JIT = SimpleNamespace(name="numba", gated_step=_cone_jit.gated_step,
                                   lapack=_cone_jit.lapack_addresses(),
                                   **{k: getattr(_cone_jit, k) for k in _NAMES})
    return _JIT


def available_backends() -> list[str]:
    """``["numpy"]``, plus ``"numba"`` where numba is installed."""
    return ["numpy"] + (["numba"] if _jit() is not None else [])


def kernels() -> SimpleNamespace:
    """The kernels to use: numba's where installed (unless ``CONVEXNN_JIT=0``), else NumPy's;
    :func:`use_backend` overrides the choice inside a block."""
    global _ENV_OFF
    if _FORCED == "numpy":
        return _NUMPY
    if _FORCED is None:
        if _ENV_OFF is None:
            _ENV_OFF = os.environ.get("CONVEXNN_JIT", "1").strip().lower() in ("0", "false", "no")
        if _ENV_OFF:
            return _NUMPY
    jit = _jit()
    if jit is None:
        if _FORCED == "numba":
            raise RuntimeError("the numba kernels need numba: pip install 'convexnn[jit]'")
        return _NUMPY
    return jit


@contextlib.contextmanager
def use_backend(name: str) -> Iterator[None]:
    """Run the block with the ``"numpy"`` or ``"numba"`` kernels (tests and A/B benchmarks)."""
    global _FORCED
    if name not in ("numpy", "numba"):
        raise ValueError(f"backend must be 'numpy' or 'numba', got {name!r}")
    if name == "numba" and _jit() is None:
        raise RuntimeError("the numba kernels need numba: pip install 'convexnn[jit]'")
    old, _FORCED = _FORCED, name
    try:
        yield
    finally:
        _FORCED = old
