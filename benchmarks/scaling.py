"""Scaling benchmark of the gated-model solver against the two-GEMM floor (issue 3).

For synthetic data (Gaussian ``X`` with a ones column, ``y`` from a planted two-layer ReLU
network plus noise, ``P`` gates sampled by :func:`convexnn.arrangements.sample_arrangements`)
it solves the gated program ([MSP22], SPEC §2, squared loss)::

    min_U (1/2n) ||sum_i D_i X u_i - y||^2 + beta sum_i ||u_i||

with :func:`convexnn.solvers.fista.solve_gated_working_set` (the estimator's ``model="gated"``
path) to a relative KKT residual (default ``1e-6``), for every combination of ``n``, dtype and
backend (NumPy, PyTorch CPU), and reports, all measured in the same process:

* ``time``, ``iters``: time to tolerance and total FISTA iterations of the solve;
* ``full-P it``: the per-iteration time of FISTA over all ``P`` patterns (``k`` iterations of
  :func:`convexnn.solvers.fista.solve_gated_fista`), and ``2 GEMM``: the time of the two bare GEMMs
  of the same shapes and dtype, ``X @ V^T`` (n x d x P) and ``R^T @ X`` (P x n x d), and their
  ``ratio`` (the operator-floor target is <= 1.5);
* ``ws it``: the solve's time per iteration (all included: outer rounds over all patterns,
  backtracking, certificates) and ``ratio ws``: that over the two bare GEMMs at the final working
  set size;
* the final relative KKT residual and relative duality gap (global, over all patterns).

The machine is shared: GEMM and solver timings alternate and the minimum of the repeats is kept.

Usage::

    .venv/bin/python benchmarks/scaling.py --quick     # n in {1e3, 1e4}, P=200, tol 1e-4, < 1 min
    .venv/bin/python benchmarks/scaling.py             # n in {1e3, 1e4, 1e5}
    .venv/bin/python benchmarks/scaling.py --n 1e5 --dtypes float32 --backends numpy
    .venv/bin/python benchmarks/scaling.py --large     # adds n = 1e6 (row-blocked masks)
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from convexnn.arrangements import sample_arrangements
from convexnn.losses import SquaredLoss
from convexnn.operators import MaskedOperator
from convexnn.solvers.fista import solve_gated_fista, solve_gated_working_set, use_metric

HERE = Path(__file__).resolve().parent


def make_data(n: int, d: int, P: int, seed: int = 0, width: int = 10,
              noise: float = 0.1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``X = [G, 1]`` with ``G ~ N(0, 1)``, ``y = relu(X W) a + noise``, masks of ``P`` gates."""
    rng = np.random.default_rng(seed)
    X = np.empty((n, d))
    X[:, :-1] = rng.standard_normal((n, d - 1))
    X[:, -1] = 1.0
    W = rng.standard_normal((d, width)) / np.sqrt(d)
    a = rng.choice([-1.0, 1.0], width)
    y = np.maximum(X @ W, 0.0) @ a
    y = (y - y.mean()) / y.std() + noise * rng.standard_normal(n)
    # n = 1e6 needs ~8 GB while sampling (the library's default guard stops at ~2 GB).
    masks = sample_arrangements(X, P, seed, max_bytes=12 * 1024**3).masks()
    return X, y, masks


def to_backend(a: np.ndarray, backend: str, dtype: str | None) -> Any:
    if dtype is not None:
        a = a.astype(dtype)
    if backend in ("torch", "cuda"):
        import torch

        t = torch.from_numpy(np.ascontiguousarray(a))
        return t.to("cuda") if backend == "cuda" else t
    return a


def _sync(X: Any) -> None:
    """Wait for queued GPU work (CUDA kernels run asynchronously; timings need the wait)."""
    if not isinstance(X, np.ndarray) and X.device.type == "cuda":
        import torch

        torch.cuda.synchronize()


