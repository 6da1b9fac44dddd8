"""numba versions of the kernels of :mod:`._cone_kernels` (same names, same formulas; see there).

One loop over the cones (rows), one pass each, no temporaries. Imported only by
:func:`._cone_kernels._jit`, on the first interior-point solve, so ``import convexnn`` does not
load numba.
"""

from __future__ import annotations

import math

import numba
import numpy as np

_jit = numba.njit(cache=True, nogil=True)
# Reassociation for the long row sums only (n x K products): without it LLVM keeps the strict
# left-to-right order and cannot vectorize the reduction (a row dot of 98 x 250: 23 us, 6 us
# with it). The short Lorentz products of the cone kernels keep the strict order.
_jit_sum = numba.njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})


@_jit
def _lorentz(x, y, k):
    """``x_k0 y_k0 - x_k1 . y_k1`` (row ``k``)."""
    s = x[k, 0] * y[k, 0]
    for j in range(1, x.shape[1]):
        s -= x[k, j] * y[k, j]
    return s


@_jit
def soc_min_step(x, dx, rx):
    K = x.shape[0]
    best = math.inf
    for k in range(K):
        qa = _lorentz(dx, dx, k)
        qb = 2.0 * _lorentz(x, dx, k)
        disc = qb * qb - 4.0 * qa * rx[k]
        if disc >= 0:
            sq = math.sqrt(disc)
            q = -0.5 * (qb + (sq if qb >= 0 else -sq))
            if q != 0:
                r1 = rx[k] / q
                if 0 < r1 < best:
                    best = r1
            if qa != 0:
                r2 = q / qa
                if 0 < r2 < best:
                    best = r2
        if dx[k, 0] < 0:
            lim0 = -x[k, 0] / dx[k, 0]
            if lim0 < best:
                best = lim0
    return best


@_jit
def dr(x, dx, a):
    K = x.shape[0]
    out = np.empty(K)
    for k in range(K):
        out[k] = a * (2.0 * _lorentz(x, dx, k) + a * _lorentz(dx, dx, k))
    return out


@_jit
def jprod(x, y):
    K, m = x.shape
    out = np.empty((K, m))
    for k in range(K):
        s = 0.0
        for j in range(m):
            s += x[k, j] * y[k, j]
        out[k, 0] = s
        for j in range(1, m):
            out[k, j] = x[k, 0] * y[k, j] + y[k, 0] * x[k, j]
    return out


@_jit
def jdiv(lam, r, detl):
    K, m = r.shape
    q = np.empty((K, m))
    for k in range(K):
        s = lam[k, 0] * r[k, 0]
        for j in range(1, m):
            s -= lam[k, j] * r[k, j]
        q0 = s / detl[k]
        q[k, 0] = q0
        for j in range(1, m):
            q[k, j] = (r[k, j] - q0 * lam[k, j]) / lam[k, 0]
    return q


@_jit
def nt_params(s, z, rs, rz):
    K, m = s.shape
    w0 = np.empty(K)
    w1 = np.empty((K, m - 1))
    c = np.empty(K)
    eta = np.empty(K)
    nu = np.empty(K)
    v = np.empty((K, m - 1))
    det = np.empty(K)
    for k in range(K):
        sqs = math.sqrt(rs[k])
        sqz = math.sqrt(rz[k])
        dot = 0.0
        for j in range(m):
            dot += (s[k, j] / sqs) * (z[k, j] / sqz)
        g2 = 2.0 * math.sqrt(0.5 * (1.0 + dot))
        a0 = (s[k, 0] / sqs + z[k, 0] / sqz) / g2
        w0[k] = a0 if a0 > 1.0 else 1.0
        n2 = 0.0
        for j in range(1, m):
            wj = (s[k, j] / sqs - z[k, j] / sqz) / g2
            w1[k, j - 1] = wj
            n2 += wj * wj
        c[k] = 1.0 / (1.0 + w0[k])
        eta[k] = math.sqrt(sqs / sqz)
        nrm = math.sqrt(n2)
        nu[k] = nrm
        inv = 1.0 / nrm if nrm > 0 else 1.0
        for j in range(m - 1):
            v[k, j] = w1[k, j] * inv
        det[k] = w0[k] * (1.0 + c[k] * n2) - n2
    return w0, w1, c, eta, nu, v, det


