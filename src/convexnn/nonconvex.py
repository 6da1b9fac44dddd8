"""Training the *nonconvex* two-layer ReLU network (the baseline the convex programs are compared
against, and the pattern source of the default column generation).

The loss minimized is exactly the weight-decay objective of SPEC §0,

    F = (1/n) sum_k l(f(x_k), y_k) + (beta/2) (||W||_F^2 + ||b||^2 + ||a||^2),

with ``f(x) = sum_j (x . w_j + b_j)_+ a_j`` and **no** output offset. The weight decay is part
of the loss (not the optimizer's ``weight_decay``), so the hidden bias is regularized like the
weights, as the paper's "ones column" is [PE20]. Training is full batch, so the value printed
at each step is ``F`` at the current iterate.

:func:`train_nonconvex` and :func:`best_of_grid` use PyTorch, an optional dependency (``pip install
convexnn[torch]``, imported inside the functions). :func:`train_adam_numpy` is the same full-batch
Adam in plain NumPy (float64), needed by the estimators' default pattern discovery, which must
run on the core install.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._backend import blas_threads
from .network import TwoLayerReLUNetwork

__all__ = ["NonconvexResult", "train_nonconvex", "train_adam_numpy", "best_of_grid"]


@dataclass
class NonconvexResult:
    """Outcome of one nonconvex training run.

    Attributes
    ----------
    network : TwoLayerReLUNetwork
        The **best iterate** seen during training, ranked by ``F`` (in the training dtype);
        with a full-batch method this is the final iterate unless the method oscillated or
        diverged. It has no output offset.
    objective : float
        ``F`` of ``network`` by SPEC §0, recomputed in float64 with
        :meth:`TwoLayerReLUNetwork.objective`.
    history : list of (float, float)
        ``(elapsed seconds, F)`` at step 0, every ``record_every`` steps, and at the end.
        ``F`` is the value computed by the training forward pass (training dtype). Elapsed
        time counts the setup (tensor conversion, initialization) and training.
    time : float
        Total wall-clock seconds of the run.
    final_objective : float
        ``F`` (float64) of the last iterate (equal to ``objective`` unless it was worse).
    steps : int
        Number of optimizer steps taken (fewer than requested after ``time_limit`` or a
        non-finite ``F``).
    diverged : bool
        True if ``F`` became non-finite (training stopped there).
    params : dict
        The settings of the run (``lr``, ``seed``, ``optimizer``, ``width``, ``loss``, ...).
    snapshots : list of ndarray
        Gate vectors (shape (d[+1], m), bias last) of the iterates at the steps requested by
        ``snapshot_every`` of :func:`train_adam_numpy` (empty otherwise): the activation
        patterns visited along the trajectory.
    """

    network: TwoLayerReLUNetwork
    objective: float
    history: list[tuple[float, float]]
    time: float
    final_objective: float = math.nan
    steps: int = 0
    diverged: bool = False
    params: dict[str, Any] = field(default_factory=dict)
    snapshots: list[np.ndarray] = field(default_factory=list)


def _check_labels(y: np.ndarray, loss: str) -> None:
    if loss == "logistic" and not np.all(np.isin(y, (-1.0, 1.0))):
        raise ValueError("loss='logistic' needs labels in {-1, +1}")
    if loss not in ("squared", "logistic"):
        raise ValueError(f"loss must be 'squared' or 'logistic', got {loss!r}")


def _check_init(init: TwoLayerReLUNetwork, width: int | None, fit_intercept: bool,
                d: int) -> int:
    """Validate a starting network against the run's settings; returns its width."""
    if init.output_bias is not None:
        raise ValueError("init must not have an output offset (F of SPEC §0 has none)")
    if (init.hidden_bias is not None) != fit_intercept:
        raise ValueError(
            f"init has hidden_bias={'yes' if init.hidden_bias is not None else 'no'} "
            f"but fit_intercept={fit_intercept}"
        )
    if width is not None and width != init.n_neurons:
        raise ValueError(f"width={width} but init has {init.n_neurons} neurons")
    if init.n_features != d:
        raise ValueError(f"init has {init.n_features} features, X has {d}")
    return int(init.n_neurons)


def _default_threads(n: int, d: int, width: int) -> int:
    # Full-batch steps on small problems are dominated by per-op overhead, which extra
    # threads only add to; large matrix products do benefit from several threads.
    if n * d * width <= 2**20:
        return 1
    return max(1, min(8, os.cpu_count() or 1))


