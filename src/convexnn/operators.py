"""The masked operator ``M = [D_1 X, ..., D_P X]`` of the convex programs, never materialized.

Variables are stored group-major, ``V`` of shape (P, d) (row ``i`` is the block ``v_i``). Both
products are written with the 0/1 mask matrix ``D = [diag(D_1) ... diag(D_P)]`` (n, P) itself as
the GEMM operand, which removes every (n, P) elementwise pass from the hot path:

* forward ``M v = sum_i D_i X v_i``: row ``k`` is ``sum_i D_ki x_k . v_i = x_k . (D V)_k``, so
  ``M v = rowsum(X * (D @ V))`` -- one GEMM (n, P) x (P, d) and an O(nd) row-wise dot;
* adjoint ``M^T r = [X^T D_i r]_i = D^T @ (r[:, None] * X)`` -- one GEMM (P, n) x (n, d).

Both GEMMs have the flop count of the textbook pair ``X V^T`` (n x d x P) and ``R^T X``; the
outputs are (n, d) and (P, d), so no (n, P) float temporary is ever written (the textbook form
writes ``X V^T``, multiplies it by the mask and sums it: three extra passes over n x P floats,
and PyTorch's CPU kernels for bool-times-float products ran 10x slower than a GEMM here).

Storage. The masks are kept as a boolean (n, P) array (:attr:`MaskedOperator.mask`, 1 byte per
entry). The GEMM needs them in ``X``'s dtype: that dense copy is made once when it fits
``max_dense_bytes`` (or reused without a copy when the caller already passes masks in ``X``'s
dtype); otherwise the products run over blocks of rows, converting each block of the boolean
masks into one reusable buffer of at most ``block_bytes`` ("blocked over rows when memory
requires").

Layouts (measured with OpenBLAS on this project's 2-core machine): ``D^T @ B`` with ``D``
row-major is the fast adjoint; ``(B^T @ D)^T`` -- ``X^T R`` with its long inner dimension in the
transposed left operand -- ran 2-10x slower, so it is never used.

Works on NumPy arrays and PyTorch tensors alike (array API).
"""

from __future__ import annotations

import os
from typing import Any

from ._backend import array_namespace

__all__ = ["MaskedOperator"]

#: Floor of the default cap on the dense (X.dtype) copy of the masks, bytes. On CPU the
#: default cap is the larger of this and a quarter of the available physical memory
#: (:func:`default_max_dense_bytes`): at n = 1e6, P = 1,000 the blocked products (one bool ->
#: float conversion of every block per product) cost 1.77x the two bare GEMMs, the dense ones
#: ~1.1x (benchmarks/results/scaling_1e6.md).
DEFAULT_MAX_DENSE_BYTES = 2 * 1024**3
#: Default size of the per-block conversion buffer in blocked mode, bytes.
DEFAULT_BLOCK_BYTES = 128 * 1024**2