@_jit
def nt_apply(w0, w1, c, eta, x, inverse):
    K, m = x.shape
    out = np.empty((K, m))
    sg = -1.0 if inverse else 1.0
    for k in range(K):
        w1x = 0.0
        for j in range(1, m):
            w1x += w1[k, j - 1] * x[k, j]
        sc = 1.0 / eta[k] if inverse else eta[k]
        out[k, 0] = sc * (w0[k] * x[k, 0] + sg * w1x)
        coef = sg * x[k, 0] + c[k] * w1x
        for j in range(1, m):
            out[k, j] = sc * (x[k, j] + coef * w1[k, j - 1])
    return out


@_jit
def nt_apply_inv2(w0, w1, c, eta, x):
    return nt_apply(w0, w1, c, eta, nt_apply(w0, w1, c, eta, x, True), True)


@_jit
def nt_inv_of_inverse(nu, v, det, w0, c, eta, x):
    K, m = x.shape
    out = np.empty((K, m))
    for k in range(K):
        p = 0.0
        for j in range(1, m):
            p += v[k, j - 1] * x[k, j]
        e = eta[k]
        out[k, 0] = e * ((1.0 + c[k] * nu[k] * nu[k]) * x[k, 0] + nu[k] * p) / det[k]
        coef = e * (nu[k] * x[k, 0] + w0[k] * p) / det[k] - e * p
        for j in range(1, m):
            out[k, j] = e * x[k, j] + coef * v[k, j - 1]
    return out


@_jit
def lin_direction(C, dZ, Wq, wl, sl, zl):
    n, K = C.shape
    ds = np.empty((n, K))
    dz = np.empty((n, K))
    rs = math.inf
    rz = math.inf
    for i in range(n):
        for k in range(K):
            a = C[i, k] * dZ[i, k]
            b = Wq[i, k] - wl[i, k] * a
            ds[i, k] = a
            dz[i, k] = b
            r = a / sl[i, k]
            if r < rs:
                rs = r
            r = b / zl[i, k]
            if r < rz:
                rz = r
    return ds, dz, rs, rz


@_jit
def lin_comp(sl, ds, zl, dz, ap, ad):
    n, K = sl.shape
    tot = 0.0
    for i in range(n):
        for k in range(K):
            tot += (sl[i, k] + ap * ds[i, k]) * (zl[i, k] + ad * dz[i, k])
    return tot


@_jit
def lin_corrector(sl, zl, ds, dz, smu):
    n, K = sl.shape
    out = np.empty((n, K))
    for i in range(n):
        for k in range(K):
            out[i, k] = (-sl[i, k] * zl[i, k] + smu - ds[i, k] * dz[i, k]) / sl[i, k]
    return out


@_jit
def lower_inverse(L):
    K, m, _ = L.shape
    Li = np.zeros((K, m, m))
    for k in range(K):
        for j in range(m):
            dj = 1.0 / L[k, j, j]
            Li[k, j, j] = dj
            for i in range(j):  # row j: (e_j - L[j, :j] Li[:j]) / L[j, j]
                s = 0.0
                for p in range(i, j):
                    s += L[k, j, p] * Li[k, p, i]
                Li[k, j, i] = -s * dj
    return Li


