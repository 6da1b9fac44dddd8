"""Activation patterns (hyperplane arrangements) of a data matrix.

A pattern is the diagonal 0/1 matrix ``D(u) = diag(1[X u >= 0])`` for a gate vector ``u``.
The convex reformulation of a two-layer ReLU network [PE20]_ has one group of variables per
distinct pattern, so the pattern set *is* the model's search space.

Three constructions are provided (SPEC §1):

* :func:`sample_arrangements` -- Gaussian gate vectors ``u ~ N(0, I)``, de-duplicated, with the
  all-zero pattern removed ([PE20]_, [MSP22]_).
* :func:`enumerate_arrangements` -- every pattern of a low-rank ``X``: every cell of the central
  arrangement ``{x_k^T u = 0}`` has an extreme ray on ``r - 1`` of the hyperplanes (``r`` the
  rank), so for each subset ``S`` of ``r - 1`` rows we take the null-space ray ``±u_S`` and every
  sign choice on ``S``. For data in general position the count equals
  ``2 sum_{k<r} C(n-1, k)`` minus the all-zero pattern.
* :func:`arrangements_1d` -- 1-D data with a bias column: the ``2n`` thresholds.

All constructions return an :class:`Arrangements` object that stores the masks bit-packed
(``n * P / 8`` bytes) and one gate vector per pattern that generates it exactly
(``1[X g_i >= 0] == D_i``), which the gated ReLU model uses for its predictions.

References
----------
.. [PE20] Pilanci & Ergen, Neural Networks are Convex Regularizers, ICML 2020.
.. [MSP22] Mishkin, Sahiner & Pilanci, Fast Convex Optimization for Two-Layer ReLU Networks,
   ICML 2022.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.utils import check_random_state

__all__ = [
    "Arrangements",
    "sample_arrangements",
    "enumerate_arrangements",
    "arrangements_1d",
    "arrangements_from_gates",
    "max_arrangements",
    "numerical_rank",
]

#: Default memory cap (bytes) for the unpacked boolean masks of one pattern set.
DEFAULT_MAX_BYTES = 2 * 1024**3


@dataclass(eq=False)
class Arrangements:
    """A set of distinct activation patterns of a data matrix.

    Parameters
    ----------
    gates : ndarray of shape (d, P)
        Gate vectors; column ``i`` generates pattern ``i``: ``1[X g_i >= 0] = D_i``.
    packed_masks : ndarray of uint8, shape (ceil(n / 8), P)
        The 0/1 masks packed along the sample axis with :func:`numpy.packbits`.
    n_samples : int
        Number of rows ``n`` of ``X``.
    method : str
        How the set was built (``"sampled"``, ``"exact"``, ``"1d"``, ``"gates"``, ...).
    exact : bool
        True when the set provably holds *every* non-zero pattern of ``X`` (exact enumeration).
    """

    gates: np.ndarray
    packed_masks: np.ndarray
    n_samples: int
    method: str = "sampled"
    exact: bool = False
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_masks(
        cls, masks: np.ndarray, gates: np.ndarray, method: str, exact: bool = False
    ) -> Arrangements:
        masks = np.asarray(masks, dtype=bool)
        return cls(
            gates=np.ascontiguousarray(gates, dtype=np.float64),
            packed_masks=np.packbits(masks, axis=0),
            n_samples=masks.shape[0],
            method=method,
            exact=exact,
        )

    @property
    def n_patterns(self) -> int:
        """Number of patterns ``P``."""
        return int(self.gates.shape[1])

    @property
    def n_features(self) -> int:
        return int(self.gates.shape[0])

    @property
    def nbytes(self) -> int:
        """Memory of the stored (bit-packed) masks and gates, in bytes."""
        return int(self.packed_masks.nbytes + self.gates.nbytes)

    def masks(self) -> np.ndarray:
        """The boolean masks, shape (n, P) (unpacked once and cached)."""
        if "masks" not in self._cache:
            m = np.unpackbits(self.packed_masks, axis=0, count=self.n_samples)
            self._cache["masks"] = m.astype(bool)
        return self._cache["masks"]

    def subset(self, index: np.ndarray) -> Arrangements:
        """The patterns selected by ``index`` (a boolean mask or integer indices)."""
        return Arrangements(
            gates=self.gates[:, index],
            packed_masks=self.packed_masks[:, index],
            n_samples=self.n_samples,
            method=self.method,
            exact=False,
        )

    def union(self, other: Arrangements) -> Arrangements:
        """Union of two pattern sets of the same data, duplicates removed (``self`` first)."""
        if other.n_samples != self.n_samples:
            raise ValueError("cannot merge patterns of data with different numbers of rows")
        gates = np.concatenate([self.gates, other.gates], axis=1)
        packed = np.concatenate([self.packed_masks, other.packed_masks], axis=1)
        keep = _unique_columns(packed)
        return Arrangements(
            gates=gates[:, keep],
            packed_masks=packed[:, keep],
            n_samples=self.n_samples,
            method=f"{self.method}+{other.method}",
            exact=self.exact or other.exact,
        )

    def __len__(self) -> int:
        return self.n_patterns

    def __repr__(self) -> str:
        return (
            f"Arrangements(n_patterns={self.n_patterns}, n_samples={self.n_samples}, "
            f"method={self.method!r}, exact={self.exact}, nbytes={self.nbytes})"
        )


def _unique_rows(rows: np.ndarray) -> np.ndarray:
    """Indices of the first occurrence of each distinct row of a C-ordered uint8 array, in
    original order."""
    if rows.shape[0] == 0:
        return np.zeros(0, dtype=int)
    void = rows.view(np.dtype((np.void, rows.shape[1])))[:, 0]
    _, first = np.unique(void, return_index=True)
    return np.sort(first)


def _unique_columns(packed: np.ndarray) -> np.ndarray:
    """Indices of the first occurrence of each distinct column, in original order."""
    return _unique_rows(np.ascontiguousarray(packed.T))


def _patterns_from_gates(
    X: np.ndarray, gates: np.ndarray, method: str, exact: bool = False
) -> Arrangements:
    """Distinct, non-zero patterns ``1[X g >= 0]`` of the columns of ``gates``."""
    masks = X @ gates >= 0
    # Packed pattern by pattern, along the contiguous axis of the transposed copy: packbits
    # along axis 0 of the (n, P) masks was 6x slower (130 vs 20 us at n 215, P 250; a tenth
    # of a small gated fit's overhead went to building its patterns).
    rows = np.packbits(np.ascontiguousarray(masks.T), axis=1)
    keep = _unique_rows(rows)
    keep = keep[rows[keep].any(axis=1)]
    arr = Arrangements(
        gates=np.ascontiguousarray(gates[:, keep], dtype=np.float64),
        packed_masks=np.ascontiguousarray(rows[keep].T),
        n_samples=X.shape[0],
        method=method,
        exact=exact,
    )
    arr._cache["masks"] = masks[:, keep]  # what masks() would unpack
    return arr


def _check_memory(n: int, P: int, max_bytes: int | None) -> None:
    # The solvers unpack masks into an (n, P) array of the working dtype (8 bytes in fp64)
    # and keep a few (n, P) work arrays; refuse early rather than die in the middle of a fit.
    need = 8 * n * P
    if max_bytes is not None and need > max_bytes:
        raise MemoryError(
            f"{P} patterns on {n} samples need about {need / 1e9:.1f} GB of working memory "
            f"(limit {max_bytes / 1e9:.1f} GB). Use fewer patterns (e.g. arrangements=1000), "
            "or raise max_bytes if this machine has the memory."
        )


def sample_arrangements(
    X: np.ndarray,
    n_samples: int,
    random_state: int | np.random.RandomState | None = None,
    *,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
) -> Arrangements:
    """Sample activation patterns from Gaussian gate vectors.

    Draws ``U ~ N(0, I)`` of shape (d, n_samples), keeps the distinct columns of
    ``1[X U >= 0]`` and drops the all-zero pattern ([PE20]_ §3, [MSP22]_).

    Parameters
    ----------
    X : ndarray of shape (n, d)
    n_samples : int
        Number of gate vectors drawn; the number of distinct patterns kept is at most this.
    random_state : int, RandomState or None
    max_bytes : int or None
        Refuse pattern sets whose working memory would exceed this.

    Returns
    -------
    Arrangements
    """
    X = np.asarray(X, dtype=np.float64)
    if not (isinstance(n_samples, (int, np.integer)) and n_samples >= 1):
        raise ValueError(f"the number of sampled patterns must be a positive integer, got {n_samples!r}")
    _check_memory(X.shape[0], int(n_samples), max_bytes)
    rng = check_random_state(random_state)
    gates = rng.standard_normal((X.shape[1], int(n_samples)))
    return _patterns_from_gates(X, gates, "sampled")


def arrangements_from_gates(X: np.ndarray, gates: np.ndarray, method: str = "gates") -> Arrangements:
    """Distinct non-zero patterns generated by given gate vectors (columns of ``gates``).

    Use it to seed a fit with the patterns of another network: its hidden weights (with the
    bias appended as the last entry) are gate vectors.
    """
    X = np.asarray(X, dtype=np.float64)
    gates = np.asarray(gates, dtype=np.float64)
    if gates.ndim != 2 or gates.shape[0] != X.shape[1]:
        raise ValueError(
            f"gate vectors must have shape (d, P) = ({X.shape[1]}, P), got {gates.shape}"
        )
    if not np.all(np.isfinite(gates)):
        raise ValueError("gate vectors contain NaN or infinity")
    return _patterns_from_gates(X, gates, method)


def numerical_rank(X: np.ndarray, rtol: float | None = None) -> int:
    """Rank of ``X`` with the usual SVD tolerance ``max(n, d) * eps * s_max``."""
    s = np.linalg.svd(X, compute_uv=False)
    if s.size == 0 or s[0] == 0:
        return 0
    if rtol is None:
        rtol = max(X.shape) * np.finfo(np.float64).eps
    return int(np.sum(s > rtol * s[0]))


def max_arrangements(n: int, r: int) -> int:
    """Upper bound ``2 sum_{k<r} C(n-1, k)`` on the number of patterns of rank-``r`` data
    with ``n`` rows ([PE20]_, attained in general position), all-zero pattern included."""
    return 2 * sum(math.comb(n - 1, k) for k in range(r))


def enumerate_arrangements(
    X: np.ndarray,
    *,
    max_patterns: int = 200_000,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
) -> Arrangements:
    """Enumerate every activation pattern of a low-rank data matrix exactly.

    With ``r = rank(X)`` and ``Z = X V_r`` the data in its row space, every cell of the central
    arrangement ``{z_k^T u = 0}`` has an extreme ray lying on ``r - 1`` of the hyperplanes.
    For each subset ``S`` of ``r - 1`` rows, ``u_S`` spans the null space of ``Z_S``; every
    pattern of the cells around ``±u_S`` is reached by ``±u_S + eps * delta`` where
    ``Z_S delta = s`` picks a sign ``s in {-1, +1}^{r-1}`` on ``S`` and ``eps`` is small enough
    not to flip any row outside ``S`` (SPEC §1). Each pattern is returned with a gate vector that
    generates it. Degenerate data (not in general position) is handled too: the patterns are
    those of the generated gate vectors, which include every cell's.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    max_patterns : int
        Refuse when the bound of SPEC §1 exceeds this (use sampling instead).

    Returns
    -------
    Arrangements
        With ``exact=True``.
    """
    X = np.asarray(X, dtype=np.float64)
    n, d = X.shape
    r = numerical_rank(X)
    if r == 0:
        raise ValueError("X is zero: it has no activation patterns")
    bound = max_arrangements(n, r)
    if bound > max_patterns:
        raise ValueError(
            f"exact enumeration of data of rank {r} with {n} rows may give up to {bound} "
            f"patterns (limit max_patterns={max_patterns}); sample them instead "
            "(arrangements=<int>) or reduce the rank"
        )
    _check_memory(n, bound, max_bytes)
    _, _, vt = np.linalg.svd(X, full_matrices=False)
    V = vt[:r].T  # (d, r): orthonormal basis of the row space
    Z = X @ V  # (n, r)

    if r == 1:
        gates_r = np.array([[1.0, -1.0]])
    else:
        gates_r = _enumerate_rays(Z, r)
    gates = V @ gates_r
    return _patterns_from_gates(X, gates, "exact", exact=True)


def _enumerate_rays(Z: np.ndarray, r: int, chunk: int = 4096) -> np.ndarray:
    """Gate vectors (r, *) around every extreme ray of the arrangement of the rows of ``Z``."""
    n = Z.shape[0]
    signs = np.array(list(itertools.product([-1.0, 1.0], repeat=r - 1)))  # (2^(r-1), r-1)
    out = []
    subsets = itertools.combinations(range(n), r - 1)
    while True:
        block = np.array(list(itertools.islice(subsets, chunk)), dtype=int)
        if block.size == 0:
            break
        ZS = Z[block]  # (B, r-1, r)
        # Null-space ray of each Z_S (the last right singular vector) and the minimum-norm
        # solutions delta of Z_S delta = s for every sign choice s.
        _, sv, vt = np.linalg.svd(ZS, full_matrices=True)
        rank_ok = sv[:, -1] > 1e-10 * np.maximum(sv[:, 0], 1e-300)
        ZS, vt = ZS[rank_ok], vt[rank_ok]
        if ZS.shape[0] == 0:
            continue
        u = vt[:, -1, :]  # (B, r)
        pinv = np.linalg.pinv(ZS)  # (B, r, r-1)
        deltas = np.einsum("brk,sk->bsr", pinv, signs)  # (B, 2^(r-1), r)
        # Step size: half the smallest relative margin of the rows outside S.
        zu = np.abs(Z @ u.T)  # (n, B)
        for j in range(r - 1):
            zu[block[rank_ok][:, j], np.arange(zu.shape[1])] = np.inf
        margin = zu.min(axis=0)  # (B,)
        zd = np.abs(np.einsum("nr,bsr->bsn", Z, deltas)).max(axis=2)  # (B, S)
        finite = np.isfinite(margin) & (margin > 0)
        margin = np.where(finite, margin, 1.0)
        eps = 0.5 * margin[:, None] / np.maximum(zd, 1e-300)
        for sgn in (1.0, -1.0):
            g = sgn * u[:, None, :] + eps[:, :, None] * deltas  # (B, S, r)
            out.append(g.reshape(-1, r))
    if not out:
        return np.zeros((r, 0))
    return np.concatenate(out, axis=0).T


def arrangements_1d(x: np.ndarray) -> Arrangements:
    """The ``2n`` threshold patterns of 1-D data with a bias column (SPEC §1).

    For ``X = [x, 1]`` the patterns are ``1[x >= x_k]`` (gate ``(1, -x_k)``) and
    ``1[x <= x_k]`` (gate ``(-1, x_k)``); duplicates (tied values) are removed. The returned
    gates act on ``[x, 1]``.
    """
    x = np.asarray(x, dtype=np.float64).ravel()
    X = np.column_stack([x, np.ones_like(x)])
    xs = np.unique(x)
    gates = np.concatenate(
        [np.vstack([np.ones_like(xs), -xs]), np.vstack([-np.ones_like(xs), xs])], axis=1
    )
    arr = _patterns_from_gates(X, gates, "1d", exact=True)
    return arr