def _min_time(fn: Any, reps: int) -> float:
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def bare_gemms(X: Any, P: int, reps: int) -> float:
    """Time of ``X @ V^T`` plus ``R^T @ X`` with ``V`` (P, d), ``R`` (n, P) in X's backend."""
    if P == 0:
        return 0.0
    n, d = X.shape
    if isinstance(X, np.ndarray):
        V = np.ones((P, d), dtype=X.dtype)
        R = np.ones((n, P), dtype=X.dtype)
        Z = np.empty((n, P), dtype=X.dtype)

        def fwd() -> None:
            np.matmul(X, V.T, out=Z)
    else:
        import torch

        V = torch.ones((P, d), dtype=X.dtype, device=X.device)
        R = torch.ones((n, P), dtype=X.dtype, device=X.device)
        Z = torch.empty((n, P), dtype=X.dtype, device=X.device)

        def fwd() -> None:
            torch.matmul(X, V.T, out=Z)
            _sync(X)

    def adj() -> None:
        R.T @ X
        _sync(X)

    fwd()
    adj()
    t = _min_time(fwd, reps) + _min_time(adj, reps)
    return t


def per_iteration(X: Any, y: Any, op: MaskedOperator, beta: float, k: int, L0: float) -> float:
    """Per-iteration time of FISTA over all patterns: ``k`` iterations, read off the solver's
    per-iteration records (so the set-up product and the final certificate are excluded;
    backtracking steps and certificates are included)."""
    r = solve_gated_fista(X, y, op, SquaredLoss(), beta, tol=0.0, max_iter=k + 1, L0=L0)
    h = r.history
    return (h[-1]["time"] - h[1]["time"]) / max(h[-1]["iter"] - h[1]["iter"], 1)


def run_one(n: int, d: int, P: int, dtype: str, backend: str, beta: float, tol: float,
            criterion: str, time_limit: float, k: int, reps: int, seed: int,
            precondition: bool | str = "auto") -> dict[str, Any]:
    Xn, yn, Mn = make_data(n, d, P, seed)
    X = to_backend(Xn, backend, dtype)
    y = to_backend(yn, backend, dtype)
    M = to_backend(Mn, backend, None)  # boolean
    loss = SquaredLoss()
    t = time.perf_counter()
    res = solve_gated_working_set(X, y, M, loss, beta, tol=tol, criterion=criterion,
                                  time_limit=time_limit, max_iter=100_000,
                                  precondition=precondition)
    _sync(X)
    if precondition == "auto":
        precondition = use_metric(n, d, tol)
    t_solve = time.perf_counter() - t
    ws = int(res.info["working_set_size"])
    # Alternate bare GEMMs and solver iterations (shared machine), keep the minima.
    op = MaskedOperator(X, M)  # dense operand built once, outside the timing
    # Curvature estimate in steady state (a few iterations from zero), so that the timed
    # iterations backtrack as often as a long solve does.
    L0 = solve_gated_fista(X, y, op, loss, beta, tol=0.0, max_iter=8).info["L"]
    t_gemm, t_it, t_gemm_ws = float("inf"), float("inf"), float("inf")
    for _ in range(reps):
        t_gemm = min(t_gemm, bare_gemms(X, Mn.shape[1], 1))
        t_it = min(t_it, per_iteration(X, y, op, beta, k, L0))
        t_gemm_ws = min(t_gemm_ws, bare_gemms(X, ws, 1))
    del op
    return {
        "n": n, "d": d, "P": int(Mn.shape[1]), "dtype": dtype, "backend": backend,
        "metric": "yes" if precondition else "no",
        "status": res.status.name, "time": t_solve, "iters": int(res.n_iter),
        "outer": int(res.info["n_outer"]), "ws": ws,
        "active": int(np.sum(np.linalg.norm(np.asarray(_np(res.V)), axis=1) > 0)),
        "ws_it": t_solve / max(res.n_iter, 1), "gemm_ws": t_gemm_ws,
        "it_full": t_it, "gemm": t_gemm, "kkt": float(res.info["kkt"]),
        "gap": float(res.info["gap"]),
    }


def _np(a: Any) -> np.ndarray:
    if isinstance(a, np.ndarray):
        return a
    return a.detach().cpu().double().numpy()


HEADER = ("| n | dtype | backend | P | metric | status | time to tol (s) | iters | outer | |W| | active "
          "| ws s/it | 2 GEMM at \\|W\\| (s) | ratio ws | full-P s/it | 2 GEMM full-P (s) "
          "| ratio full-P | rel. KKT | rel. gap |")
SEP = "|" + "---|" * 19


