"""Figures for fitted convexnn models (matplotlib, non-interactive Agg backend).

matplotlib is imported only when a function is called (``pip install convexnn[plot]``). Every
function writes a PNG atomically (temporary file + :func:`os.replace`) and returns its path.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "plot_convergence",
    "plot_first_layer",
    "plot_fit_1d",
    "plot_path",
    "plot_predictions",
]


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError as exc:
        raise ImportError(
            "plotting needs matplotlib: pip install 'convexnn[plot]' (or pip install matplotlib)"
        ) from exc
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: str | os.PathLike[str]) -> Path:
    from .io import atomic_write

    plt = _pyplot()
    try:
        fig.tight_layout()
        out = atomic_write(path, lambda fh: fig.savefig(fh, format="png", dpi=110))
    finally:
        plt.close(fig)
    return out


def plot_convergence(history: list[dict[str, float]], path: str | os.PathLike[str]) -> Path:
    """Objective ``F``, dual lower bound and relative gap against time (log scales).

    ``history`` is an estimator's ``history_`` (records with ``time``, ``objective``,
    ``lower_bound``, ``criterion``).
    """
    if not history:
        raise ValueError("the history is empty: nothing to plot")
    plt = _pyplot()
    t = np.array([float(r.get("time", i)) for i, r in enumerate(history)])
    obj = np.array([float(r.get("objective", np.nan)) for r in history])
    lb = np.array([float(r.get("lower_bound", np.nan)) for r in history])
    gap = np.array([float(r.get("criterion", np.nan)) for r in history])
    t = np.maximum(t, 1e-6)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.plot(t, obj, "o-", label="objective F")
    ok = np.isfinite(lb) & (lb > 0)
    if ok.any():
        ax1.plot(t[ok], lb[ok], "s--", label="dual lower bound")
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    ax1.set_xscale("log")
    # F and its bound differ by a tiny relative amount at the end: a linear y axis with plain
    # tick labels reads better than a log axis over a fraction of a decade.
    ax1.yaxis.set_major_formatter(ScalarFormatter(useOffset=False))
    ax1.set_xlabel("time (s)")
    ax1.set_ylabel("F")
    ax1.legend()
    ax1.set_title("Objective and lower bound")
    good = np.isfinite(gap) & (gap > 0)
    ax2.plot(t[good], gap[good], "o-", color="C3")
    ax2.set_xscale("log")
    if good.any():
        ax2.set_yscale("log")
    for ax in (ax1, ax2):
        ax.xaxis.set_minor_formatter(NullFormatter())  # no crowded minor labels on short ranges
    ax2.set_xlabel("time (s)")
    ax2.set_ylabel("relative duality gap")
    ax2.set_title("Relative gap")
    fig.suptitle("Convergence of the convex fit")
    return _save(fig, path)


def plot_path(betas: Any, errors: Any, neurons: Any, path: str | os.PathLike[str]) -> Path:
    """Validation error and number of neurons along a regularization path over ``beta``."""
    plt = _pyplot()
    b = np.asarray(betas, dtype=float)
    e = np.asarray(errors, dtype=float)
    m = np.asarray(neurons, dtype=float)
    if not (b.shape == e.shape == m.shape) or b.ndim != 1 or b.size == 0:
        raise ValueError("betas, errors and neurons must be 1-D of the same non-zero length")
    fig, ax1 = plt.subplots(figsize=(7, 4))
    ax1.plot(b, e, "o-", color="C0", label="validation error")
    ax1.set_xscale("log")
    ax1.set_xlabel("beta (weight decay)")
    ax1.set_ylabel("validation error", color="C0")
    if np.all(np.isfinite(e)):
        best = int(np.argmin(e))
        ax1.axvline(b[best], color="0.6", ls=":", label=f"best beta = {b[best]:g}")
    ax2 = ax1.twinx()
    ax2.plot(b, m, "s--", color="C1", label="neurons")
    ax2.set_ylabel("neurons", color="C1")
    ax1.legend(loc="upper left")
    ax1.set_title("Regularization path: validation error and neurons vs beta")
    return _save(fig, path)


def plot_predictions(y_true: Any, y_pred: Any, path: str | os.PathLike[str]) -> Path:
    """Predicted against true values, with the diagonal."""
    plt = _pyplot()
    yt = np.asarray(y_true, dtype=float).ravel()
    yp = np.asarray(y_pred, dtype=float).ravel()
    if yt.shape != yp.shape:
        raise ValueError(f"y_true has {yt.size} values but y_pred has {yp.size}")
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.scatter(yt, yp, s=12, alpha=0.7)
    if yt.size:
        lo = float(min(yt.min(), yp.min()))
        hi = float(max(yt.max(), yp.max()))
        ax.plot([lo, hi], [lo, hi], "k--", lw=1, label="y = x")
        ax.legend()
    ax.set_xlabel("true")
    ax.set_ylabel("predicted")
    ax.set_title("Predicted vs true values")
    return _save(fig, path)


def plot_fit_1d(x: Any, y: Any, network: Any, path: str | os.PathLike[str]) -> Path:
    """1-D data, the fitted network (a linear spline) and its kinks ``x = -b_j / w_j``."""
    from .network import TwoLayerReLUNetwork

    plt = _pyplot()
    net = TwoLayerReLUNetwork.from_weights(network)
    if net.n_features != 1:
        raise ValueError(f"plot_fit_1d needs a network with one input, got {net.n_features}")
    xv = np.asarray(x, dtype=float).ravel()
    yv = np.asarray(y, dtype=float).ravel()
    lo, hi = float(xv.min()), float(xv.max())
    pad = 0.05 * (hi - lo or 1.0)
    grid = np.linspace(lo - pad, hi + pad, 800)
    w = net.hidden_weights[:, 0]
    b = net.hidden_bias if net.hidden_bias is not None else np.zeros_like(w)
    nz = w != 0
    kinks = -b[nz] / w[nz]
    kinks = kinks[(kinks >= grid[0]) & (kinks <= grid[-1])]
    grid = np.sort(np.concatenate([grid, kinks]))
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.scatter(xv, yv, s=14, color="0.3", label="data")
    ax.plot(grid, net.predict(grid[:, None]), color="C0", lw=2,
            label=f"network ({net.n_neurons} neurons)")
    if kinks.size:
        ax.plot(kinks, net.predict(kinks[:, None]), "v", color="C3", ms=7,
                label="kinks x = -b/w")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.legend()
    ax.set_title("1-D fit: a linear spline with kinks at -b_j/w_j")
    return _save(fig, path)


def plot_first_layer(network: Any, image_shape: tuple[int, int],
                     path: str | os.PathLike[str], *, max_neurons: int = 64) -> Path:
    """Hidden weights of the first ``max_neurons`` neurons (largest ``|a_j|`` first) as images."""
    from .network import TwoLayerReLUNetwork

    plt = _pyplot()
    net = TwoLayerReLUNetwork.from_weights(network)
    h, w = (int(s) for s in image_shape)
    if h * w != net.n_features:
        raise ValueError(f"image_shape {image_shape} has {h * w} pixels but the network has "
                         f"{net.n_features} inputs")
    if net.n_neurons == 0:
        raise ValueError("the network has no neurons: nothing to plot")
    order = np.argsort(-np.abs(net.output_weights))[:max_neurons]
    k = order.size
    cols = int(np.ceil(np.sqrt(k)))
    rows = int(np.ceil(k / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(1.6 * cols, 1.6 * rows + 0.4), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, j in zip(axes.ravel(), order, strict=False):
        img = net.hidden_weights[j].reshape(h, w)
        v = float(np.abs(img).max()) or 1.0
        ax.imshow(img, cmap="RdBu_r", vmin=-v, vmax=v)
        ax.set_title(f"a={net.output_weights[j]:+.2g}", fontsize=7)
    fig.suptitle(f"First-layer weights ({k} of {net.n_neurons} neurons, largest |a| first)")
    return _save(fig, path)