@_jit
def nt_inv2_dense(w0, w1, c, eta):
    K, m1 = w1.shape
    B = np.empty((K, m1 + 1, m1 + 1))
    for k in range(K):
        n2 = 0.0
        for j in range(m1):
            n2 += w1[k, j] * w1[k, j]
        ie2 = 1.0 / (eta[k] * eta[k])
        b = -(w0[k] + 1.0 + c[k] * n2) * ie2
        e = (1.0 + 2.0 * c[k] + c[k] * c[k] * n2) * ie2
        B[k, 0, 0] = (w0[k] * w0[k] + n2) * ie2
        for i in range(m1):
            B[k, 0, i + 1] = b * w1[k, i]
            B[k, i + 1, 0] = b * w1[k, i]
            ei = e * w1[k, i]
            for j in range(m1):
                B[k, i + 1, j + 1] = ei * w1[k, j]
            B[k, i + 1, i + 1] += ie2
    return B


@_jit
def _chol_scaled(A, L, dg):
    """Cholesky ``L`` of ``diag(dg)^{-1} A diag(dg)^{-1}``, ``dg = diag(A)^{1/2}``, in place;
    False if a pivot is not positive."""
    m = A.shape[0]
    for i in range(m):
        dg[i] = math.sqrt(max(A[i, i], 1e-300))
    for j in range(m):
        s = A[j, j] / (dg[j] * dg[j])
        for p in range(j):
            s -= L[j, p] * L[j, p]
        if not s > 0:
            return False
        ljj = math.sqrt(s)
        L[j, j] = ljj
        for i in range(j + 1, m):
            t = A[i, j] / (dg[i] * dg[j])
            for p in range(j):
                t -= L[i, p] * L[j, p]
            L[i, j] = t / ljj
    return True


@_jit
def block_chol_inv(B):
    K, m, _ = B.shape
    Li = np.zeros((K, m, m))
    ok = np.ones(K, dtype=np.bool_)
    L = np.zeros((m, m))
    dg = np.empty(m)
    for k in range(K):
        if not _chol_scaled(B[k], L, dg):
            ok[k] = False
            continue
        for j in range(m):  # forward substitution, then the column scaling by 1 / dg
            dj = 1.0 / L[j, j]
            Li[k, j, j] = dj
            for i in range(j):
                s = 0.0
                for p in range(i, j):
                    s += L[j, p] * Li[k, p, i]
                Li[k, j, i] = -s * dj
        for i in range(m):
            for j in range(i + 1):
                Li[k, i, j] /= dg[j]
    return Li, ok


@_jit
def pair_factor(Linv):
    K, m, _ = Linv.shape
    k2 = K // 2
    d = m - 1
    C = np.zeros((k2, d, d))
    ok = np.ones(k2, dtype=np.bool_)
    Gp = np.empty((d, d))
    L = np.zeros((d, d))
    dg = np.empty(d)
    for j in range(k2):
        # Gp = sum over the pair of [Linv^T Linv]_uu; Linv is lower triangular, so column
        # 1 + a is zero above row 1 + a
        for a in range(d):
            for b in range(a + 1):
                s = 0.0
                for g in (j, j + k2):
                    for r in range(a + 1, m):
                        s += Linv[g, r, a + 1] * Linv[g, r, b + 1]
                Gp[a, b] = s
                Gp[b, a] = s
        if not _chol_scaled(Gp, L, dg):
            ok[j] = False
            continue
        for a in range(d):
            for b in range(a + 1):
                C[j, a, b] = L[a, b] * dg[a]
    return C, ok


# ---------------------------------------------------------------------------------------------
# The gated interior-point step, fused (see _cone_kernels.gated_*). The products with X and S
# go to BLAS through np.dot (contiguous operands: S.T of a C-ordered S is Fortran-ordered, which
# BLAS reads without a copy); everything else is one loop.
# ---------------------------------------------------------------------------------------------
@_jit
def _rows_copy(U):
    """A C-ordered copy of ``U`` (a column slice)."""
    K, d = U.shape
    out = np.empty((K, d))
    for k in range(K):
        for j in range(d):
            out[k, j] = U[k, j]
    return out