def train_nonconvex(
    X: Any,
    y: Any,
    beta: float,
    *,
    width: int | None,
    loss: str = "squared",
    optimizer: str = "adam",
    lr: float = 1e-2,
    steps: int = 2000,
    seed: int = 0,
    fit_intercept: bool = True,
    init: TwoLayerReLUNetwork | None = None,
    dtype: str = "float64",
    record_every: int = 50,
    time_limit: float | None = None,
    num_threads: int | None = None,
) -> NonconvexResult:
    """Train ``f(x) = sum_j (x . w_j + b_j)_+ a_j`` on ``F`` of SPEC §0 by full-batch Adam/SGD.

    Parameters
    ----------
    X : array_like of shape (n, d)
        Features (without a ones column when ``fit_intercept`` is True: the hidden bias is
        the ones column).
    y : array_like of shape (n,)
        Targets; labels in {-1, +1} for ``loss="logistic"``.
    beta : float
        Weight decay ``beta`` of SPEC §0 (``F`` contains ``(beta/2)`` times the squared norms).
    width : int or None
        Number of hidden neurons ``m``. May be None when ``init`` is given.
    loss : {"squared", "logistic"}
        ``l(f, y) = (f - y)^2 / 2`` or ``softplus(-y f) = log(1 + exp(-y f))``.
    optimizer : {"adam", "sgd"}
        ``torch.optim.Adam`` or ``torch.optim.SGD`` with momentum 0.9; neither uses the
        optimizer's ``weight_decay`` (the penalty is in the loss).
    lr : float
        Step size.
    steps : int
        Maximum number of optimizer steps.
    seed : int
        Seed for ``torch.manual_seed`` (initialization).
    fit_intercept : bool
        Whether the hidden layer has a (regularized) bias. Must match ``init`` when given.
    init : TwoLayerReLUNetwork, optional
        Starting point (no output offset allowed). Default: PyTorch's default ``nn.Linear``
        initialization (Kaiming-uniform weights, uniform biases) with no output bias.
    dtype : {"float64", "float32"}
        Training precision. The reported ``objective`` is always recomputed in float64.
    record_every : int
        Append ``(elapsed, F)`` to the history every this many steps.
    time_limit : float, optional
        Stop once this many seconds have elapsed.
    num_threads : int, optional
        ``torch.set_num_threads`` for the run (restored afterwards). Default: 1 thread for
        small problems (``n d m <= 2^20``), otherwise ``min(8, cpu_count)``.

    Returns
    -------
    NonconvexResult
        With ``network`` the best iterate by ``F`` (see :class:`NonconvexResult`).

    Notes
    -----
    A full-batch step costs two products with ``X`` (forward and backward), ``O(n d m)``.
    """
    import torch
    from torch import nn

    t0 = time.perf_counter()
    X_np = np.asarray(X, dtype=np.float64)
    y_np = np.asarray(y, dtype=np.float64).ravel()
    if X_np.ndim != 2 or X_np.shape[0] != y_np.shape[0]:
        raise ValueError(f"X must be (n, d) with n = len(y); got {X_np.shape} and {y_np.shape}")
    _check_labels(y_np, loss)
    if optimizer not in ("adam", "sgd"):
        raise ValueError(f"optimizer must be 'adam' or 'sgd', got {optimizer!r}")
    if dtype not in ("float64", "float32"):
        raise ValueError(f"dtype must be 'float64' or 'float32', got {dtype!r}")
    if beta < 0:
        raise ValueError(f"beta must be >= 0, got {beta}")
    if init is not None:
        width = _check_init(init, width, fit_intercept, X_np.shape[1])
    if width is None or width < 1:
        raise ValueError(f"width must be a positive integer, got {width}")
    n, d = X_np.shape
    tdt = torch.float64 if dtype == "float64" else torch.float32

    old_threads = torch.get_num_threads()
    torch.set_num_threads(num_threads or _default_threads(n, d, width))
    try:
        torch.manual_seed(seed)
        l1 = nn.Linear(d, width, bias=fit_intercept, dtype=tdt)
        l2 = nn.Linear(width, 1, bias=False, dtype=tdt)
        if init is not None:
            with torch.no_grad():
                l1.weight.copy_(torch.as_tensor(init.hidden_weights))
                if fit_intercept:
                    l1.bias.copy_(torch.as_tensor(init.hidden_bias))
                l2.weight.copy_(torch.as_tensor(init.output_weights[None, :]))
        params = [p for p in (l1.weight, l1.bias, l2.weight) if p is not None]
        Xt = torch.as_tensor(X_np, dtype=tdt)
        yt = torch.as_tensor(y_np, dtype=tdt)
        half_beta = 0.5 * float(beta)

        def objective() -> Any:
            f = torch.relu(l1(Xt)) @ l2.weight[0]
            if loss == "squared":
                data = 0.5 * torch.mean((f - yt) ** 2)
            else:
                data = torch.mean(nn.functional.softplus(-yt * f))
            return data + half_beta * sum(torch.sum(p * p) for p in params)

        if optimizer == "adam":
            try:  # the fused kernel is ~20 % faster per step on small CPU problems
                opt = torch.optim.Adam(params, lr=lr, fused=True)
            except (RuntimeError, TypeError):
                opt = torch.optim.Adam(params, lr=lr)
        else:
            opt = torch.optim.SGD(params, lr=lr, momentum=0.9)  # type: ignore[assignment]

        def snapshot() -> list[Any]:
            return [p.detach().clone() for p in params]

        best_val, best_params = math.inf, snapshot()
        history: list[tuple[float, float]] = []
        diverged = False
        step = 0
        for step in range(steps + 1):  # the pass at step == steps only evaluates
            opt.zero_grad(set_to_none=True)
            F = objective()
            val = float(F.detach())
            if not math.isfinite(val):
                diverged = True
                history.append((time.perf_counter() - t0, val))
                break
            if val < best_val:
                best_val, best_params = val, snapshot()
            elapsed = time.perf_counter() - t0
            last = step == steps or (time_limit is not None and elapsed >= time_limit)
            if step % record_every == 0 or last:
                history.append((elapsed, val))
            if last:
                break
            F.backward()
            opt.step()
        final_params = [p.detach().clone() for p in params]
    finally:
        torch.set_num_threads(old_threads)

    def to_net(ps: list[Any]) -> TwoLayerReLUNetwork:
        arr = [p.double().numpy() for p in ps]
        if fit_intercept:
            return TwoLayerReLUNetwork(arr[0], arr[1], arr[2].ravel(), None)
        return TwoLayerReLUNetwork(arr[0], None, arr[1].ravel(), None)

    net = to_net(best_params)
    obj = net.objective(X_np, y_np, beta, loss)
    final_obj = math.nan if diverged else to_net(final_params).objective(X_np, y_np, beta, loss)
    total = time.perf_counter() - t0
    return NonconvexResult(
        network=net,
        objective=float(obj),
        history=history,
        time=total,
        final_objective=float(final_obj),
        steps=step,
        diverged=diverged,
        params={
            "lr": lr,
            "seed": seed,
            "optimizer": optimizer,
            "width": width,
            "loss": loss,
            "beta": beta,
            "dtype": dtype,
            "fit_intercept": fit_intercept,
            "requested_steps": steps,
        },
    )


