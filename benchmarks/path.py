"""Warm-started regularization path vs independent fits (same grid, same patterns).

    .venv/bin/python benchmarks/path.py [--data-dir DIR] [--sets uci:NAME,...] [--P 100]

Prints, per data set, the time of the warm path (``convexnn.fit_path``), the time of cold fits
of every ``beta``, their ratio, and the largest relative difference of ``F`` between the two
(the warm path keeps the patterns of the previous fits, so its ``F`` can only be lower).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from convexnn import ConvexReLURegressor, beta_grid, fit_path
from convexnn.datasets import load_uci, load_uci_regression


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=os.environ.get("CONVEXNN_DATA_DIR",
                                                         "/work/shared/datasets"))
    ap.add_argument("--sets", default="uci:statlog-heart,uci:monks-1,uci-reg:yacht")
    ap.add_argument("--P", type=int, default=100)
    ap.add_argument("--n-betas", type=int, default=5)
    args = ap.parse_args()
    rows = []
    for spec in args.sets.split(","):
        kind, name = spec.split(":")
        if kind == "uci":
            ds = load_uci(args.data_dir, name)
            y = np.where(ds.y_train == ds.y_train.max(), 1.0, -1.0)
        else:
            ds = load_uci_regression(args.data_dir, name)
            y = (ds.y_train - ds.y_train.mean()) / ds.y_train.std()
        X = ds.X_train
        betas = beta_grid(X, y, n_betas=args.n_betas, ratio=1e-2)
        est = ConvexReLURegressor(arrangements=args.P, random_state=0)
        t0 = time.perf_counter()
        res = fit_path(est, X, y, betas)
        t_warm = time.perf_counter() - t0
        t0 = time.perf_counter()
        cold = [ConvexReLURegressor(beta=b, arrangements=args.P, random_state=0).fit(X, y)
                for b in res.betas]
        t_cold = time.perf_counter() - t0
        dF = max((c.objective_ - w) / c.objective_ for c, w in zip(cold, res.objectives,
                                                                  strict=True))
        rows.append((spec, X.shape[0], t_warm, t_cold, t_cold / t_warm, dF))
        print(f"{spec:24s} n={X.shape[0]:5d}  warm {t_warm:7.2f} s  cold {t_cold:7.2f} s  "
              f"cold/warm {t_cold / t_warm:5.2f}x  max (F_cold - F_warm)/F_cold {dF:+.2e}",
              flush=True)


if __name__ == "__main__":
    main()