@_jit_sum
def _rowdot(S, Z):
    """``f_i = sum_k S_ik Z_ik``."""
    n, K = S.shape
    f = np.empty(n)
    for i in range(n):
        t = 0.0
        for k in range(K):
            t += S[i, k] * Z[i, k]
        f[i] = t
    return f


@_jit
def _masked_forward(S, X, U):
    """``f_i = sum_k S_ik (X U^T)_ik`` for the rows ``U`` (K, d)."""
    return _rowdot(S, np.dot(X, _rows_copy(U).T))


@_jit
def _masked_adjoint(S, X, w):
    """``(X^T diag(w o S_k))_k`` as rows (K, d): ``S^T (w o X)``. (Loops, not array
    expressions, here and below: numba compiles them in a fraction of the time.)"""
    n, d = X.shape
    wX = np.empty((n, d))
    for i in range(n):
        for j in range(d):
            wX[i, j] = w[i] * X[i, j]
    return np.dot(S.T, wX)


@_jit
def gated_residuals(S, X, gL, zs, beta):
    c = _masked_adjoint(S, X, gL)
    K, d = c.shape
    r_u = np.empty((K, d))
    r_t = np.empty(K)
    h = np.empty(K)
    for k in range(K):
        ss = 0.0
        for j in range(d):
            r_u[k, j] = c[k, j] - zs[k, j + 1]
            ss += c[k, j] * c[k, j]
        h[k] = math.sqrt(ss)
        r_t[k] = beta - zs[k, 0]
    return r_u, r_t, h


@_jit
def gated_scaling(s, z, rs, rz, S, E, X):
    n, K = S.shape
    return _gated_scaling_into(s, z, rs, rz, S, E, X, np.empty((n, K)), np.empty((n, K)))


@_jit
def _gated_scaling_into(s, z, rs, rz, S, E, X, Se, Q):
    w0, w1, c, eta, nu, v, det = nt_params(s, z, rs, rz)
    lam = nt_apply(w0, w1, c, eta, z, False)
    K, m = s.shape
    qv = np.empty((K, m - 1))
    detl = np.empty(K)
    for k in range(K):
        e2 = eta[k] * eta[k]
        coef = e2 * (nu[k] * nu[k] + w0[k] * w0[k]) / (det[k] * det[k]) - e2
        sq = math.sqrt(coef) if coef > 0 else 0.0
        for j in range(m - 1):
            qv[k, j] = v[k, j] * sq
        detl[k] = math.sqrt(rs[k] * rz[k])
    XQ = np.dot(X, qv.T)
    n = X.shape[0]
    for i in range(n):
        for k in range(K):
            se = S[i, k] * E[i]
            Se[i, k] = se * eta[k]
            Q[i, k] = se * XQ[i, k]
    return w0, w1, c, eta, nu, v, det, lam, detl, jprod(lam, lam), Se, Q


@_jit
def gated_solve_pre(nu, v, det, w0, c, eta, rhs, S, X, E):
    a = nt_inv_of_inverse(nu, v, det, w0, c, eta, rhs)
    a2 = nt_inv_of_inverse(nu, v, det, w0, c, eta, a)
    f = _masked_forward(S, X, a2[:, 1:])
    for i in range(f.shape[0]):
        f[i] *= E[i]
    return a, f


@_jit
def gated_solve_post(nu, v, det, w0, c, eta, a, cv, S, X, E):
    n = E.shape[0]
    w = np.empty(n)
    for i in range(n):
        w[i] = E[i] * cv[i]
    bu = _masked_adjoint(S, X, w)
    K, m = a.shape
    back = np.zeros((K, m))
    for k in range(K):
        for j in range(1, m):
            back[k, j] = bu[k, j - 1]
    t = nt_inv_of_inverse(nu, v, det, w0, c, eta, back)
    for k in range(K):
        for j in range(m):
            t[k, j] = a[k, j] - t[k, j]
    return nt_inv_of_inverse(nu, v, det, w0, c, eta, t)


