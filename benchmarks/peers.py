"""Runners for peer methods on the same problem as convexnn, for the benchmarks.

Every runner returns a dict ``{"objective", "time", "weights", "extra"}`` where ``objective``
is ``F`` of SPEC §0 (or its convex form) **computed by us** from the weights the peer returns,
never the peer's own number, and ``time`` is wall-clock seconds of the peer's call (including its
data conversion).

pyscnn (the library of [MSP22]), version 0.0.10 -- what was checked
------------------------------------------------------------------------
Install: ``pip install pyscnn==0.0.10 "torchvision<0.29"`` (extra ``bench``); with torch 2.13.0
already present pip keeps it (it adds torchvision 0.28.0, linalg-backends (module ``lab``),
opt_einsum, tqdm).

API used: ``scnn.optimize.optimize_model(model, solver, metrics, X, y, regularizer=...,
return_convex=True, unitize_data=False, dtype="float64")`` with

* ``model = scnn.models.ConvexGatedReLU(G, c=1, bias=False)`` and ``solver =
  scnn.solvers.RFISTA(model, max_iters, tol)`` for the gated ReLU group lasso, or
  ``scnn.models.ConvexReLU(G, c=1, bias=False)`` with ``scnn.solvers.AL(model,
  max_primal_iters, max_dual_iters, tol, constraint_tol, delta=1000)`` for the cone-constrained
  ReLU program;
* ``regularizer = scnn.regularizers.NeuronGL1(beta)``: ``beta * sum_i ||u_i||_2``;
* ``G``: gate vectors, shape (d, P). We pass X with its ones column already appended, so
  pyscnn's own ``bias`` stays False (its bias would append another ones column);
* returned (``return_convex=True``): ``model.parameters[0]`` of shape (1, p, d) is ``U``
  (gated) or ``V``, and ``parameters[1]`` is ``W`` (ReLU); ``model.G`` holds the gates that
  were actually used.

Objective convention (read from the source and verified numerically, see
``check_objective_convention`` below): pyscnn minimizes

    ||sum_i D_i X u_i - y||^2 / (2 n c) + lam * sum_i ||u_i||_2,   D_i = diag(1[X g_i > 0]),

(``ConvexMLP._objective = squared_error / (2 * n * c)``, ``group_l1_penalty = lam * sum
sqrt(sum w^2)``). For scalar output (c = 1) this is exactly the convex form of SPEC §0/§2 with
``lam = beta``: no rescaling is needed. On a tiny problem (n=30, d=3 with ones column, 20
gates, beta=1e-2) the gated objective reported by pyscnn (``metrics.objective[-1]``) equals
ours at the returned weights to all printed digits (0.017473749636208395 both); for the ReLU
program (AL) ``metrics.model_loss[-1]`` equals our convex objective exactly while
``metrics.objective`` is the *augmented Lagrangian* (it includes the penalty terms; it was 6 %
higher there). Differences and gotchas:

* **Squared loss only.** pyscnn 0.0.10's convex models (``ConvexMLP``/``AL_MLP``) implement
  the squared error only (logistic exists only for its linear models), so
  ``run_pyscnn(loss="logistic")`` raises ``NotImplementedError``.
* **Strict gates**: ``D_i = 1[X g_i > 0]`` (SPEC §1 uses ``>= 0``; they differ only on ties,
  which random gates and continuous data avoid). We evaluate with pyscnn's ``> 0``.
* **Gates are filtered**: duplicate and all-zero patterns are dropped
  (``compute_activation_patterns``), so ``p`` may be smaller than the number of gates given;
  ``model.G`` is the filtered set matching the returned weights.
* **Its AL solution is slightly infeasible** (cone constraints ``(2D_i - I) X v_i >= 0`` hold
  only to ``constraint_tol``, measured as a *sum of squares*). So for ReLU we report both the
  convex objective and ``F`` of the network recovered by SPEC §2 (hidden ``v_i/sqrt||v_i||``,
  output ``+-sqrt||v_i||``; the same map as pyscnn's ``relu_solution_mapping``), whose
  predictions are ``(X v_i)_+`` rather than ``D_i X v_i``; plus the largest violation.
* ``tol`` is compared with the *squared* norm of the minimum-norm subgradient (RFISTA) or of
  the Lagrangian gradient (AL).
* ``optimize_model`` reseeds the *global* numpy and torch RNGs (``lab.set_seeds``) and sets the
  global ``lab`` backend/dtype; ``run_pyscnn`` saves and restores both RNG states.
* ``unitize_data=True`` (its default) rescales columns of X before solving, which changes the
  regularizer's geometry (the weights are mapped back afterwards, but the problem solved is
  different); we always pass ``unitize_data=False``.
* Data go through ``X.tolist()`` inside pyscnn, which is counted in ``time`` (the solver-only
  time from pyscnn's metrics is in ``extra["solver_time"]``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from convexnn.losses import get_loss
from convexnn.network import TwoLayerReLUNetwork, recover_network

__all__ = [
    "run_pyscnn",
    "run_torch_grid",
    "run_sklearn_mlp",
    "time_to_target",
    "check_objective_convention",
]


# --------------------------------------------------------------------------------------------
# pyscnn
# --------------------------------------------------------------------------------------------


def _gated_predictions(X: np.ndarray, G: np.ndarray, U: np.ndarray) -> np.ndarray:
    """``sum_i D_i X u_i`` with pyscnn's strict gates ``D_i = 1[X g_i > 0]``; U is (p, d)."""
    D = (X @ G > 0).astype(np.float64)
    return np.einsum("np,np->n", D, X @ U.T)