def fmt_row(r: dict[str, Any]) -> str:
    return (f"| {r['n']:.0e} | {r['dtype']} | {r['backend']} | {r['P']} | {r['metric']} "
            f"| {r['status']} "
            f"| {r['time']:.2f} | {r['iters']} | {r['outer']} | {r['ws']} | {r['active']} "
            f"| {r['ws_it']:.4f} | {r['gemm_ws']:.4f} | {r['ws_it'] / r['gemm_ws']:.2f} "
            f"| {r['it_full']:.4f} | {r['gemm']:.4f} | {r['it_full'] / r['gemm']:.2f} "
            f"| {r['kkt']:.1e} | {r['gap']:.1e} |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="n in {1e3, 1e4}, fewer repeats (< 1 min)")
    ap.add_argument("--large", action="store_true", help="also n = 1e6")
    ap.add_argument("--n", type=str, default=None, help="comma-separated sample sizes, e.g. 1e4,1e5")
    ap.add_argument("--d", type=int, default=100)
    ap.add_argument("--P", type=int, default=1000)
    ap.add_argument("--dtypes", type=str, default="float32,float64")
    ap.add_argument("--backends", type=str, default="numpy,torch",
                    help="comma-separated: numpy, torch (PyTorch CPU), cuda (PyTorch on the GPU)")
    ap.add_argument("--beta", type=float, default=1e-2)
    ap.add_argument("--tol", type=float, default=1e-6)
    ap.add_argument("--criterion", choices=["kkt", "gap", "both"], default="kkt")
    ap.add_argument("--time-limit", type=float, default=60.0,
                    help="per solve, seconds (60 s is the issue's target at n=1e5)")
    ap.add_argument("--iters", type=int, default=5, help="FISTA iterations timed over all P")
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--precondition", choices=["auto", "on", "off"], default="auto",
                    help="low-rank metric of solvers/_metric.py (auto: fista.use_metric)")
    ap.add_argument("--out", type=str, default=str(HERE / "results" / "scaling.md"))
    args = ap.parse_args(argv)
    if args.n is not None:
        ns = [int(float(s)) for s in args.n.split(",")]
    elif args.quick:
        ns = [1000, 10000]
    else:
        ns = [1000, 10000, 100000] + ([1000000] if args.large else [])
    if args.quick:
        args.reps, args.iters, args.P, args.time_limit = 1, 3, 200, 3.0
        args.tol = max(args.tol, 1e-4)
    if "cuda" in args.backends.split(","):
        import torch

        if not torch.cuda.is_available():
            raise SystemExit("--backends cuda: PyTorch sees no CUDA device "
                             "(torch.cuda.is_available() is False); use numpy,torch here")
    rows: list[dict[str, Any]] = []
    print(HEADER)
    print(SEP, flush=True)
    for n in ns:
        for dtype in args.dtypes.split(","):
            for backend in args.backends.split(","):
                pre: bool | str = {"auto": "auto", "on": True, "off": False}[args.precondition]
                r = run_one(n, args.d, args.P, dtype, backend, args.beta, args.tol,
                            args.criterion, args.time_limit, args.iters, args.reps, args.seed,
                            precondition=pre)
                rows.append(r)
                print(fmt_row(r), flush=True)
    import torch

    cmd = "python benchmarks/scaling.py " + " ".join(sys.argv[1:] if argv is None else argv)
    lines = [
        "# Gated-model scaling benchmark (issue 3)", "",
        f"Command: `{cmd.strip()}`  ",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, load average at end "
        f"{os.getloadavg()[0]:.1f} (shared machine: timings are noisy; ratios compare numbers "
        f"measured in the same process, minimum of {args.reps} alternating repeats).  ",
        f"numpy {np.__version__}, torch {torch.__version__} ({torch.get_num_threads()} threads)"
        + (f", GPU: {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else "")
        + ".  ",
        f"Problem: d={args.d}, P={args.P} sampled gates, beta={args.beta}, squared loss; "
        f"stopping: relative {args.criterion} <= {args.tol:g}.", "",
        HEADER, SEP, *[fmt_row(r) for r in rows], "",
        "Columns: `ws s/it` = time to tolerance / iterations of the working-set solve "
        "(everything included); `full-P s/it` = per-iteration time of FISTA over all P "
        "patterns; `2 GEMM` = bare `X @ V^T` + `R^T @ X` of the same shapes and dtype "
        "(at the final working-set size |W|, or at full P).", "",
    ]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
