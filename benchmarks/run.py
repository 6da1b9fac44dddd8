"""Benchmark convexnn against its peers on the same problems (benchopt-style).

One command runs every peer on the same data, the same objective and the same sampled
activation patterns, and writes a side-by-side table::

    .venv/bin/python benchmarks/run.py --quick
    .venv/bin/python benchmarks/run.py                       # full: 26 binary uci121 + 6 regression
    .venv/bin/python benchmarks/run.py --sets uci:monks-1,uci-reg:yacht --skip-cvxpy-relu

Problem (identical for every peer): features standardized (loader), a ones column appended
(the hidden bias, regularized like the weights, SPEC §0), targets ``y`` = ±1 labels for the
binary classification sets (``classes_[1]`` -> +1) and z-scored targets for regression, the
squared loss and ``beta = 1e-2``:

    F = (1/n) sum_k (f(x_k) - y_k)^2 / 2 + (beta/2)(||W||^2 + ||b||^2 + ||a||^2)

and its convex forms over ``P`` sampled gates (SPEC §2): the gated ReLU group lasso and the
cone-constrained ReLU program. Every objective is re-evaluated by us from the returned weights.

Sections (see ``benchmarks/README.md``): (1) our solvers vs CVXPY + Clarabel, (2) vs pyscnn
(RFISTA / AL of [MSP22]), (3) vs Adam on the nonconvex network (grid of 4 learning rates x 3
seeds), (4) vs scikit-learn's MLP (test metric).
"""

from __future__ import annotations

import argparse
import csv
import math
import multiprocessing as mp
import os
import platform
import statistics
import sys
import time
import traceback
import warnings
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

BETA = 1e-2
DEFAULT_DATA_DIR = "/work/shared/datasets"

QUICK_SETS = ["uci:haberman-survival", "uci:vertebral-column-2clases", "uci-reg:yacht"]
FULL_CLS = [
    "fertility",
    "pittsburg-bridges-T-OR-D",
    "acute-inflammation",
    "echocardiogram",
    "hepatitis",
    "planning",
    "parkinsons",
    "breast-cancer-wisc-prog",
    "conn-bench-sonar-mines-rocks",
    "spect",
    "statlog-heart",
    "breast-cancer",
    "heart-hungarian",
    "haberman-survival",
    "vertebral-column-2clases",
    "ionosphere",
    "congressional-voting",
    "cylinder-bands",
    "monks-1",
    "monks-2",
    "monks-3",
    "breast-cancer-wisc-diag",
    "ilpd-indian-liver",
    "credit-approval",
    "pima",
    "statlog-german-credit",
]
FULL_REG = ["yacht", "bostonHousing", "energy", "concrete", "wine-quality-red", "kin8nm"]
FULL_SETS = [f"uci:{s}" for s in FULL_CLS] + [f"uci-reg:{s}" for s in FULL_REG]
#: ``--sets uci31``: the full list without kin8nm (n = 6,144: hours for the peers' ReLU rows).
UCI31_SETS = [s for s in FULL_SETS if s != "uci-reg:kin8nm"]

TARGETS = (1e-4, 1e-6)  # relative suboptimality levels for the time-to-target columns


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def _fmt(v: Any, spec: str = ".4g") -> str:
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    v = float(v)
    if not math.isfinite(v):
        return str(v)
    return format(v, spec)


def _time_to(history: list[tuple[float, float]], ref: float, level: float) -> float | None:
    """First time at which ``(F - ref) / |ref| <= level`` in a ``(time, F)`` history."""
    thr = ref + level * max(abs(ref), 1e-300)
    for t, F in history:
        if F <= thr:
            return float(t)
    return None


def _load(name: str, data_dir: str) -> dict[str, Any]:
    from convexnn.datasets import load

    ds = load(name, data_dir=data_dir)
    X, Xte = ds.X_train, ds.X_test
    if ds.task == "classification":
        if ds.n_classes != 2:
            raise ValueError(f"{name}: {ds.n_classes} classes; the benchmark uses binary sets")
        y = np.where(ds.y_train == 1, 1.0, -1.0)
        yte = np.where(ds.y_test == 1, 1.0, -1.0)
        mu, sd = 0.0, 1.0
    else:
        mu, sd = float(ds.y_train.mean()), float(ds.y_train.std()) or 1.0
        y = (ds.y_train - mu) / sd
        yte = (ds.y_test - mu) / sd
    return {
        "name": name,
        "task": ds.task,
        "X": X,
        "y": y,
        "Xte": Xte,
        "yte": yte,
        "y_mean": mu,
        "y_std": sd,
        "y_raw_train": ds.y_train,
        "y_raw_test": ds.y_test,
    }