def run_pyscnn(
    X: Any,
    y: Any,
    gates: Any,
    beta: float,
    *,
    model: str = "gated",
    loss: str = "squared",
    tol: float = 1e-6,
    max_iter: int = 10000,
    max_dual_iter: int = 10000,
    constraint_tol: float = 1e-6,
    fit_intercept: bool = False,
    metric_freq: int = 25,
    seed: int = 778,
) -> dict[str, Any]:
    """Solve the convex gated-ReLU or ReLU program with pyscnn ([MSP22]) on given gates.

    Parameters
    ----------
    X : array_like of shape (n, d)
        Data; when the problem has a hidden bias, X already holds the ones column (last).
    y : array_like of shape (n,)
    gates : array_like of shape (d, P)
        Gate vectors ``g_i`` (``D_i = 1[X g_i > 0]``).
    beta : float
        Weight decay of SPEC §0 (= pyscnn's ``NeuronGL1`` strength, see module docstring).
    model : {"gated", "relu"}
        ``ConvexGatedReLU`` solved by ``RFISTA``, or ``ConvexReLU`` solved by ``AL``.
    loss : {"squared"}
        pyscnn 0.0.10 has no logistic loss for these models (raises NotImplementedError).
    tol : float
        pyscnn's tolerance (on a *squared* gradient norm).
    max_iter : int
        ``RFISTA.max_iters`` or ``AL.max_primal_iters`` (which also caps the total inner
        iterations).
    max_dual_iter, constraint_tol : int, float
        ``AL`` only.
    fit_intercept : bool
        Only changes the *representation* of the returned network: if True the last column of
        X is the ones column and the network gets it as ``hidden_bias`` (to be applied to
        ``X[:, :-1]``). ``F`` is the same either way (the bias is regularized like a weight).
    metric_freq : int
        How often pyscnn records its metrics.
    seed : int
        Seed pyscnn sets (it reseeds the global RNGs; they are restored afterwards).

    Returns
    -------
    dict
        ``objective``: for "gated", ``F_gated = L(sum_i D_i X u_i) + beta sum ||u_i||``; for
        "relu", ``F`` of the recovered network (a true network objective, feasible or not).
        ``time``: wall seconds of ``optimize_model``. ``weights``: dict with ``U`` (gated) or
        ``V``, ``W`` (ReLU), the gates ``G`` actually used (d, p), and ``network`` (ReLU).
        ``extra``: ``convex_objective`` (ours), ``pyscnn_objective`` (its last recorded
        ``metrics.objective``; the augmented Lagrangian for AL), ``pyscnn_model_loss`` (its
        regularized loss), ``max_violation`` (largest ``(-(2D_i - I) X v_i)_+`` entry, ReLU),
        ``network_objective`` (ReLU), ``n_patterns``, ``n_active``, ``solver_time``,
        ``n_records``.
    """
    import torch
    from scnn.metrics import Metrics
    from scnn.models import ConvexGatedReLU, ConvexReLU
    from scnn.optimize import optimize_model
    from scnn.regularizers import NeuronGL1
    from scnn.solvers import AL, RFISTA

    if loss != "squared":
        raise NotImplementedError(
            "pyscnn 0.0.10 implements only the squared loss for its convex (gated) ReLU models"
        )
    if model not in ("gated", "relu"):
        raise ValueError(f"model must be 'gated' or 'relu', got {model!r}")
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).ravel()
    G = np.asarray(gates, dtype=np.float64)
    if G.ndim != 2 or G.shape[0] != X.shape[1]:
        raise ValueError(f"gates must have shape ({X.shape[1]}, P), got {G.shape}")
    if fit_intercept and not np.all(X[:, -1] == 1.0):
        raise ValueError("fit_intercept=True needs the ones column as the last column of X")

    if model == "gated":
        cm = ConvexGatedReLU(G.copy(), c=1, bias=False)
        solver = RFISTA(cm, max_iters=max_iter, tol=tol)
    else:
        cm = ConvexReLU(G.copy(), c=1, bias=False)
        solver = AL(
            cm,
            max_primal_iters=max_iter,
            max_dual_iters=max_dual_iter,
            tol=tol,
            constraint_tol=constraint_tol,
        )
    metrics = Metrics(metric_freq=metric_freq, model_loss=True, constraint_gaps=model == "relu")

    np_state = np.random.get_state()  # noqa: NPY002 - pyscnn reseeds the legacy global RNG
    torch_state = torch.get_rng_state()
    try:
        t0 = time.perf_counter()
        cm, metrics = optimize_model(
            cm,
            solver,
            metrics,
            X,
            y,
            regularizer=NeuronGL1(beta),
            return_convex=True,
            unitize_data=False,
            verbose=False,
            device="cpu",
            dtype="float64",
            seed=seed,
        )
        elapsed = time.perf_counter() - t0
    finally:
        np.random.set_state(np_state)  # noqa: NPY002
        torch.set_rng_state(torch_state)

    L = get_loss("squared")
    Gu = np.asarray(cm.G, dtype=np.float64)
    extra: dict[str, Any] = {
        "n_patterns": int(Gu.shape[1]),
        "n_gates_given": int(G.shape[1]),
        "pyscnn_objective": float(np.ravel(metrics.objective)[-1]),
        "pyscnn_model_loss": float(np.ravel(metrics.model_loss)[-1]),
        "solver_time": float(np.ravel(metrics.time)[-1]),
        "n_records": len(np.ravel(metrics.objective)),
    }
    if model == "gated":
        U = np.asarray(cm.parameters[0][0], dtype=np.float64)
        norms = np.linalg.norm(U, axis=1)
        F = L.value(_gated_predictions(X, Gu, U), y) + beta * float(norms.sum())
        extra.update(convex_objective=F, n_active=int(np.count_nonzero(norms)))
        return {"objective": F, "time": elapsed, "weights": {"U": U, "G": Gu}, "extra": extra}

    V = np.asarray(cm.parameters[0][0], dtype=np.float64)
    W = np.asarray(cm.parameters[1][0], dtype=np.float64)
    nv, nw = np.linalg.norm(V, axis=1), np.linalg.norm(W, axis=1)
    convex_F = L.value(_gated_predictions(X, Gu, V - W), y) + beta * float(nv.sum() + nw.sum())
    S = 2.0 * (X @ Gu > 0) - 1.0  # (n, p): rows of (2 D_i - I)
    viol = max(
        float(np.max(np.maximum(0.0, -S * (X @ V.T)), initial=0.0)),
        float(np.max(np.maximum(0.0, -S * (X @ W.T)), initial=0.0)),
    )
    net, info = recover_network(V, W, fit_intercept=fit_intercept, prune_tol=0.0)
    Xn = X[:, :-1] if fit_intercept else X
    F_net = net.objective(Xn, y, beta, "squared") if net.n_neurons else L.value(0 * y, y)
    extra.update(
        convex_objective=convex_F,
        network_objective=F_net,
        max_violation=viol,
        pyscnn_constraint_gap=float(np.ravel(metrics.constraint_gaps)[-1]),
        n_active=int(np.count_nonzero(nv) + np.count_nonzero(nw)),
    )
    return {
        "objective": F_net,
        "time": elapsed,
        "weights": {"V": V, "W": W, "G": Gu, "network": net},
        "extra": extra,
    }


