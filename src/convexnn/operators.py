"""The masked operator ``M = [D_1 X, ..., D_P X]`` of the convex programs, never materialized.

Variables are stored group-major, ``V`` of shape (P, d) (row ``i`` is the block ``v_i``), so both
products are plain GEMMs in the layout BLAS likes best:

* forward ``M v = sum_i D_i X v_i = rowsum(mask * (X V^T))``  -- GEMM (n, d) x (d, P);
* adjoint ``M^T r = [X^T D_i r]_i = (mask * r)^T X``          -- GEMM (P, n) x (n, d).

The adjoint is computed as ``(R^T X)`` rather than ``X^T R``: with a long inner dimension ``n``,
OpenBLAS ran the transposed-left product up to 10x slower on this project's machines. The
constraint values of the ReLU model, ``(2 D_i - I) X v_i``, are a signed copy of the forward
GEMM's output, so the ReLU model costs the same two GEMMs per iteration.

Works on NumPy arrays and PyTorch tensors alike (array API).
"""

from __future__ import annotations

from typing import Any

from ._backend import array_namespace

__all__ = ["MaskedOperator"]


class MaskedOperator:
    """``M = [D_1 X ... D_P X]`` for data ``X`` (n, d) and 0/1 masks (n, P).

    Parameters
    ----------
    X : array of shape (n, d)
    masks : array of shape (n, P)
        Boolean or 0/1 masks; converted to ``X``'s dtype once (the masked products are then
        fused multiplies, with no branches).
    """

    def __init__(self, X: Any, masks: Any):
        xp = array_namespace(X)
        self.xp = xp
        self.X = X
        self.mask = xp.astype(masks, X.dtype) if masks.dtype != X.dtype else masks
        self.sign = 2 * self.mask - 1  # (2 D_i - I) as an (n, P) array of +-1
        self.n, self.d = X.shape
        self.P = self.mask.shape[1]
        self._norm_est: float | None = None

    def xv(self, V: Any) -> Any:
        """``X V^T``, shape (n, P)."""
        return self.X @ V.T

    def forward(self, V: Any, XV: Any | None = None) -> Any:
        """``sum_i D_i X v_i`` for ``V`` (P, d); pass ``XV = X V^T`` if already computed."""
        if XV is None:
            XV = self.xv(V)
        return self.xp.sum(self.mask * XV, axis=1)

    def adjoint(self, r: Any) -> Any:
        """``[X^T D_i r]_i`` as a (P, d) array."""
        return (self.mask * r[:, None]).T @ self.X

    def rmatmat(self, R: Any) -> Any:
        """``[X^T R_i]_i`` for a per-group (n, P) array ``R``: shape (P, d)."""
        return R.T @ self.X

    def norm_sq_upper(self) -> float:
        """An upper bound on ``||M||_2^2``: ``sum_i ||D_i X||_2^2 <= P ||X||_2^2`` is loose, so
        use ``||X||_2^2 * max_k sum_i D_ik`` (each row of ``M`` is ``x_k`` repeated on the
        groups where it is active, so ``M M^T = (X X^T) * (D D^T)`` and Schur's bound applies)."""
        if self._norm_est is None:
            xp = self.xp
            s = _spectral_norm(self.X)
            rowcount = float(xp.max(xp.sum(self.mask, axis=1)))
            self._norm_est = s * s * max(rowcount, 1.0)
        return self._norm_est


def _spectral_norm(X: Any, n_iter: int = 50) -> float:
    """Largest singular value by power iteration (cheap, exact to ~1e-3, then padded)."""
    xp = array_namespace(X)
    n, d = X.shape
    v = xp.ones((d,), dtype=X.dtype, device=getattr(X, "device", None)) if hasattr(X, "device") else xp.ones((d,), dtype=X.dtype)
    v = v / xp.linalg.vector_norm(v)
    s = 0.0
    for _ in range(n_iter):
        w = X.T @ (X @ v)
        nw = float(xp.linalg.vector_norm(w))
        if nw == 0.0:
            return 0.0
        v = w / nw
        s_new = nw**0.5
        if abs(s_new - s) <= 1e-6 * s_new:
            s = s_new
            break
        s = s_new
    # Power iteration approaches from below; pad by 1 % to keep it an upper bound in practice.
    return 1.01 * s