@_jit
def gated_apply_h(w0, w1, c, eta, x, S, X, E):
    out = nt_apply_inv2(w0, w1, c, eta, x)
    f = _masked_forward(S, X, x[:, 1:])
    for i in range(f.shape[0]):
        f[i] *= E[i] * E[i]
    bu = _masked_adjoint(S, X, f)
    K, m = out.shape
    for k in range(K):
        for j in range(1, m):
            out[k, j] += bu[k, j - 1]
    return out


@_jit
def gated_rhs(lam, rc, detl, w0, w1, c, eta, r_t, r_u):
    Wq = nt_apply(w0, w1, c, eta, jdiv(lam, rc, detl), True)
    K, m = Wq.shape
    rhs = np.empty((K, m))
    for k in range(K):
        rhs[k, 0] = -r_t[k] + Wq[k, 0]
        for j in range(1, m):
            rhs[k, j] = -r_u[k, j - 1] + Wq[k, j]
    return Wq, rhs


@_jit
def gated_finish(w0, w1, c, eta, Wq, dx, X, s, rs, z, rz, with_dZ=True):
    dz = nt_apply_inv2(w0, w1, c, eta, dx)
    K, m = dz.shape
    for k in range(K):
        for j in range(m):
            dz[k, j] = Wq[k, j] - dz[k, j]
    dZ = np.dot(X, _rows_copy(dx[:, 1:]).T) if with_dZ else np.empty((0, K))
    return dz, dZ, min(soc_min_step(s, dx, rs), soc_min_step(z, dz, rz))


@_jit
def gated_corrector(s, dx, z, dz, a, lamlam, w0, w1, c, eta, comp, mu):
    K, m = s.shape
    comp_a = 0.0
    for k in range(K):
        for j in range(m):
            comp_a += (s[k, j] + a * dx[k, j]) * (z[k, j] + a * dz[k, j])
    sigma = min(1.0, max(comp_a, 0.0) / comp) ** 3
    rc = jprod(nt_apply(w0, w1, c, eta, dx, True), nt_apply(w0, w1, c, eta, dz, False))
    for k in range(K):
        for j in range(m):
            rc[k, j] = -lamlam[k, j] - rc[k, j]
        rc[k, 0] += sigma * mu
    return rc


@_jit
def gated_update(s, z, rs, rz, dx, dz, a, Z, dZ, S):
    drs = dr(s, dx, a)
    drz = dr(z, dz, a)
    K, m = s.shape
    s2 = np.empty((K, m))
    z2 = np.empty((K, m))
    rs2 = np.empty(K)
    rz2 = np.empty(K)
    for k in range(K):
        ss = 0.0
        zz = 0.0
        for j in range(m):
            s2[k, j] = s[k, j] + a * dx[k, j]
            z2[k, j] = z[k, j] + a * dz[k, j]
            if j > 0:
                ss += s2[k, j] * s2[k, j]
                zz += z2[k, j] * z2[k, j]
        rs2[k] = max(rs[k] + drs[k], 1e-3 * max(s2[k, 0] * s2[k, 0] - ss, 1e-300))
        rz2[k] = max(rz[k] + drz[k], 1e-3 * max(z2[k, 0] * z2[k, 0] - zz, 1e-300))
    n = Z.shape[0]
    for i in range(n):  # in place (as the NumPy version): a fresh (n, K) array each step
        for k in range(K):  # cost its pages' faults (1 MB at pima)
            Z[i, k] += a * dZ[i, k]
    return s2, z2, rs2, rz2, Z, _rowdot(S, Z)


