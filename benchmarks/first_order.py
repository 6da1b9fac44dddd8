"""First-order solvers on UCI-sized data vs CVXPY + Clarabel on the same patterns.

One command::

    .venv/bin/python benchmarks/first_order.py                 # 6 UCI sets, P = 250
    .venv/bin/python benchmarks/first_order.py --sets uci:pima --P 1000

For each data set (n ~ 500-3500, d ~ 8-57; features standardized by the loader, a ones column
appended, +-1 labels or z-scored targets, squared loss, ``beta = 1e-2``), ``P`` gates are
sampled (seed 0) and, on the *same* masks:

* ``relu``: our first-order ReLU solver (FISTA with the exact cone-projection prox,
  :mod:`convexnn.solvers.relu_fista`, ``tol = 1e-6`` on its certified relative gap) vs
  CVXPY + Clarabel on the cone-constrained program (``tol = 1e-8``);
* ``gated``: our gated FISTA (working set, :mod:`convexnn.solvers.fista`) vs CVXPY + Clarabel
  on the group lasso.

Printed and written (``results/first_order.{md,csv}``): F of each, the relative difference
``(F_ours - F_cvxpy) / F_cvxpy`` (negative: ours lower), our certified gap, times and the
ratio ``t_cvxpy / t_ours``. CVXPY gets a time limit (``--cvxpy-time-limit``); where it does not
finish, the ratio is a lower bound (marked ``>``) and our certified gap is the accuracy
statement. Each solver runs in this one process, one after the other (the machine is shared:
ratios, not seconds, are the comparable numbers).
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run import BETA, DEFAULT_DATA_DIR, _load, machine_info  # noqa: E402

SETS = [
    "uci:credit-approval",
    "uci:pima",
    "uci:statlog-german-credit",
    "uci-reg:wine-quality-red",
    "uci:bank",
    "uci:spambase",
]


def _ours(Xd: np.ndarray, y: np.ndarray, masks: np.ndarray, model: str, time_limit: float
          ) -> dict[str, Any]:
    from convexnn.losses import get_loss
    from convexnn.solvers.fista import solve_gated_fista
    from convexnn.solvers.relu_fista import solve_relu_fista
    from convexnn.solvers.working_set import solve_working_set

    loss = get_loss("squared")
    t0 = time.perf_counter()
    if model == "relu":
        r = solve_relu_fista(Xd, y, masks, loss, BETA, tol=1e-6, time_limit=time_limit)
    else:
        r = solve_working_set(Xd, y, masks, loss, BETA, model="gated", inner=solve_gated_fista,
                              tol=1e-6, max_iter=100_000, time_limit=time_limit)
    return {"F": float(r.objective), "time": time.perf_counter() - t0, "gap": float(r.criterion),
            "iters": int(r.n_iter), "status": r.status.name}


def _cvxpy(Xd: np.ndarray, y: np.ndarray, masks: np.ndarray, model: str, time_limit: float
           ) -> dict[str, Any]:
    from convexnn.solvers.cvxpy_solver import solve_cvxpy

    t0 = time.perf_counter()
    try:
        r = solve_cvxpy(Xd, y, masks, BETA, model=model, loss="squared", tol=1e-8,
                        time_limit=time_limit)
    except Exception as exc:  # noqa: BLE001 -- a failed peer is a row, not a crash
        return {"F": float("nan"), "time": time.perf_counter() - t0,
                "status": f"error: {type(exc).__name__}"}
    return {"F": float(r.objective) if r.status.converged else float("nan"),
            "time": time.perf_counter() - t0, "status": str(r.info.get("cvxpy_status"))}


def bench(name: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    D = _load(name, args.data_dir)
    X, y = D["X"], D["y"]
    Xd = np.column_stack([X, np.ones(len(X))])
    gates = np.random.default_rng(0).standard_normal((Xd.shape[1], args.P))
    masks = Xd @ gates >= 0
    rows = []
    for model in args.models:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ours = _ours(Xd, y, masks, model, args.time_limit)
            ref = _cvxpy(Xd, y, masks, model, args.cvxpy_time_limit)
        finished = np.isfinite(ref["F"])
        rel = (ours["F"] - ref["F"]) / abs(ref["F"]) if finished else float("nan")
        ratio = ref["time"] / ours["time"]
        row = {"dataset": name.split(":", 1)[1], "n": Xd.shape[0], "d": Xd.shape[1],
               "P": args.P, "model": model, "F_ours": ours["F"], "gap_ours": ours["gap"],
               "status_ours": ours["status"], "iters": ours["iters"], "t_ours": ours["time"],
               "F_cvxpy": ref["F"], "status_cvxpy": ref["status"], "t_cvxpy": ref["time"],
               "rel_F_diff": rel, "ratio": ratio, "ratio_is_lower_bound": not finished}
        rows.append(row)
        print(f"{row['dataset']:>24} n={row['n']:5d} d={row['d']:3d} {model:5s} "
              f"ours {ours['time']:7.2f}s gap={ours['gap']:.1e} ({ours['status']}) | "
              f"cvxpy {ref['time']:7.2f}s ({ref['status']}) | rel F diff {rel:+.1e} | "
              f"ratio {'>' if not finished else ''}{ratio:.1f}x", flush=True)
    return rows


def write(rows: list[dict[str, Any]], args: argparse.Namespace, wall: float,
          final: bool = True) -> None:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / args.name
    with open(f"{stem}.csv.tmp", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    os.replace(f"{stem}.csv.tmp", f"{stem}.csv")
    lines = [f"# convexnn benchmark `{args.name}`: first-order solvers vs CVXPY + Clarabel", "",
             "Command:", "", "    .venv/bin/python benchmarks/first_order.py "
             + " ".join(sys.argv[1:]), "",
             "Machine: " + ", ".join(f"{k}={v}" for k, v in machine_info().items()), "",
             f"Total wall time: {wall:.0f} s. beta={BETA}, squared loss, P={args.P} sampled "
             "gates (seed 0), bias column; ours tol=1e-6 (certified relative gap over all P "
             "patterns), CVXPY+Clarabel tol=1e-8 with a time limit of "
             f"{args.cvxpy_time_limit:.0f} s. `rel_F_diff` = (F_ours - F_cvxpy)/F_cvxpy; "
             "`ratio` = t_cvxpy / t_ours ('>' where CVXPY hit its limit).", "",
             "| dataset | n | d | model | F ours | gap ours | t ours (s) | iters | F cvxpy | "
             "t cvxpy (s) | rel F diff | ratio |", "|" + "---|" * 12]
    for r in rows:
        lines.append(
            f"| {r['dataset']} | {r['n']} | {r['d']} | {r['model']} | {r['F_ours']:.9g} | "
            f"{r['gap_ours']:.1e} | {r['t_ours']:.2f} | {r['iters']} | {r['F_cvxpy']:.9g} | "
            f"{r['t_cvxpy']:.2f} | {r['rel_F_diff']:+.1e} | "
            f"{'>' if r['ratio_is_lower_bound'] else ''}{r['ratio']:.1f} |")
    lines.append("")
    for model in args.models:
        rs = [r for r in rows if r["model"] == model]
        if rs:
            lines.append(f"- {model}: median ratio {statistics.median(r['ratio'] for r in rs):.1f}x"
                         f" over {len(rs)} sets; max |rel F diff| where CVXPY finished: "
                         + (f"{max(abs(r['rel_F_diff']) for r in rs if not r['ratio_is_lower_bound']):.1e}"
                            if any(not r["ratio_is_lower_bound"] for r in rs) else "n/a")
                         + f"; max certified gap of ours {max(r['gap_ours'] for r in rs):.1e}")
    text = "\n".join(lines) + "\n"
    with open(f"{stem}.md.tmp", "w") as fh:
        fh.write(text)
    os.replace(f"{stem}.md.tmp", f"{stem}.md")
    if final:
        print(text)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sets", default=",".join(SETS))
    ap.add_argument("--P", type=int, default=250)
    ap.add_argument("--models", default="relu,gated")
    ap.add_argument("--time-limit", type=float, default=600.0, help="ours, seconds")
    ap.add_argument("--cvxpy-time-limit", type=float, default=600.0)
    ap.add_argument("--data-dir", default=os.environ.get("CONVEXNN_DATA_DIR", DEFAULT_DATA_DIR))
    ap.add_argument("--out", default=str(HERE / "results"))
    ap.add_argument("--name", default="first_order")
    args = ap.parse_args(argv)
    args.models = args.models.split(",")
    t0 = time.perf_counter()
    rows: list[dict[str, Any]] = []
    for name in args.sets.split(","):
        rows += bench(name, args)
        # Rewritten after every set, so a long run leaves partial results.
        write(rows, args, time.perf_counter() - t0, final=False)
    write(rows, args, time.perf_counter() - t0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