def check_objective_convention(seed: int = 0) -> dict[str, float]:
    """Tiny problem: pyscnn's own objective numbers against ours at its returned weights.

    Returns the gated pair (``metrics.objective`` vs ``F_gated``) and the ReLU pair
    (``metrics.model_loss`` vs our convex objective); each pair should agree to rounding.
    """
    rng = np.random.default_rng(seed)
    n, d = 30, 3
    X = np.column_stack([rng.standard_normal((n, d - 1)), np.ones(n)])
    y = np.sin(X[:, 0]) + 0.1 * rng.standard_normal(n)
    G = rng.standard_normal((d, 20))
    g = run_pyscnn(X, y, G, 1e-2, model="gated", tol=1e-10, max_iter=20000, metric_freq=1)
    r = run_pyscnn(X, y, G, 1e-2, model="relu", tol=1e-8, metric_freq=1)
    return {
        "gated_pyscnn": g["extra"]["pyscnn_objective"],
        "gated_ours": g["objective"],
        "relu_pyscnn_model_loss": r["extra"]["pyscnn_model_loss"],
        "relu_ours_convex": r["extra"]["convex_objective"],
        "relu_pyscnn_augmented_lagrangian": r["extra"]["pyscnn_objective"],
        "relu_network_F": r["objective"],
    }