class MaskedOperator:
    """``M = [D_1 X ... D_P X]`` for data ``X`` (n, d) and 0/1 masks (n, P).

    Parameters
    ----------
    X : array of shape (n, d)
    masks : array of shape (n, P)
        Boolean masks (kept as booleans), or 0/1 masks in ``X``'s dtype (then used as the GEMM
        operand directly, without a copy; any other dtype is converted to boolean).
    dense : bool, optional
        Force (True) or forbid (False) the dense copy of boolean masks; default: dense when it
        fits ``max_dense_bytes``.
    max_dense_bytes : int, optional
        Cap on the dense copy; default :func:`default_max_dense_bytes` (on CPU the larger of
        2 GiB and a quarter of the available memory).
    block_bytes : int
        Size of the per-block conversion buffer in blocked mode, see the module docstring.
    """

    def __init__(self, X: Any, masks: Any, *, dense: bool | None = None,
                 max_dense_bytes: int | None = None,
                 block_bytes: int = DEFAULT_BLOCK_BYTES):
        xp = array_namespace(X)
        self.xp = xp
        self.X = X
        self.n, self.d = int(X.shape[0]), int(X.shape[1])
        self.P = int(masks.shape[1])
        self.dtype = X.dtype
        itemsize = _itemsize(X)
        self._mask: Any = None
        self._dense: Any = None
        if masks.dtype == X.dtype and dense is not False:
            self._dense = masks
        else:
            self._mask = masks if masks.dtype == xp.bool else xp.astype(masks != 0, xp.bool)
            if max_dense_bytes is None:
                max_dense_bytes = default_max_dense_bytes(X)
            if dense or (dense is None and self.n * self.P * itemsize <= max_dense_bytes):
                self._dense = xp.astype(self._mask, X.dtype)
        self.block_rows = max(1, min(self.n, block_bytes // max(1, self.P * itemsize)))
        self._norm_est: float | None = None
        #: Products computed so far (forward, adjoint): for benchmarks and tests.
        self.n_forward = 0
        self.n_adjoint = 0

    # ------------------------------------------------------------------ storage
    @property
    def mask(self) -> Any:
        """The masks as a boolean (n, P) array (made on first use when given as floats)."""
        if self._mask is None:
            self._mask = self._dense != 0
        return self._mask

    @property
    def is_dense(self) -> bool:
        """Whether the products use one dense (n, P) operand (else blocks of rows)."""
        return self._dense is not None

    def columns(self, cols: Any, *, dense: bool | None = None,
                max_dense_bytes: int | None = None) -> MaskedOperator:
        """The operator restricted to the patterns ``cols`` (an integer index array)."""
        idx = _index(self.xp, self.X, cols)
        if self._dense is not None and dense is not False:
            return MaskedOperator(self.X, self._dense[:, idx])
        return MaskedOperator(self.X, self.mask[:, idx], dense=dense,
                              max_dense_bytes=max_dense_bytes)

    # ------------------------------------------------------------------ products
    def _blocks(self) -> Any:
        xp = self.xp
        b = self.block_rows
        for s in range(0, self.n, b):
            e = min(s + b, self.n)
            yield s, e, xp.astype(self._mask[s:e], self.dtype)

    def forward(self, V: Any) -> Any:
        """``sum_i D_i X v_i`` for ``V`` (P, d): shape (n,)."""
        xp = self.xp
        self.n_forward += 1
        if self._dense is not None:
            return xp.sum(self.X * (self._dense @ V), axis=1)
        parts = [xp.sum(self.X[s:e] * (Db @ V), axis=1) for s, e, Db in self._blocks()]
        return xp.concat(parts) if parts else xp.zeros((0,), dtype=self.dtype)

    def adjoint(self, r: Any) -> Any:
        """``[X^T D_i r]_i`` for ``r`` (n,): shape (P, d)."""
        xp = self.xp
        self.n_adjoint += 1
        if self._dense is not None:
            return self._dense.T @ (r[:, None] * self.X)
        out = None
        for s, e, Db in self._blocks():
            part = Db.T @ (r[s:e, None] * self.X[s:e])
            out = part if out is None else out + part
        return out if out is not None else xp.zeros((self.P, self.d), dtype=self.dtype)

    def norm_sq_upper(self) -> float:
        """An upper bound on ``||M||_2^2``: ``sum_i ||D_i X||_2^2 <= P ||X||_2^2`` is loose, so
        use ``||X||_2^2 * max_k sum_i D_ik`` (each row of ``M`` is ``x_k`` repeated on the
        groups where it is active, so ``M M^T = (X X^T) * (D D^T)`` and Schur's bound applies)."""
        if self._norm_est is None:
            xp = self.xp
            s = _spectral_norm(self.X)
            if self._dense is not None:
                counts = xp.sum(self._dense, axis=1)
            else:
                counts = xp.sum(xp.astype(self._mask, xp.int32), axis=1)
            rowcount = float(xp.max(counts)) if self.P else 0.0
            self._norm_est = s * s * max(rowcount, 1.0)
        return self._norm_est


def default_max_dense_bytes(X: Any) -> int:
    """Default cap on the dense mask copy: ``max(2 GiB, available RAM / 4)`` for arrays in
    host memory, 2 GiB for accelerator tensors (whose memory this does not see)."""
    device = getattr(X, "device", None)
    if device is not None and getattr(device, "type", "cpu") != "cpu":
        return DEFAULT_MAX_DENSE_BYTES
    try:
        avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return DEFAULT_MAX_DENSE_BYTES
    return max(DEFAULT_MAX_DENSE_BYTES, int(avail) // 4)


def _itemsize(X: Any) -> int:
    size = getattr(X, "itemsize", None)
    if size is None:  # torch
        size = X.element_size()
    return int(size)


def _index(xp: Any, like: Any, cols: Any) -> Any:
    import numpy as np

    if isinstance(like, np.ndarray):
        return np.asarray(cols)
    return xp.asarray(np.asarray(cols), device=like.device)


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