# ---------------------------------------------------------------------------------------------
# BLAS / LAPACK from compiled code, and the whole gated Newton step as one compiled call
# ---------------------------------------------------------------------------------------------
# scipy exports its BLAS and LAPACK as Cython-level function pointers (Fortran convention:
# every argument by pointer). A ctypes function object in a compiled function is a "dynamic
# global" that numba cannot cache on disk (every process would recompile the step, ~2 s), so
# the addresses are passed in at run time and called through this intrinsic instead: the
# compiled code holds no address, and caches.
def _make_fcall(nargs):
    from llvmlite import ir
    from numba import types
    from numba.extending import intrinsic

    @intrinsic
    def fcall(typingctx, addr, args):
        """Call the ``void f(void *, ..., void *)`` at ``addr`` with the addresses ``args``."""
        if not isinstance(addr, types.Integer) or not isinstance(args, types.BaseTuple) \
                or len(args) != nargs:
            return None

        def codegen(context, builder, signature, llargs):
            i8p = ir.IntType(8).as_pointer()
            fnty = ir.FunctionType(ir.VoidType(), [i8p] * nargs)
            fptr = builder.inttoptr(llargs[0], fnty.as_pointer())
            builder.call(fptr, [builder.inttoptr(builder.extract_value(llargs[1], i), i8p)
                                for i in range(nargs)])
            return context.get_dummy_value()

        return types.void(addr, args), codegen

    return fcall


_fcall5 = _make_fcall(5)
_fcall8 = _make_fcall(8)
_fcall10 = _make_fcall(10)


def lapack_addresses():
    """The addresses of scipy's ``dsyrk``, ``dpotrf`` and ``dpotrs`` (for :func:`gated_step`)."""
    from numba.extending import get_cython_function_address as addr

    return np.array([addr("scipy.linalg.cython_blas", "dsyrk"),
                     addr("scipy.linalg.cython_lapack", "dpotrf"),
                     addr("scipy.linalg.cython_lapack", "dpotrs")], dtype=np.int64)


@_jit
def _gram_factor(Se, Q, XXt, addrs, M):
    """The upper Cholesky factor of ``M = I + XXt o (Se Se^T) + Q Q^T`` (Fortran view; as
    :class:`.interior_point._GatedKKT` forms it: two symmetric rank-K updates of the upper
    triangle, the Hadamard product in between) and LAPACK's ``info``.

    The C-ordered ``(n, K)`` factors are, to Fortran, the ``K x n`` matrices ``Se^T``
    (leading dimension ``K``), so ``dsyrk('U', 'T')`` gives ``Se Se^T``; the ``n x n`` result,
    Fortran-ordered, holds the upper triangle in what C sees as the lower one."""
    n, K = Se.shape
    ch = np.array([ord("U"), ord("T")], dtype=np.uint8)
    ii = np.array([n, K, K, n, 0], dtype=np.int32)
    dd = np.array([1.0, 0.0, 1.0])
    pc, pi, pd = ch.ctypes.data, ii.ctypes.data, dd.ctypes.data
    if K > 0:
        _fcall10(addrs[0], (pc, pc + 1, pi, pi + 4, pd, Se.ctypes.data, pi + 8, pd + 8,
                            M.ctypes.data, pi + 12))
        for r in range(n):
            for q in range(r + 1):
                M[r, q] *= XXt[r, q]
        _fcall10(addrs[0], (pc, pc + 1, pi, pi + 4, pd, Q.ctypes.data, pi + 8, pd + 16,
                            M.ctypes.data, pi + 12))
    else:
        M[:, :] = 0.0
    for r in range(n):
        M[r, r] += 1.0
    _fcall5(addrs[1], (pc, pi, M.ctypes.data, pi + 12, pi + 16))
    return M, ii[4]


@_jit
def _factor_solve(R, b, addrs):
    """``M^{-1} b`` from :func:`_gram_factor`'s factor (``dpotrs``) and ``info``."""
    n = R.shape[0]
    x = b.copy()
    ch = np.array([ord("U")], dtype=np.uint8)
    ii = np.array([n, 1, n, 0], dtype=np.int32)
    pi = ii.ctypes.data
    _fcall8(addrs[2], (ch.ctypes.data, pi, pi + 4, R.ctypes.data, pi + 8, x.ctypes.data,
                       pi + 8, pi + 12))
    return x, ii[3]