# --------------------------------------------------------------------------------------------
# PyTorch (nonconvex) grid
# --------------------------------------------------------------------------------------------


def time_to_target(
    history: Sequence[tuple[float, float]], target: float, rel_tol: float = 0.01
) -> float | None:
    """First elapsed time at which ``F <= target + rel_tol * |target|`` (None if never).

    Resolution is that of the history (``record_every`` steps).
    """
    thr = target + rel_tol * abs(target)
    for t, F in history:
        if F <= thr:
            return float(t)
    return None


def run_torch_grid(
    X: Any,
    y: Any,
    beta: float,
    *,
    width: int,
    loss: str = "squared",
    target: float | None = None,
    rel_tol: float = 0.01,
    lrs: Sequence[float] = (1e-3, 3e-3, 1e-2, 3e-2),
    seeds: Sequence[int] = (0, 1, 2),
    steps: int = 2000,
    optimizer: str = "adam",
    **kwargs: Any,
) -> dict[str, Any]:
    """Best-of-grid nonconvex training (:func:`convexnn.nonconvex.best_of_grid`).

    Parameters
    ----------
    X, y, beta, width, loss, lrs, seeds, steps, optimizer, **kwargs
        As in :func:`convexnn.nonconvex.best_of_grid` (e.g. ``fit_intercept``, ``dtype``,
        ``record_every``).
    target : float, optional
        Reference objective (e.g. the convex optimum). Time to come within ``rel_tol`` of it
        is read from the histories.

    Returns
    -------
    dict
        ``objective`` (best run's ``F``, float64), ``time`` (whole grid, sequential),
        ``weights`` (best network), ``extra`` with ``best_params``, ``runs`` (lr, seed, F,
        time, time-to-target per run), ``time_to_target`` (fastest single run to reach the
        target: the time had one known the right lr and seed), ``grid_time_to_target``
        (sequential grid time until the first run reaches it: earlier runs' full times plus
        the reaching run's time), ``reached`` (number of runs that reached it).
    """
    from convexnn.nonconvex import best_of_grid

    best, runs, total = best_of_grid(
        X, y, beta, width=width, loss=loss, lrs=lrs, seeds=seeds, steps=steps,
        optimizer=optimizer, **kwargs,
    )
    per_run = []
    ttt_best: float | None = None
    grid_ttt: float | None = None
    elapsed = 0.0
    for r in runs:
        t = None if target is None else time_to_target(r.history, target, rel_tol)
        per_run.append(
            {
                "lr": r.params["lr"],
                "seed": r.params["seed"],
                "objective": r.objective,
                "time": r.time,
                "time_to_target": t,
                "diverged": r.diverged,
            }
        )
        if t is not None:
            ttt_best = t if ttt_best is None else min(ttt_best, t)
            if grid_ttt is None:
                grid_ttt = elapsed + t
        elapsed += r.time
    return {
        "objective": best.objective,
        "time": total,
        "weights": best.network,
        "extra": {
            "best_params": best.params,
            "runs": per_run,
            "target": target,
            "time_to_target": ttt_best,
            "grid_time_to_target": grid_ttt,
            "reached": sum(p["time_to_target"] is not None for p in per_run),
            "best_history": best.history,
        },
    }


