"""Low-rank variable metric for the gated FISTA: removes the spectral outliers of ``M^T M``.

Why. Write a mask as ``D_i = I/2 + S_i/2`` with ``S_i = diag(+-1)``. Then
``M U = (1/2) X sum_i u_i + (1/2) sum_i S_i X u_i``: every group shares the term ``X sum_i u_i``,
so the Hessian ``H = kappa M^T M / n`` of the smooth part has about ``d`` eigenvalues of order
``P/2 * ||X||^2/n`` on (a perturbation of) the subspace ``{1_G (x) delta : delta in R^d}``,
far above the rest of its spectrum. Measured on the scaling benchmark's data (Gaussian ``X``
with a ones column, sampled gates): ``n=5000, d=10, P=200``: ``lambda_1 = 83``, ``lambda_10 =
53``, ``lambda_11 = 8``; ``d=20``: 84 / 48 / 5.4. Plain FISTA's step ``1/lambda_1`` is set by
those outliers, so its iteration count carries a factor ``sqrt(lambda_1 / lambda_bulk)``.

What. The metric ``B(L) = L I + V diag(max(lam - L, 0)) V^T`` with ``V`` (orthonormal) the
Rayleigh-Ritz basis of the block Krylov space ``span{K, H K}``, ``K = G^{-1/2} 1_G (x) I_d``,
and ``lam = s`` times its Ritz values: the directions of ``V`` keep their own curvature, the
scalar ``L`` of the complement is backtracked by FISTA as before (the sufficient-decrease test
uses ``||z - y||_B^2``, so every accepted step is a majorization of the true objective), and
the momentum restart uses the ``B`` inner product. ``s = 2`` absorbs the coupling between
``V`` and its complement: with ``s = 1`` the smallest ``L`` with ``B >= H`` was 4x larger than
``lambda_1`` on the data above, with ``s = 2`` within 15 % of the ideal ``lambda_{d+1}``
(exact eigen-decompositions, n=5000, d=10, P=200). Ritz vectors whose value stays below the
starting ``L`` add nothing and are dropped (on the scaling data: the lower half).
Iterations to a relative KKT residual of 1e-6/1e-7 (same generator, beta = 1e-2):
``n=3000, d=10, P=100``: 376 -> 95; ``n=20000, d=50, P=500`` (float32): 572 -> 72
(11.8 s -> 3.3 s); ``n=10^5, d=100, P=1000`` (float32, working set): 101 iterations, 25 s (plain FISTA:
KKT 6e-2 after 60 s). On small real sets (UCI, n < 1000) the iterations halve but the
host-side projections cost more than they save, and at loose tolerances plain FISTA needs few
iterations: :func:`.fista.use_metric`.

``H`` is estimated on a row subsample (``m <= 5000`` rows: its top eigenspace is an average over
rows and concentrates), so building the metric costs about ``3 G m d^2`` flops, a few
iterations' worth at ``n = 10^5``; a wrong estimate costs speed only -- backtracking keeps
every step a majorization of the true objective.

The metric proximal step (Becker & Fadili, NeurIPS 2012; Becker, Fadili & Ochs, SIAM J.
Optim. 2019). With ``B = L I + K K^T`` (``K = V diag(sqrt(L (rho - 1)))``, ``r`` columns),
``z = prox^B_h(x)`` is ``z = prox_{h/L}(x - K b / L)`` where ``b`` in ``R^r`` minimizes the
1-strongly convex, semismooth function

    Phi(b) = ||b||^2 / 2 + b . K^T x - L (env(v) - ||v||^2 / 2),   v = x - K b / L,

``env`` the Moreau envelope of ``h/L``; ``grad Phi(b) = b + K^T (x - z)``. It is solved by
Newton's method (Hessian ``I + K^T J K / L``, ``J`` the block Jacobian of group
soft-thresholding, formed from per-group Grams ``V_g^T V_g`` plus rank-one terms and solved
directly: conjugate gradients on it cost ~13 passes over ``V`` per step, 40 % of the solve
at n = 2e4) with an Armijo line search on ``Phi``, warm started from the previous step's
``b``; 1-2 Newton steps per FISTA iteration in steady state. Everything here is O(G d r + G r^2)
per Newton step, in float64 on the host, against O(n G d) for an operator product. Checked
against CVXPY+Clarabel on random instances in ``tests/test_metric.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._backend import array_namespace, to_numpy

__all__ = ["LowRankMetric", "build_gated_metric"]


class LowRankMetric:
    """``B = L I + V diag(max(lam - L, 0)) V^T`` on (G, d) arrays; ``V`` (G d, r) orthonormal.

    At curvature ``L`` this is ``L (I + V diag(rho - 1) V^T)`` with ``rho = max(lam / L, 1)``:
    the directions of ``V`` keep their curvature ``lam`` (Ritz values times the safety factor)
    while FISTA backtracks the scalar ``L`` of the complement.

    Projections onto ``V`` (``V^T a``, one pass over the (G d, r) basis) are the cost here, so
    the FISTA loop carries the projections of its iterates along (they are linear in them,
    like the predictions) and passes them in: a step costs one projection of the gradient,
    one lift, and per Newton step of the prox one lift, one projection and one pass for the
    rank-one parts of the Jacobian.

    Parameters
    ----------
    V : ndarray (G * d, r), float64, orthonormal columns
    lam : ndarray (r,), >= 0
    G, d : int
    L_start : float
        A starting value for ``L`` (see :func:`build_gated_metric`).
    """

    def __init__(self, V: np.ndarray, lam: np.ndarray, G: int, d: int, L_start: float):
        self.V = V
        self.lam = lam
        self.G, self.d = G, d
        self.L_start = L_start
        V3 = V.reshape(G, d, -1)
        #: Per-group Gram matrices ``V_g^T V_g`` (G, r, r) for the Newton Hessian.
        self._gram = np.matmul(V3.transpose(0, 2, 1), V3)
        self._b: np.ndarray | None = None
        #: Newton steps taken by :meth:`prox` so far (for benchmarks and tests).
        self.n_newton = 0

    # -------------------------------------------------------------- helpers
    def project(self, A: Any) -> np.ndarray:
        """``V^T vec(A)`` (float64, on the host)."""
        return self.V.T @ self._host(A).reshape(-1)

    def _lift(self, c: np.ndarray) -> np.ndarray:
        return (self.V @ c).reshape(self.G, self.d)

    def _e(self, L: float) -> np.ndarray:
        """``rho - 1`` at curvature ``L``."""
        return np.maximum(self.lam / L - 1.0, 0.0)

    @staticmethod
    def _host(A: Any) -> np.ndarray:
        return np.asarray(to_numpy(A), dtype=np.float64)

    def norm_sq(self, D: Any, L: float, pD: np.ndarray) -> float:
        """``||D||_B^2`` given ``pD = V^T vec(D)``."""
        xp = array_namespace(D)
        return L * float(xp.sum(D * D)) + L * float(np.sum(self._e(L) * pD * pD))

    def inner(self, A: Any, C: Any, L: float, pA: np.ndarray, pC: np.ndarray) -> float:
        """``<A, B C>`` given the projections ``pA``, ``pC``."""
        xp = array_namespace(A)
        return L * float(xp.sum(A * C)) + L * float(np.sum(self._e(L) * pA * pC))

    # -------------------------------------------------------------- the step
    def step(self, Uy: Any, Gy: Any, L: float, beta: float,
             pUy: np.ndarray) -> tuple[Any, np.ndarray]:
        """``z = prox^B_{beta ||.||_{2,1}}(Uy - B^{-1} Gy)`` and ``V^T vec(z)``; ``z`` like ``Uy``
        (backend, dtype), given ``pUy = V^T vec(Uy)``."""
        xp = array_namespace(Uy)
        Y, Gh = self._host(Uy), self._host(Gy)
        pG = self.project(Gh)
        # B^{-1} = (1/L) (I + V diag(1/rho - 1) V^T).
        rho = 1.0 + self._e(L)
        x = Y - (Gh + self._lift(pG * (1.0 / rho - 1.0))) / L
        px = pUy - pG / (rho * L)
        z, pz = self.prox(x, L, beta, px=px)
        return xp.asarray(z, dtype=Uy.dtype, device=getattr(Uy, "device", None)), pz

    def prox(self, x: np.ndarray, L: float, beta: float, *, px: np.ndarray | None = None,
             tol: float = 1e-9, max_newton: int = 30) -> tuple[np.ndarray, np.ndarray]:
        """``z = argmin_z ||z - x||_B^2 / 2 + beta sum_g ||z_g||`` and ``V^T vec(z)`` (see the
        module docstring); ``px = V^T vec(x)`` if known."""
        s = np.sqrt(L * self._e(L))          # K = V diag(s)
        t = beta / L
        Kx = s * (self.project(x) if px is None else px)
        # Warm start: b = K^T (z - x) of the previous step (K hardly depends on L).
        b = np.zeros_like(s) if self._b is None else self._b

        def evaluate(b: np.ndarray) -> tuple[float, np.ndarray, np.ndarray, np.ndarray,
                                             np.ndarray, np.ndarray]:
            w = self._lift(s * b) / L
            v = x - w
            nr = np.sqrt(np.sum(v * v, axis=1))
            sc = np.where(nr > t, 1.0 - t / np.where(nr > 0, nr, 1.0), 0.0)
            z = v * sc[:, None]
            # env(v) - ||v||^2/2 = t sum nr sc + ||z - v||^2/2 - ||v||^2/2, and with
            # v = x - w the ||x||^2 part is constant: drop it to avoid cancellation.
            zv = z - v
            env = t * float(np.sum(nr * sc)) + 0.5 * float(np.sum(zv * zv))
            vv_minus_xx = float(np.sum(w * w)) - 2.0 * float(np.sum(x * w))
            phi = 0.5 * float(b @ b) + float(b @ Kx) - L * env + 0.5 * L * vv_minus_xx
            pz = self.project(z)
            return phi, b + Kx - s * pz, v, nr, sc, pz

        phi, grad, v, nr, sc, pz = evaluate(b)
        scale = 1.0 + float(np.linalg.norm(Kx))
        for _ in range(max_newton):
            if float(np.linalg.norm(grad)) <= tol * scale:
                break
            # Newton matrix I + K^T J K / L, J = blockdiag(sc_g I + (t/nr_g) vh_g vh_g^T) on
            # the groups above the threshold: the first part from the per-group Grams, the
            # rank-one parts through u_g = V_g^T vh_g (one pass over V).
            act = np.flatnonzero(nr > t)
            A = np.tensordot(sc[act], self._gram[act], axes=1)
            if act.size:
                vh = v[act] / nr[act, None]
                u = np.einsum("gdr,gd->gr", self.V.reshape(self.G, self.d, -1)[act], vh)
                A += (u * (t / nr[act])[:, None]).T @ u
            Hs = np.eye(s.size) + (s[:, None] * A * s[None, :]) / L
            step = np.linalg.solve(Hs, grad)
            slope = float(grad @ step)
            tau = 1.0
            while True:
                out = evaluate(b - tau * step)
                if out[0] <= phi - 1e-4 * tau * slope or tau < 1e-3:
                    break
                tau *= 0.5
            b = b - tau * step
            phi, grad, v, nr, sc, pz = out
            self.n_newton += 1
            if tau < 1e-3:
                break   # round-off floor of Phi: the step is as good as it gets
        self._b = b
        return v * sc[:, None], pz


def build_gated_metric(X: Any, masks: Any, curvature: float, *, n_sub: int = 5_000,
                       s: float = 2.0, seed: int = 0, chunk_bytes: int = 256 * 1024**2) -> LowRankMetric:
    """The metric of the module docstring for the gated smooth part ``L(M U)`` whose Hessian
    is bounded by ``curvature * M^T M / n``; ``curvature`` is the loss's per-sample curvature
    bound (``loss.lipschitz(1)``: 1 for the squared loss, 1/4 for the logistic).

    Parameters
    ----------
    X : array (n, d); masks : array (n, G), 0/1 or boolean
        NumPy or PyTorch; a row subsample of at most ``n_sub`` rows is copied to the host.
    """
    Xh = np.asarray(to_numpy(X))
    n, d = Xh.shape
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(n, n_sub, replace=False)) if n > n_sub else np.arange(n)
    m = rows.size
    # The subspace need not be accurate (backtracking keeps every step safe): the GEMMs run in
    # float32 for float32 data.
    wdt = np.float32 if Xh.dtype == np.float32 else np.float64
    Xs = np.asarray(Xh[rows], dtype=wdt)
    Ds = np.asarray(to_numpy(masks[rows] if n > n_sub else masks), dtype=wdt)
    G = Ds.shape[1]
    kap = curvature / m                      # H = kap * Ms^T Ms  (Ms the subsampled M)
    c = Ds.sum(axis=1)                       # M K = c * X / sqrt(G)

    # H K, block i: kap / sqrt(G) * Xs^T diag(D_i c) Xs, as one GEMM D^T (X (x)_row cX) over
    # chunks of rows (the row-wise Khatri-Rao product is (m, d^2)).
    HK = np.zeros((G, d * d), dtype=wdt)
    cX = c[:, None] * Xs
    step = max(1, chunk_bytes // (8 * d * d))
    for a in range(0, m, step):
        e = min(m, a + step)
        KR = (Xs[a:e, :, None] * cX[a:e, None, :]).reshape(e - a, d * d)
        HK += Ds[a:e].T @ KR
    HK = HK.astype(np.float64).reshape(G, d, d) * (kap / np.sqrt(G))
    # Orthonormal basis of span{K, H K}: K = 1 (x) I / sqrt(G); project K out of H K, QR.
    H11 = HK.sum(axis=0) / np.sqrt(G)        # K^T H K
    R2 = HK - H11[None, :, :] / np.sqrt(G)
    Q2 = _orthonormal_columns(R2.reshape(G * d, d))
    Vb = np.concatenate([np.tile(np.eye(d), (G, 1)) / np.sqrt(G), Q2], axis=1)   # (G d, r)
    # Rayleigh-Ritz: Lambda = kap (Ms Vb)^T (Ms Vb), with Ms K = c X / sqrt(G) in closed form
    # and Ms Q2 = sum_i D_i Xs Q2_i by chunks of groups.
    MV = np.concatenate([cX / np.sqrt(G), _apply_block(Xs, Ds, Q2, chunk_bytes)], axis=1)
    Lam = kap * (MV.T @ MV).astype(np.float64)
    lam, Ql = np.linalg.eigh(0.5 * (Lam + Lam.T))
    V = Vb @ Ql
    # The Ritz values are Rayleigh quotients of fixed vectors (averages over rows, unbiased
    # under row subsampling). The bulk curvature is left to FISTA's backtracking, started from
    # the largest Ritz value below the top d (the outliers): a starting L far too small costs
    # a doubling per factor 2 and ill-conditions the first metric prox steps.
    lam = np.maximum(lam, 0.0)
    k = lam.size
    L0 = float(lam[k - d - 1]) if k > d else float(lam[0])
    L0 = max(L0, 1e-3 * float(lam[-1]) if k else 1.0, 1e-300)
    # Directions with s lam <= L add nothing to B (rho = 1): keep the ones well above the
    # starting L only (on the scaling data the lower half of the Ritz values stays below the
    # final L), which halves every projection.
    keep = lam > 2.0 * L0
    if not keep.any():
        keep[-1] = True
    return LowRankMetric(V[:, keep], s * lam[keep], G, d, L0)


def _orthonormal_columns(A: np.ndarray, rtol: float = 1e-10) -> np.ndarray:
    """An orthonormal basis of ``range(A)`` for a tall ``A`` by two passes of Cholesky-QR in
    eigenvalue form (``A U diag(w)^{-1/2}`` from ``A^T A = U diag(w) U^T``, directions with
    ``w <= rtol max w`` dropped; the second pass restores the orthogonality the first loses to
    conditioning): 2.6x faster than Householder QR at (48800, 100), orthogonality 3e-15."""
    Q = A
    for _ in range(2):
        w, U = np.linalg.eigh(Q.T @ Q)
        keep = w > rtol * max(float(w.max(initial=0.0)), 1e-300)
        Q = Q @ (U[:, keep] / np.sqrt(w[keep]))
    return Q


def _apply_block(Xs: np.ndarray, Ds: np.ndarray, Vb: np.ndarray, chunk_bytes: int) -> np.ndarray:
    """``Ms Vb`` for a (G d, k) block: column j is ``sum_i D_i Xs Vb[i-th block, j]``
    ``= rowsum(Xs * (Ds @ Vb_j))`` with ``Vb_j`` the (G, d) reshaping of column j: one GEMM
    ``Ds @ Vb`` (m x G x d k) per chunk of columns, then a contraction over d only (3.3x
    faster than contracting over the groups: m = 5000, G = 488, d = k = 100, float32)."""
    m, d = Xs.shape
    G = Ds.shape[1]
    k = Vb.shape[1]
    V3 = Vb.reshape(G, d, k)
    out = np.zeros((m, k), dtype=Xs.dtype)
    step = max(1, chunk_bytes // (Xs.itemsize * m * d))
    for a in range(0, k, step):
        e = min(k, a + step)
        R = Ds @ V3[:, :, a:e].reshape(G, d * (e - a)).astype(Xs.dtype)   # (m, d (e-a))
        out[:, a:e] = np.einsum("md,mdk->mk", Xs, R.reshape(m, d, e - a))
    return out