def train_adam_numpy(
    X: Any,
    y: Any,
    beta: float,
    *,
    width: int | None = None,
    loss: str = "squared",
    lr: float = 1e-2,
    steps: int = 2000,
    seed: int | np.random.Generator | None = 0,
    fit_intercept: bool = True,
    init: TwoLayerReLUNetwork | None = None,
    record_every: int = 50,
    time_limit: float | None = None,
    snapshot_every: int | None = None,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    num_threads: int | None = None,
) -> NonconvexResult:
    """Full-batch Adam on ``F`` of SPEC §0 in NumPy (float64); no PyTorch needed.

    The same method as :func:`train_nonconvex` with ``optimizer="adam"``: the loss is
    ``F = L(f) + (beta/2)(||W||_F^2 + ||b||^2 + ||a||^2)`` (weight decay inside the loss, hidden
    bias regularized, no output offset), and the update is ``torch.optim.Adam``'s (Kingma & Ba
    with bias correction, ``eps`` added to ``sqrt(v_hat)``). From the same ``init`` and ``lr``
    both follow the same trajectory up to rounding (tested). The gradient is written out by
    hand (the ReLU's derivative at 0 is taken as 0, as in PyTorch): with ``Z = X W^T + b``,
    ``H = Z_+``, ``f = H a`` and ``g = grad L(f)``::

        dF/da = H^T g + beta a,    dF/d[W, b] = (1[Z > 0] * g a^T)^T [X, 1] + beta [W, b].

    One step costs three ``n x m x d`` products and a few ``n x m`` elementwise passes (about
    1-3 ms at ``n = 1000``, ``m = 200``, ``d = 15`` on one core).

    Parameters
    ----------
    X : array_like of shape (n, d)
        Features (no ones column when ``fit_intercept``: the hidden bias plays its role).
    y : array_like of shape (n,)
        Targets; labels in {-1, +1} for ``loss="logistic"``.
    beta : float
        Weight decay of SPEC §0.
    width : int or None
        Number of hidden neurons (may be None when ``init`` is given).
    loss : {"squared", "logistic"}
    lr : float
        Adam step size.
    steps : int
        Number of Adam steps (``F`` is evaluated ``steps + 1`` times).
    seed : int, Generator or None
        Seeds the default initialization (PyTorch's ``nn.Linear`` distribution: weights and
        biases uniform on ``+-1/sqrt(d)``, output weights uniform on ``+-1/sqrt(m)``; the draws
        differ from PyTorch's).
    fit_intercept : bool
        Whether the hidden layer has a (regularized) bias; must match ``init``.
    init : TwoLayerReLUNetwork, optional
        Starting point (no output offset).
    record_every : int
        ``(elapsed, F)`` is appended to ``history`` every this many steps (and at the end).
    time_limit : float, optional
        Stop once this many seconds have elapsed.
    snapshot_every : int, optional
        Store the gate vectors of the iterate every this many steps (and at the end) in
        ``snapshots``.
    betas, eps : Adam's moment decay rates and denominator offset (PyTorch's defaults).
    num_threads : int, optional
        BLAS threads during the run (:mod:`threadpoolctl`, restored afterwards). Default: 1
        for ``n d m <= 2^22`` (small products are dominated by threading overhead, and on a
        loaded 2-core machine two OpenBLAS threads made a width-200 run 20x slower), else
        the library's default.

    Returns
    -------
    NonconvexResult
        ``network`` is the best iterate by ``F``; ``params["optimizer"] == "adam-numpy"``.
    """
    t0 = time.perf_counter()
    X_np = np.asarray(X, dtype=np.float64)
    y_np = np.asarray(y, dtype=np.float64).ravel()
    if X_np.ndim != 2 or X_np.shape[0] != y_np.shape[0]:
        raise ValueError(f"X must be (n, d) with n = len(y); got {X_np.shape} and {y_np.shape}")
    _check_labels(y_np, loss)
    if beta < 0:
        raise ValueError(f"beta must be >= 0, got {beta}")
    n, d = X_np.shape
    if init is not None:
        width = _check_init(init, width, fit_intercept, d)
    if width is None or width < 1:
        raise ValueError(f"width must be a positive integer, got {width}")
    Xd = np.column_stack([X_np, np.ones(n)]) if fit_intercept else X_np
    if init is not None:
        Wb = init.gates().T.copy()  # (m, d[+1]), bias last
        a = init.output_weights.copy()
    else:
        rng = np.random.default_rng(seed)
        bound = 1.0 / math.sqrt(d) if d > 0 else 1.0
        Wb = rng.uniform(-bound, bound, size=(width, Xd.shape[1]))
        a = rng.uniform(-1.0 / math.sqrt(width), 1.0 / math.sqrt(width), size=width)
    half_beta = 0.5 * float(beta)
    b1, b2 = betas
    mW, vW = np.zeros_like(Wb), np.zeros_like(Wb)
    ma, va = np.zeros_like(a), np.zeros_like(a)
    logistic = loss == "logistic"

    def forward(Wb: np.ndarray, a: np.ndarray) -> tuple[float, np.ndarray, np.ndarray,
                                                        np.ndarray]:
        Z = Xd @ Wb.T
        H = np.maximum(Z, 0.0)
        f = H @ a
        if logistic:
            z = -y_np * f
            data = float(np.mean(np.logaddexp(0.0, z)))
            g = -y_np * np.exp(-np.logaddexp(0.0, -z)) / n  # -y sigma(-y f) / n
        else:
            r = f - y_np
            data = 0.5 * float(r @ r) / n
            g = r / n
        F = data + half_beta * (float(np.sum(Wb * Wb)) + float(a @ a))
        return F, Z, H, g

    best_val, best = math.inf, (Wb.copy(), a.copy())
    history: list[tuple[float, float]] = []
    snapshots: list[np.ndarray] = []
    diverged = False
    step = 0
    if num_threads is None and n * Xd.shape[1] * width <= 2**22:
        num_threads = 1
    with blas_threads(num_threads):
        for step in range(steps + 1):
            F, Z, H, g = forward(Wb, a)
            if not math.isfinite(F):
                diverged = True
                history.append((time.perf_counter() - t0, F))
                break
            if F < best_val:
                best_val = F
                best = (Wb.copy(), a.copy())
            elapsed = time.perf_counter() - t0
            last = step == steps or (time_limit is not None and elapsed >= time_limit)
            if step % record_every == 0 or last:
                history.append((elapsed, F))
            if snapshot_every and (step % snapshot_every == 0 or last):
                snapshots.append(Wb.T.copy())
            if last:
                break
            pos = Z > 0
            ga = H.T @ g + beta * a
            gW = ((pos * g[:, None]).T @ Xd) * a[:, None] + beta * Wb
            t = step + 1
            c1, c2 = 1.0 - b1**t, 1.0 - b2**t
            step_size = lr / c1
            c2s = math.sqrt(c2)
            for p, gr, m_, v_ in ((Wb, gW, mW, vW), (a, ga, ma, va)):
                m_ *= b1
                m_ += (1.0 - b1) * gr
                v_ *= b2
                v_ += (1.0 - b2) * gr * gr
                p -= step_size * m_ / (np.sqrt(v_) / c2s + eps)

    def to_net(Wb: np.ndarray, a: np.ndarray) -> TwoLayerReLUNetwork:
        if fit_intercept:
            return TwoLayerReLUNetwork(Wb[:, :-1], Wb[:, -1], a, None)
        return TwoLayerReLUNetwork(Wb, None, a, None)

    net = to_net(*best)
    obj = net.objective(X_np, y_np, beta, loss) if math.isfinite(best_val) else math.inf
    if diverged:
        final_obj = math.nan
    else:
        final_obj = to_net(Wb, a).objective(X_np, y_np, beta, loss)
    return NonconvexResult(
        network=net,
        objective=float(obj),
        history=history,
        time=time.perf_counter() - t0,
        final_objective=float(final_obj),
        steps=step,
        diverged=diverged,
        params={
            "lr": lr,
            "seed": seed if isinstance(seed, (int, np.integer)) or seed is None else "generator",
            "optimizer": "adam-numpy",
            "width": width,
            "loss": loss,
            "beta": beta,
            "dtype": "float64",
            "fit_intercept": fit_intercept,
            "requested_steps": steps,
        },
        snapshots=snapshots,
    )