# --------------------------------------------------------------------------------------------
# scikit-learn MLP
# --------------------------------------------------------------------------------------------


def run_sklearn_mlp(
    X_train: Any,
    y_train: Any,
    X_test: Any,
    y_test: Any,
    *,
    task: str,
    hidden: int = 100,
    alpha: float | None = None,
    beta: float | None = None,
    solver: str = "adam",
    max_iter: int = 2000,
    tol: float = 1e-6,
    seed: int = 0,
) -> dict[str, Any]:
    """scikit-learn's ``MLPRegressor`` / ``MLPClassifier`` (one ReLU hidden layer).

    sklearn's model differs from SPEC §0: it has an unregularized output bias, does *not*
    regularize the hidden bias, and its penalty is ``(alpha / 2n) (||W||^2 + ||a||^2)``, so
    ``alpha = beta * n_train`` is the matching strength on the weights (the default when
    ``beta`` is given and ``alpha`` is not). Pass features *without* a ones column (sklearn
    adds its own biases).

    Parameters
    ----------
    task : {"regression", "classification"}
    hidden : int
        Hidden width.
    alpha : float, optional
        sklearn's L2 strength. Default ``beta * n_train`` if ``beta`` is given, else 1e-4.
    beta : float, optional
        If given, ``objective`` is ``F`` of SPEC §0 (with the model's output offset
        unregularized, hidden bias regularized) of the fitted network on the training set;
        binary classification uses the logistic loss on labels mapped to {-1, +1}
        (``classes_[1]`` -> +1). Otherwise ``objective`` is None.

    Returns
    -------
    dict
        ``objective``, ``time`` (fit), ``weights`` (TwoLayerReLUNetwork with output offset),
        ``extra``: ``metric`` name and ``value`` (test MSE for regression, test accuracy for
        classification), ``test_r2`` (regression), ``sklearn_loss`` (its final training
        loss), ``n_iter``, ``alpha``.
    """
    from sklearn.metrics import accuracy_score, mean_squared_error, r2_score
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    Xtr = np.asarray(X_train, dtype=np.float64)
    Xte = np.asarray(X_test, dtype=np.float64)
    ytr = np.asarray(y_train).ravel()
    yte = np.asarray(y_test).ravel()
    n = Xtr.shape[0]
    if alpha is None:
        alpha = beta * n if beta is not None else 1e-4
    common = dict(
        hidden_layer_sizes=(hidden,),
        activation="relu",
        solver=solver,
        alpha=alpha,
        max_iter=max_iter,
        tol=tol,
        random_state=seed,
    )
    if task == "regression":
        est = MLPRegressor(**common)
    elif task == "classification":
        est = MLPClassifier(**common)
    else:
        raise ValueError(f"task must be 'regression' or 'classification', got {task!r}")

    import warnings

    from sklearn.exceptions import ConvergenceWarning

    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(Xtr, ytr)
    elapsed = time.perf_counter() - t0

    extra: dict[str, Any] = {
        "sklearn_loss": float(est.loss_),
        "n_iter": int(est.n_iter_),
        "alpha": float(alpha),
    }
    pred = est.predict(Xte)
    if task == "regression":
        extra.update(metric="test_mse", value=float(mean_squared_error(yte, pred)),
                     test_r2=float(r2_score(yte, pred)))
    else:
        extra.update(metric="test_accuracy", value=float(accuracy_score(yte, pred)))

    W1, W2 = est.coefs_
    b1, b2 = est.intercepts_
    net: TwoLayerReLUNetwork | None = None
    objective: float | None = None
    if W2.shape[1] == 1:
        net = TwoLayerReLUNetwork(W1.T, b1, W2[:, 0], float(b2[0]))
        if beta is not None:
            if task == "regression":
                objective = net.objective(Xtr, ytr.astype(np.float64), beta, "squared")
            else:
                ypm = np.where(ytr == est.classes_[1], 1.0, -1.0)
                objective = net.objective(Xtr, ypm, beta, "logistic")
    return {"objective": objective, "time": elapsed, "weights": net, "extra": extra}