@_jit
def _gated_solve1(nu, v, det, w0, c, eta, rhs, S, X, E, R, addrs):
    a, b = gated_solve_pre(nu, v, det, w0, c, eta, rhs, S, X, E)
    cv, info = _factor_solve(R, b, addrs)
    return gated_solve_post(nu, v, det, w0, c, eta, a, cv, S, X, E), info


@_jit
def gated_step(s, z, rs, rz, S, E, X, XXt, r_t, r_u, comp, mu, refine_w0, addrs, work):
    """One Mehrotra predictor-corrector direction of the gated program in one compiled call:
    the operations of :class:`.interior_point._GatedKKT` and its two ``direction`` calls, in
    the same order (NT scaling, the ``n x n`` matrix and its factor, the affine direction and
    its step, the corrector's ``rc``, the corrected direction with one refinement step where
    ``w0 > refine_w0``). The Python composition makes ~30 calls a step; in a small fit each
    costs several times its isolated time (the large products between evict the
    interpreter's and NumPy's working sets from the caches).

    ``work``: at least ``(3 K + n) n`` floats, reused across steps for the large arrays
    (``Se``, ``Q``, the matrix and ``dZ``, which is returned as a view into it).

    Returns ``ok, dx, dz, dZ, a_max``; ``ok`` is False (and the arrays empty) where the
    Cholesky factorization failed -- the caller then takes the Python path, whose
    factorization falls back to an eigenvalue clamp."""
    n, K = S.shape
    Se = work[:n * K].reshape((n, K))
    Q = work[n * K:2 * n * K].reshape((n, K))
    R = work[2 * n * K:2 * n * K + n * n].reshape((n, n))  # then dZ (n, K): (3 K + n) n
    w0, w1, c, eta, nu, v, det, lam, detl, lamlam, Se, Q = _gated_scaling_into(
        s, z, rs, rz, S, E, X, Se, Q)
    R, info = _gram_factor(Se, Q, XXt, addrs, R)
    K, m = s.shape
    if info != 0:
        return False, np.empty((0, m)), np.empty((0, m)), np.empty((0, K)), 0.0
    refine = False
    for k in range(K):
        if w0[k] > refine_w0:
            refine = True
            break
    # predictor (affine scaling): rc = -lam o lam, no refinement, no dZ
    rc = np.empty((K, m))
    for k in range(K):
        for j in range(m):
            rc[k, j] = -lamlam[k, j]
    Wq, rhs = gated_rhs(lam, rc, detl, w0, w1, c, eta, r_t, r_u)
    dx, i1 = _gated_solve1(nu, v, det, w0, c, eta, rhs, S, X, E, R, addrs)
    dz, _, a_aff = gated_finish(w0, w1, c, eta, Wq, dx, X, s, rs, z, rz, False)
    # corrector
    rc = gated_corrector(s, dx, z, dz, min(1.0, a_aff), lamlam, w0, w1, c, eta, comp, mu)
    Wq, rhs = gated_rhs(lam, rc, detl, w0, w1, c, eta, r_t, r_u)
    dx, i2 = _gated_solve1(nu, v, det, w0, c, eta, rhs, S, X, E, R, addrs)
    if refine:
        res = rhs - gated_apply_h(w0, w1, c, eta, dx, S, X, E)
        ddx, i3 = _gated_solve1(nu, v, det, w0, c, eta, res, S, X, E, R, addrs)
        dx = dx + ddx
        i2 = max(i2, i3)
    if i1 != 0 or i2 != 0:
        return False, np.empty((0, m)), np.empty((0, m)), np.empty((0, K)), 0.0
    dz, _, a_max = gated_finish(w0, w1, c, eta, Wq, dx, X, s, rs, z, rz, False)
    dZ = work[2 * n * K + n * n:3 * n * K + n * n].reshape((n, K))
    np.dot(X, _rows_copy(dx[:, 1:]).T, dZ)
    return True, dx, dz, dZ, a_max