def best_of_grid(
    X: Any,
    y: Any,
    beta: float,
    *,
    width: int,
    loss: str = "squared",
    lrs: Sequence[float] = (1e-3, 3e-3, 1e-2, 3e-2),
    seeds: Sequence[int] = (0, 1, 2),
    steps: int = 2000,
    optimizer: str = "adam",
    **kwargs: Any,
) -> tuple[NonconvexResult, list[NonconvexResult], float]:
    """Run :func:`train_nonconvex` for every (learning rate, seed) pair and keep the best.

    This is the fair nonconvex baseline: a practitioner tunes the step size and restarts.

    Parameters
    ----------
    X, y, beta, width, loss, steps, optimizer
        As in :func:`train_nonconvex`.
    lrs : sequence of float
        Learning rates to try.
    seeds : sequence of int
        Initialization seeds to try for each learning rate.
    **kwargs
        Passed on to :func:`train_nonconvex` (``fit_intercept``, ``dtype``, ``record_every``,
        ``time_limit`` (per run), ``num_threads``, ``init``).

    Returns
    -------
    best : NonconvexResult
        The run with the smallest ``objective`` (non-finite counts as ``+inf``).
    runs : list of NonconvexResult
        All runs, in the order ``for lr in lrs: for seed in seeds``.
    total_time : float
        Wall-clock seconds for the whole grid (run sequentially).
    """
    t0 = time.perf_counter()
    runs = [
        train_nonconvex(
            X,
            y,
            beta,
            width=width,
            loss=loss,
            optimizer=optimizer,
            lr=lr,
            steps=steps,
            seed=seed,
            **kwargs,
        )
        for lr in lrs
        for seed in seeds
    ]
    if not runs:
        raise ValueError("lrs and seeds must be non-empty")
    total = time.perf_counter() - t0

    def key(r: NonconvexResult) -> float:
        return r.objective if math.isfinite(r.objective) else math.inf

    return min(runs, key=key), runs, total