# --------------------------------------------------------------------------------------------
# smoke check
# --------------------------------------------------------------------------------------------


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}" if math.isfinite(v) else str(v)
    return str(v)


def main() -> None:
    print("== objective convention check (n=30, d=3, 20 gates, beta=1e-2) ==")
    for k, v in check_objective_convention().items():
        print(f"  {k:36s} {v:.15g}")

    rng = np.random.default_rng(0)
    n, d0, beta, P = 200, 4, 1e-3, 50
    Z = rng.standard_normal((n, d0))
    X = np.column_stack([Z, np.ones(n)])  # d = 5 with the ones column
    w_true = rng.standard_normal(d0)

    def truth(A: np.ndarray) -> np.ndarray:
        return np.maximum(A @ w_true, 0) - np.maximum(A[:, 1] - 0.5, 0)

    y = truth(Z) + 0.1 * rng.standard_normal(n)
    G = rng.standard_normal((X.shape[1], P))
    print(f"\n== smoke problem: n={n}, d={X.shape[1]} (ones column), {P} gates, beta={beta} ==")

    g = run_pyscnn(X, y, G, beta, model="gated")
    print(f"pyscnn gated/RFISTA : F_gated={_fmt(g['objective'])} time={g['time']:.3f}s "
          + " ".join(f"{k}={_fmt(v)}" for k, v in g["extra"].items()))
    r = run_pyscnn(X, y, G, beta, model="relu", fit_intercept=True)
    print(f"pyscnn relu/AL      : F_net={_fmt(r['objective'])} time={r['time']:.3f}s "
          + " ".join(f"{k}={_fmt(v)}" for k, v in r["extra"].items()))
    try:
        run_pyscnn(X, np.sign(y - np.median(y)), G, beta, loss="logistic")
    except NotImplementedError as e:
        print(f"pyscnn logistic     : NotImplementedError: {e}")

    target = r["extra"]["convex_objective"]
    t = run_torch_grid(Z, y, beta, width=50, loss="squared", target=target, steps=2000,
                       fit_intercept=True)
    ex = t["extra"]
    print(f"torch grid (12 runs): F={_fmt(t['objective'])} time={t['time']:.3f}s "
          f"best={ex['best_params']['lr']},{ex['best_params']['seed']} target={_fmt(target)} "
          f"time_to_target={_fmt(ex['time_to_target'])} "
          f"grid_time_to_target={_fmt(ex['grid_time_to_target'])} reached={ex['reached']}/12")

    Zte = rng.standard_normal((n, d0))
    yte = truth(Zte) + 0.1 * rng.standard_normal(n)
    s = run_sklearn_mlp(Z, y, Zte, yte, task="regression", hidden=50, beta=beta)
    print(f"sklearn MLPRegressor: F={_fmt(s['objective'])} time={s['time']:.3f}s "
          + " ".join(f"{k}={_fmt(v)}" for k, v in s["extra"].items()))
    yc = np.where(y > np.median(y), 1, -1)
    c = run_sklearn_mlp(Z, yc, Z, yc, task="classification", hidden=50, beta=beta)
    print(f"sklearn MLPClassif. : F={_fmt(c['objective'])} time={c['time']:.3f}s "
          + " ".join(f"{k}={_fmt(v)}" for k, v in c["extra"].items()))


if __name__ == "__main__":
    main()