def _test_metric(task: str, pred: np.ndarray, yte: np.ndarray, sd: float) -> float:
    if task == "classification":
        return float(np.mean(np.where(pred >= 0, 1.0, -1.0) == yte))
    return float(np.sqrt(np.mean((pred - yte) ** 2)) * sd)  # RMSE in the original units


# --------------------------------------------------------------------------------------------
# runners (each returns a row dict; failures become a row with status "error: ...")
# --------------------------------------------------------------------------------------------


def run_ours(
    D: dict[str, Any], gates: np.ndarray, model: str, solver: str, time_limit: float
) -> dict[str, Any]:
    from convexnn import ConvexReLURegressor

    est = ConvexReLURegressor(
        beta=BETA,
        model=model,
        loss="squared",
        arrangements=gates,
        solver=solver,
        tol=1e-6,
        random_state=0,
        time_limit=time_limit,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        est.fit(D["X"], D["y"])
        elapsed = time.perf_counter() - t0
    hist = [(float(h["time"]), float(h["objective"])) for h in est.history_]
    viol = est.solver_result_.info.get("constraint_violation") if model == "relu" else None
    return {
        "F": float(est.objective_),
        "time": elapsed,
        "history": hist,
        "neurons": int(est.n_neurons_),
        "converged": bool(est.converged_),
        "lower_bound": float(est.lower_bound_),
        "violation": viol,
        "test": _test_metric(D["task"], est.predict(D["Xte"]), D["yte"], D["y_std"]),
        "note": f"iters={est.n_iter_} status={est.status_}",
    }


def run_cvxpy(
    Xd: np.ndarray, y: np.ndarray, masks: np.ndarray, model: str, time_limit: float
) -> dict[str, Any]:
    from convexnn.solvers.cvxpy_solver import solve_cvxpy

    t0 = time.perf_counter()
    r = solve_cvxpy(
        Xd, y, masks, BETA, model=model, loss="squared", tol=1e-8, time_limit=float(time_limit)
    )
    elapsed = time.perf_counter() - t0
    V = np.asarray(r.V)
    nn = int(np.count_nonzero(np.linalg.norm(V, axis=1) > 1e-6 * max(np.abs(V).max(), 1e-300)))
    if r.W is not None:
        W = np.asarray(r.W)
        nn += int(np.count_nonzero(np.linalg.norm(W, axis=1) > 1e-6 * max(np.abs(W).max(), 1e-300)))
    return {
        "F": float(r.objective),
        "time": elapsed,
        "history": [(elapsed, float(r.objective))],
        "converged": bool(r.status.converged),
        "neurons": nn,
        "violation": r.info.get("constraint_violation") if model == "relu" else None,
        "note": f"cvxpy status={r.info.get('cvxpy_status')}",
    }


def _pyscnn_worker(
    conn: Any, Xd: np.ndarray, y: np.ndarray, gates: np.ndarray, model: str, max_iter: int
) -> None:
    try:
        from peers import run_pyscnn

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = run_pyscnn(
                Xd,
                y,
                gates,
                BETA,
                model=model,
                loss="squared",
                tol=1e-6,
                max_iter=max_iter,
                max_dual_iter=max_iter,
                fit_intercept=True,
            )
        conn.send({"objective": r["objective"], "time": r["time"], "extra": r["extra"]})
    except Exception as exc:  # pragma: no cover - reported in the table
        conn.send({"error": f"{type(exc).__name__}: {exc}"})
    finally:
        conn.close()


def run_pyscnn_timed(
    Xd: np.ndarray, y: np.ndarray, gates: np.ndarray, model: str, max_iter: int, timeout: float
) -> dict[str, Any]:
    """pyscnn in a spawned process (it has no time limit of its own); killed after timeout."""
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    p = ctx.Process(target=_pyscnn_worker, args=(child, Xd, y, gates, model, max_iter))
    p.start()
    child.close()
    out = parent.recv() if parent.poll(timeout) else None
    p.join(5)
    if p.is_alive():
        p.kill()
        p.join()
    if out is None:
        return {
            "F": None,
            "time": timeout,
            "converged": False,
            "history": [],
            "note": f"killed after {timeout:.0f}s",
        }
    if "error" in out:
        return {"F": None, "time": None, "converged": False, "history": [], "note": out["error"]}
    ex = out["extra"]
    row = {
        "F": float(out["objective"]),
        "time": float(out["time"]),
        "history": [(float(out["time"]), float(out["objective"]))],
        "neurons": int(ex.get("n_active", 0)),
        "note": f"records={ex.get('n_records')} solver_time={ex.get('solver_time', 0):.3g}s",
    }
    if model == "relu":
        row["violation"] = ex.get("max_violation")
        row["note"] += f" convexF={ex['convex_objective']:.6g}"
    return row


#: Learning-rate grids of the nonconvex peers (full batch; SGD with momentum 0.9).
NONCONVEX_LRS = {"adam": (1e-3, 3e-3, 1e-2, 3e-2), "sgd": (1e-2, 3e-2, 1e-1, 3e-1)}


def run_nonconvex_grid(
    D: dict[str, Any], width: int, target: float, quick: bool, budget: float,
    optimizer: str = "adam",
) -> dict[str, Any]:
    """Best of a 4 lr x 3 seed grid (Adam, or SGD with momentum); steps grow x4 until a run is
    within 1 % of target."""
    from peers import run_torch_grid

    steps = 500 if quick else 2000
    max_steps = 2000 if quick else 32000
    spent = 0.0
    while True:
        r = run_torch_grid(
            D["X"],
            D["y"],
            BETA,
            width=width,
            loss="squared",
            target=target,
            rel_tol=0.01,
            steps=steps,
            fit_intercept=True,
            record_every=max(1, steps // 200),
            time_limit=budget / 12,
            optimizer=optimizer,
            lrs=NONCONVEX_LRS[optimizer],
        )
        spent += r["time"]
        ex = r["extra"]
        if ex["reached"] or steps >= max_steps or spent + 4 * r["time"] > budget:
            break
        steps *= 4
    net = r["weights"]
    pred = net.predict(D["Xte"])
    hist = [(float(t), float(F)) for t, F in ex["best_history"]]
    return {
        "F": float(r["objective"]),
        "time": float(r["time"]),
        "history": hist,
        "neurons": width,
        "test": _test_metric(D["task"], pred, D["yte"], D["y_std"]),
        "t_target": ex["time_to_target"],
        "grid_t_target": ex["grid_time_to_target"],
        "note": (
            f"{optimizer} steps={steps} lr={ex['best_params']['lr']} seed={ex['best_params']['seed']}"
            f" reached={ex['reached']}/12 total_search={spent:.3g}s"
        ),
    }


def run_sklearn(D: dict[str, Any], width: int) -> dict[str, Any]:
    from peers import run_sklearn_mlp

    if D["task"] == "classification":
        r = run_sklearn_mlp(
            D["X"], D["y"], D["Xte"], D["yte"], task="classification", hidden=width, beta=BETA
        )
        test = r["extra"]["value"]
    else:
        r = run_sklearn_mlp(
            D["X"], D["y"], D["Xte"], D["yte"], task="regression", hidden=width, beta=BETA
        )
        test = math.sqrt(r["extra"]["value"]) * D["y_std"]
    return {
        "F": None,
        "time": float(r["time"]),
        "history": [],
        "neurons": width,
        "test": test,
        "note": (
            f"alpha=beta*n={r['extra']['alpha']:.3g} n_iter={r['extra']['n_iter']} "
            "(own loss: log-loss/MSE, unregularized output bias)"
        ),
    }


def _safe(fn: Any, *a: Any, **k: Any) -> dict[str, Any]:
    try:
        return fn(*a, **k)
    except Exception as exc:
        traceback.print_exc()
        return {
            "F": None,
            "time": None,
            "history": [],
            "note": f"error: {type(exc).__name__}: {exc}",
        }


def _done(args: argparse.Namespace, runs: list[dict[str, Any]], spent: float) -> bool:
    """The repetition rule (the same for every method): ``args.repeats`` runs and on until they
    have taken ``args.min_time`` seconds, at most ``args.max_repeats``; no further run once the
    next would take the runs past ``args.repeat_budget`` seconds; a run that hit its time
    limit is not repeated."""
    t, note = runs[-1]["time"], str(runs[-1].get("note", ""))
    return ((len(runs) >= args.repeats and spent >= args.min_time)
            or len(runs) >= args.max_repeats or spent + t > args.repeat_budget
            or "killed" in note or "TIME_LIMIT" in note)


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median time: ``time`` is that median, ``time_first`` the first run's
    (the one a single cold fit pays: new array shapes, first-touch memory, lazy imports) and
    ``runs`` the count."""
    order = sorted(range(len(runs)), key=lambda i: runs[i]["time"])
    out = dict(runs[order[(len(runs) - 1) // 2]])
    out["time_first"] = runs[0]["time"]
    out["runs"] = len(runs)
    return out


def _interleaved(args: argparse.Namespace,
                 methods: dict[str, tuple[Any, tuple[Any, ...]]]) -> dict[str, dict[str, Any]]:
    """Run each method (``name -> (runner, args)``) repeatedly by :func:`_done`, the methods
    taking turns: a batch of runs of each (runs until the batch has taken ``args.min_time /
    args.repeats`` seconds: one run of a slow method, tens of a fast one), then the next
    round, a method leaving the rotation once its rule is met. The machines here are shared and their speed drifts by 1.2-1.4x over minutes
    (a slow spell slowed CVXPY's Python-heavy problem construction more than our BLAS-bound
    steps: medians over 31 sets of the time ratios between two runs of the whole benchmark
    1.37x and 1.18x); with all of a method's runs taken back to back, a spell that fell on one
    method's runs and not the other's moved the ratio by as much. Taking turns puts the runs
    of the methods compared into the same minutes. (The same fit took 17-28 ms from one
    process to the next; runs spread over a second steady the median of the fast methods.)
    A method whose first run errs or gives no ``F`` returns that run."""
    runs: dict[str, list[dict[str, Any]]] = {m: [] for m in methods}
    spent = dict.fromkeys(methods, 0.0)
    out: dict[str, dict[str, Any]] = {}
    active = list(methods)
    quantum = args.min_time / max(args.repeats, 1)
    while active:
        for m in list(active):
            fn, a = methods[m]
            batch = 0.0
            while batch < quantum:
                r = _safe(fn, *a)
                if r.get("time") is None or r.get("F") is None:
                    out[m] = _summary(runs[m]) if runs[m] else r
                    break
                runs[m].append(r)
                spent[m] += r["time"]
                batch += r["time"]
                if _done(args, runs[m], spent[m]):
                    out[m] = _summary(runs[m])
                    break
            if m in out:
                active.remove(m)
    return out


# --------------------------------------------------------------------------------------------
# main loop
# --------------------------------------------------------------------------------------------

COLUMNS = [
    "dataset",
    "task",
    "n",
    "d",
    "P",
    "model",
    "section",
    "method",
    "F",
    "rel_F_diff",
    "time_s",
    "ratio_vs_ours",
    "time_first_s",
    "ratio_first",
    "runs",
    "t_1e-4",
    "t_1e-6",
    "neurons",
    "converged",
    "violation",
    "test_metric",
    "note",
]


def bench_dataset(name: str, args: argparse.Namespace) -> tuple[list[dict[str, Any]], dict]:
    from convexnn.arrangements import sample_arrangements

    D = _load(name, args.data_dir)
    X, y = D["X"], D["y"]
    n, d0 = X.shape
    Xd = np.column_stack([X, np.ones(n)])
    arr = sample_arrangements(Xd, args.P, 0)
    gates, masks = arr.gates, arr.masks()
    P = arr.n_patterns
    tl = args.time_limit
    base = {"dataset": name, "task": D["task"], "n": n, "d": d0 + 1, "P": P}
    metric = "acc" if D["task"] == "classification" else "rmse"
    print(f"\n=== {name}: n={n}, d={d0}+1, P={P} distinct patterns ({D['task']}) ===", flush=True)

    models = [m for m in ("gated", "relu") if m in args.models.split(",")]
    res: dict[str, dict[str, dict[str, Any]]] = {m: {} for m in models}
    for model in models:
        R = res[model]
        skipped: dict[str, dict[str, Any]] = {}
        methods: dict[str, tuple[Any, tuple[Any, ...]]] = {}
        # The estimator's default, and for relu also the interior point alone (its first
        # phase below n = 2,000; it returns the analytic centre: more neurons, F within tol).
        methods["auto (default)"] = (run_ours, (D, gates, model, "auto", tl))
        if model == "relu":
            methods["ipm"] = (run_ours, (D, gates, model, "ipm", tl))
            if args.skip_our_al:
                skipped["al"] = {"note": "skipped (--skip-our-al)"}
            else:
                methods["al"] = (run_ours, (D, gates, "relu", "al", tl))
        if model == "relu" and (args.skip_cvxpy_relu or n > args.cvxpy_relu_max_n):
            why = "--skip-cvxpy-relu" if args.skip_cvxpy_relu else f"n > {args.cvxpy_relu_max_n}"
            skipped["cvxpy+clarabel"] = {"note": f"skipped ({why})"}
        else:
            methods["cvxpy+clarabel"] = (run_cvxpy, (Xd, y, masks, model, args.cvxpy_time_limit))
        pname = "pyscnn rfista" if model == "gated" else "pyscnn al"
        if args.no_pyscnn:
            skipped[pname] = {"note": "skipped (--no-pyscnn)"}
        else:
            methods[pname] = (run_pyscnn_timed, (Xd, y, gates, model, args.pyscnn_max_iter, tl))
        got = _interleaved(args, methods)
        section = {"auto (default)": "ours", "ipm": "ours", "al": "ours (first-order)",
                   "cvxpy+clarabel": "1 cvxpy", pname: "2 pyscnn"}
        for key in ["auto (default)", "ipm", "al", "cvxpy+clarabel", pname]:
            if key in got:
                R[key] = got[key]
            elif key in skipped:
                R[key] = {"F": None, "time": None, "history": [], **skipped[key]}
            else:
                continue
            R[key]["section"] = section[key]
            print(f"  {model:5s} {key:18s} F={_fmt(R[key].get('F'), '.8g')} "
                  f"t={_fmt(R[key].get('time'))}s runs={R[key].get('runs', 0)} "
                  f"{R[key].get('note', '') if key == pname else ''}", flush=True)

    if "relu" in res:
        _nonconvex_rows(D, res["relu"], args)
    return _rows(res, base, metric)


def _nonconvex_rows(D: dict[str, Any], R: dict[str, dict[str, Any]],
                    args: argparse.Namespace) -> None:
    """Adam and SGD grids and the scikit-learn row, sized from our ReLU solution."""
    ours_relu = R["auto (default)"]
    width = max(20, 2 * int(ours_relu.get("neurons") or 10))
    for key, optimizer, wanted in (("adam grid", "adam", True),
                                   ("sgd grid", "sgd", not args.no_sgd)):
        if ours_relu.get("F") is not None and not args.no_torch and wanted:
            R[key] = _safe(run_nonconvex_grid, D, width, ours_relu["F"], args.quick,
                           args.adam_budget, optimizer)
        else:
            R[key] = {"F": None, "time": None, "history": [], "note": "skipped"}
        R[key]["section"] = "3 nonconvex"
        a = R[key]
        print(
            f"  relu  {key:18s} F={_fmt(a.get('F'), '.8g')} t={_fmt(a.get('time'))}s "
            f"{a.get('note', '')}",
            flush=True,
        )
    R["sklearn mlp"] = _safe(run_sklearn, D, width)
    R["sklearn mlp"]["section"] = "4 sklearn"


def _rows(res: dict[str, dict[str, dict[str, Any]]], base: dict[str, Any],
          metric: str) -> tuple[list[dict[str, Any]], dict]:
    # Reference F* per model: the best *feasible* value (ours default, our FISTA, CVXPY; and
    # pyscnn's for the unconstrained gated model). Infeasible AL points can lie below it.
    rows = []
    refs = {}
    for model, R in res.items():
        names = (
            ["auto (default)", "cvxpy+clarabel", "pyscnn rfista"]
            if model == "gated"
            else ["auto (default)", "ipm", "cvxpy+clarabel"]
        )
        cands = [R[k]["F"] for k in names if k in R and R[k].get("F") is not None]
        ours_key = "auto (default)"
        hist_min = [F for _, F in R[ours_key].get("history", [])]
        ref = min(cands + hist_min) if cands else None
        refs[model] = ref
        t_ours = R[ours_key].get("time")
        t1_ours = R[ours_key].get("time_first")
        for method, r in R.items():
            F = r.get("F")
            row = dict(base, model=model, section=r.get("section", ""), method=method)
            row["F"] = F
            row["rel_F_diff"] = None if (F is None or ref is None) else (F - ref) / abs(ref)
            row["time_s"] = r.get("time")
            row["ratio_vs_ours"] = (
                r["time"] / t_ours if (r.get("time") and t_ours and method != ours_key) else None
            )
            row["time_first_s"] = r.get("time_first")
            row["runs"] = r.get("runs")
            row["ratio_first"] = (
                r["time_first"] / t1_ours
                if (r.get("time_first") and t1_ours and method != ours_key) else None
            )
            hist = r.get("history", [])
            if method in ("adam grid", "sgd grid"):
                row["t_1e-4"] = row["t_1e-6"] = None
                row["note"] = (
                    f"time to within 1% of ours: "
                    f"{_fmt(r.get('t_target')) if r.get('t_target') else 'never'}"
                    f" (single run) / {_fmt(r.get('grid_t_target')) if r.get('grid_t_target') else 'never'}"
                    f" (sequential grid); {r.get('note', '')}"
                )
            elif method in ("al", "pyscnn al") or ref is None:
                # AL iterates are infeasible: their F is not a suboptimality; no times.
                row["t_1e-4"] = row["t_1e-6"] = None
                row["note"] = r.get("note", "")
            else:
                row["t_1e-4"], row["t_1e-6"] = (_time_to(hist, ref, lv) for lv in TARGETS)
                row["note"] = r.get("note", "")
            row["neurons"] = r.get("neurons")
            row["converged"] = r.get("converged")
            row["violation"] = r.get("violation")
            row["test_metric"] = f"{metric}={r['test']:.4g}" if r.get("test") is not None else None
            row["history"] = hist
            rows.append(row)
    return rows, refs


def write_outputs(
    rows: list[dict[str, Any]],
    refs_all: dict[str, dict],
    args: argparse.Namespace,
    cmd: str,
    wall: float,
    machine: dict[str, str],
) -> None:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = args.name
    with (out / f"{name}.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=COLUMNS, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in COLUMNS})

    table = format_table(rows)
    med = medians(rows)
    md = [
        f"# convexnn benchmark `{name}`",
        "",
        "Command:",
        "",
        f"    {cmd}",
        "",
        "Machine: " + ", ".join(f"{k}={v}" for k, v in machine.items()),
        "",
        f"Total wall time: {wall:.0f} s. beta={BETA}, squared loss, tol=1e-6 (ours), "
        f"P={args.P} sampled gates (seed 0; distinct patterns in column P), per-solver time "
        f"limit {args.time_limit:.0f} s (CVXPY: {args.cvxpy_time_limit:.0f} s).",
        "",
        "`rel_F_diff` = (F - F*)/|F*| with F* the best feasible value known for that "
        "problem (ours, CVXPY, and pyscnn for gated). AL rows (ours and pyscnn) are "
        "network objectives of possibly infeasible solutions: they can fall below F*; "
        "`violation` is the largest cone-constraint violation. `ratio_vs_ours` = method "
        "time / our default solver's time on the same model; `time_s` is the median of `runs` "
        f"runs ({args.repeats}, and more until they take {args.min_time:g} s, at most "
        f"{args.max_repeats}; fewer once the next run would take the runs past "
        f"{args.repeat_budget:.0f} s: the same rule for every method; the methods of a set take "
        f"turns, batches of runs of {args.min_time / max(args.repeats, 1):.2g} s or one run, "
        "so that their runs share the machine's slow spells), "
        "`time_first_s` the first "
        "run's (a cold single fit) and `ratio_first` the ratio of first runs. `t_1e-4`, `t_1e-6`: first "
        "recorded time with relative suboptimality <= 1e-4 / 1e-6 (from `history_`; "
        "coarse: a few records per fit). Test metric: accuracy of sign(f) (classification), "
        "RMSE in original units (regression).",
        "",
        table,
        "",
        "## Medians across sets",
        "",
    ]
    md += [f"- {k}: {_fmt(v)} (over {c} sets)" for k, (v, c) in med.items()]
    (out / f"{name}.md").write_text("\n".join(md) + "\n")
    try:
        plot(rows, refs_all, out / f"{name}_gap_vs_time.png")
    except ImportError:
        print("matplotlib not available: no plot")


def format_table(rows: list[dict[str, Any]]) -> str:
    # The markdown table shows the CSV columns without the two grouping ones.
    cols = [c for c in COLUMNS if c not in ("task", "section")]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        cells = []
        for c in cols:
            v = r.get(c)
            if c == "F":
                cells.append(_fmt(v, ".8g"))
            elif c == "rel_F_diff":
                cells.append(_fmt(v, ".2e"))
            elif c == "dataset":
                cells.append(str(v).split(":", 1)[-1])
            else:
                cells.append(_fmt(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def medians(rows: list[dict[str, Any]]) -> dict[str, tuple[float, int]]:
    """Medians over sets, keyed by a label that also says how many of the ratios are lower
    bounds (the peer stopped, at its time limit, without reaching its tolerance)."""
    keys = {
        "time ratio CVXPY/ours (gated)": ("gated", "cvxpy+clarabel"),
        "time ratio CVXPY/ours (relu)": ("relu", "cvxpy+clarabel"),
        "time ratio pyscnn RFISTA/ours (gated)": ("gated", "pyscnn rfista"),
        "time ratio pyscnn AL/ours (relu)": ("relu", "pyscnn al"),
        "time ratio our IPM alone/ours (relu)": ("relu", "ipm"),
        "time ratio our AL/ours (relu)": ("relu", "al"),
        "time ratio Adam grid/ours (relu)": ("relu", "adam grid"),
        "time ratio SGD grid/ours (relu)": ("relu", "sgd grid"),
        "time ratio sklearn MLP/ours (relu)": ("relu", "sklearn mlp"),
    }
    out = {}
    for label, (model, method) in keys.items():
        sel = [
            r
            for r in rows
            if r["model"] == model and r["method"] == method and r.get("ratio_vs_ours") is not None
        ]
        if sel:
            cut = sum(1 for r in sel if r.get("converged") in (False, "no"))
            if cut:
                label += f" [{cut} of them with the peer not converged (time limit or inaccurate): lower bounds]"
            out[label] = (statistics.median(r["ratio_vs_ours"] for r in sel), len(sel))
            first = [r["ratio_first"] for r in sel if r.get("ratio_first") is not None]
            if first and len(first) == len(sel):
                out[label.replace("time ratio", "first-run time ratio", 1)] = (
                    statistics.median(first), len(first))
    for label, (model, method) in {
        "rel F diff CVXPY (gated)": ("gated", "cvxpy+clarabel"),
        "rel F diff ours (gated)": ("gated", "auto (default)"),
        "rel F diff ours (relu)": ("relu", "auto (default)"),
        "rel F diff our IPM alone (relu)": ("relu", "ipm"),
        "rel F diff CVXPY (relu)": ("relu", "cvxpy+clarabel"),
        "rel F diff pyscnn RFISTA (gated)": ("gated", "pyscnn rfista"),
        "rel F diff pyscnn AL network (relu)": ("relu", "pyscnn al"),
        "rel F diff Adam grid best (relu)": ("relu", "adam grid"),
        "rel F diff SGD grid best (relu)": ("relu", "sgd grid"),
    }.items():
        v = [
            r["rel_F_diff"]
            for r in rows
            if r["model"] == model and r["method"] == method and r.get("rel_F_diff") is not None
        ]
        if v:
            out[label] = (statistics.median(v), len(v))
    return out


def plot(rows: list[dict[str, Any]], refs_all: dict[str, dict], path: Path) -> None:
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = sorted(
        {(r["dataset"], r["model"]) for r in rows}, key=lambda k: (list(refs_all).index(k[0]), k[1])
    )
    ncol = 4
    nrow = math.ceil(len(panels) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 3.2 * nrow), squeeze=False)
    styles = {
        "auto (default)": "C0-",
        "ipm": "C0:",
        "al": "C1--",
        "cvxpy+clarabel": "C2o",
        "pyscnn rfista": "C3s",
        "pyscnn al": "C3s",
        "adam grid": "C4-",
        "sgd grid": "C5-",
    }
    for ax, (ds, model) in zip(axes.ravel(), panels, strict=False):
        ref = refs_all[ds][model]
        for r in rows:
            if r["dataset"] != ds or r["model"] != model or r["method"] not in styles:
                continue
            h = r.get("history") or []
            if not h or ref is None:
                continue
            t = np.array([a for a, _ in h])
            g = np.array([(F - ref) / abs(ref) for _, F in h])
            t = np.maximum(t, 1e-3)
            st = styles[r["method"]]
            one = len(h) == 1
            below = g < 0  # AL / Adam / peers' points can lie below F* (other patterns)
            lab = r["method"] + (" (hollow: below F*)" if below.any() else "")
            ax.plot(
                t,
                np.maximum(np.abs(g), 1e-12),
                st[:2] + ("o" if one else st[2:]),
                label=lab,
                ms=7 if one else 3,
                mfc="none" if one and below.all() else None,
            )
            if below.any() and not one:
                ax.plot(t[below], np.maximum(-g[below], 1e-12), st[:2] + "o", mfc="none", ms=3)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_title(f"{ds.split(':', 1)[-1]} / {model}", fontsize=9)
        ax.set_xlabel("time (s)")
        ax.set_ylabel("|F - F*| / |F*|")
        ax.legend(fontsize=6)
    for ax in axes.ravel()[len(panels) :]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def warm_up(args: argparse.Namespace) -> None:
    """Run our solvers and CVXPY once on a tiny problem, results discarded.

    Their first call in a process pays one-time costs (lazy imports, the BLAS thread-pool
    controller, CVXPY's first compilation); without this the first data set of a run is
    charged for them (fertility, gated: 0.066 s for ours instead of ~0.017 s). pyscnn runs in
    a fresh process per fit and is timed by its own clock, as before."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3))
    D = {"X": X, "y": np.sign(X[:, 0] + 0.1), "Xte": X, "yte": np.sign(X[:, 0] + 0.1),
         "task": "classification", "y_std": 1.0}
    Xd = np.column_stack([X, np.ones(40)])
    from convexnn.arrangements import sample_arrangements

    arr = sample_arrangements(Xd, 10, 0)
    for model in [m for m in ("gated", "relu") if m in args.models.split(",")]:
        _safe(run_ours, D, arr.gates, model, "auto", 10.0)
        _safe(run_cvxpy, Xd, D["y"], arr.masks(), model, 10.0)


def machine_info() -> dict[str, str]:
    import scipy
    import sklearn

    info = {
        "cpus": str(os.cpu_count()),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "sklearn": sklearn.__version__,
        "platform": platform.platform(),
    }
    for mod in ("torch", "cvxpy", "clarabel"):
        try:
            m = __import__(mod)
            info[mod] = getattr(m, "__version__", "?")
        except ImportError:
            info[mod] = "absent"
    try:
        from importlib.metadata import version

        info["pyscnn"] = version("pyscnn")
    except Exception:
        pass
    try:
        info["loadavg_at_start"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        pass
    return info


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="3 small sets, P=100 (< 5 min)")
    ap.add_argument("--data-dir", default=os.environ.get("CONVEXNN_DATA_DIR", DEFAULT_DATA_DIR))
    ap.add_argument("--out", default=str(HERE / "results"))
    ap.add_argument("--name", default=None, help="output file stem (default quick/full)")
    ap.add_argument(
        "--sets",
        default=None,
        help="comma-separated dataset names (uci:NAME, uci-reg:NAME, or NAME of "
        "the uci121 collection)",
    )
    ap.add_argument("--P", type=int, default=None, help="gates sampled (100 quick, 250 full)")
    ap.add_argument("--skip-cvxpy-relu", action="store_true")
    ap.add_argument("--no-sgd", action="store_true", help="leave out the SGD grid row")
    ap.add_argument("--models", default="gated,relu",
                    help="comma-separated models to run (gated, relu); the nonconvex rows need relu")
    ap.add_argument("--skip-our-al", action="store_true",
                    help="leave out our augmented-Lagrangian ReLU row (it runs to the time limit)")
    ap.add_argument(
        "--cvxpy-relu-max-n",
        type=int,
        default=1000,
        help="run CVXPY on the ReLU program only when n_train <= this",
    )
    ap.add_argument(
        "--time-limit",
        type=float,
        default=None,
        help="per-solver wall limit in s (40 quick, 1200 full)",
    )
    ap.add_argument(
        "--cvxpy-time-limit",
        type=float,
        default=None,
        help="wall limit for CVXPY + Clarabel in s (default: --time-limit); a CVXPY row "
        "stopped by it has a time ratio that is only a lower bound",
    )
    ap.add_argument(
        "--adam-budget",
        type=float,
        default=None,
        help="seconds for the adaptive Adam grid search per set (60 quick, 900 full)",
    )
    ap.add_argument("--repeats", type=int, default=3,
                    help="runs per method (median time reported; default 3)")
    ap.add_argument("--repeat-budget", type=float, default=10.0,
                    help="no further run of a method once its runs would exceed this (s)")
    ap.add_argument("--min-time", type=float, default=1.0,
                    help="runs of a method continue past --repeats until they take this (s)")
    ap.add_argument("--max-repeats", type=int, default=50,
                    help="runs per method at most (with --min-time)")
    ap.add_argument("--pyscnn-max-iter", type=int, default=10000)
    ap.add_argument("--no-pyscnn", action="store_true")
    ap.add_argument("--no-torch", action="store_true")
    args = ap.parse_args(argv)
    if args.P is None:
        args.P = 100 if args.quick else 250
    if args.time_limit is None:
        args.time_limit = 40.0 if args.quick else 1200.0
    if args.cvxpy_time_limit is None:
        args.cvxpy_time_limit = args.time_limit
    if args.adam_budget is None:
        args.adam_budget = 60.0 if args.quick else 900.0
    if args.name is None:
        args.name = "quick" if args.quick else "full"
    if args.sets == "uci31":
        sets = UCI31_SETS
    elif args.sets:
        sets = [s if ":" in s else f"uci:{s}" for s in args.sets.split(",") if s.strip()]
    else:
        sets = QUICK_SETS if args.quick else FULL_SETS
    cmd = " ".join(
        [".venv/bin/python", "benchmarks/run.py", *sys.argv[1:]]
        if argv is None
        else ["benchmarks/run.py", *argv]
    )
    machine = machine_info()
    print("machine:", machine)
    warm_up(args)
    t0 = time.perf_counter()
    rows: list[dict[str, Any]] = []
    refs_all: dict[str, dict] = {}
    for s in sets:
        try:
            r, refs = bench_dataset(s, args)
        except Exception:
            traceback.print_exc()
            continue
        rows += r
        refs_all[s] = refs
        write_outputs(rows, refs_all, args, cmd, time.perf_counter() - t0, machine)  # partial
    wall = time.perf_counter() - t0
    write_outputs(rows, refs_all, args, cmd, wall, machine)
    print("\n" + format_table(rows))
    print("\nMedians across sets:")
    for k, (v, c) in medians(rows).items():
        print(f"  {k}: {_fmt(v)} (over {c} sets)")
    print(
        f"\nwall time {wall:.0f} s; results in {args.out}/{args.name}.{{md,csv}} "
        f"and {args.name}_gap_vs_time.png"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
