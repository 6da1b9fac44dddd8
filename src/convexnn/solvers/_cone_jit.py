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
