"""Binary classification with ``ConvexReLUClassifier``: accuracy, neurons, certificate, plot.

What it shows
-------------
* ``ConvexReLUClassifier`` (logistic loss, regularized hidden bias) fitted by its exact convex
  program over sampled activation patterns, in a ``Pipeline`` with a ``StandardScaler`` (the
  estimator itself never rescales data).
* Train/test accuracy and the number of neurons of the recovered ReLU network.
* ``certificate_.summary()``: the objective ``F``, a *proven* lower bound on the global optimum
  and the proven gap; on this high-rank data the patterns cannot be enumerated, so the proof
  uses a loose pattern-free bound and the tighter search estimate is labelled "not a proof".
* The convergence history (objective, dual bound and duality gap of the convex program against
  time), written with ``convexnn.plotting.plot_convergence`` to ``OUT/convergence.png``.

Data: the bundled breast-cancer set (scikit-learn, 569 x 30), or with ``--dataset uci:NAME`` a
binary set of the shared ``uci121`` collection (``--data-dir``, else ``CONVEXNN_DATA_DIR``, else
``../shared/datasets`` next to the repository; if it is missing the bundled set is used and the
script says so).

Run::

    .venv/bin/python examples/classification.py --out /tmp/clf
    .venv/bin/python examples/classification.py --dataset uci:statlog-heart --out /tmp/clf
    .venv/bin/python examples/classification.py --fast --out /tmp/clf   # small settings
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from convexnn import ConvexReLUClassifier, datasets
from convexnn.plotting import plot_convergence

REPO_ROOT = Path(__file__).resolve().parents[1]


def default_data_dir() -> Path:
    env = os.environ.get("CONVEXNN_DATA_DIR")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "datasets"


def load_data(name: str, data_dir: Path) -> datasets.Dataset:
    if name.startswith("uci:"):
        try:
            ds = datasets.load(name, data_dir=data_dir)
            if ds.n_classes == 2:
                return ds
            print(f"NOTE: {name} has {ds.n_classes} classes; this example is binary.")
        except (FileNotFoundError, ValueError) as exc:
            print(f"NOTE: {name} not found under {data_dir} ({exc}).")
        print("NOTE: falling back to the bundled breast_cancer set.")
        name = "breast_cancer"
    return datasets.load_bundled(name, standardize=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="small settings (test suite)")
    parser.add_argument("--dataset", default="breast_cancer",
                        help="'breast_cancer', 'wine_binary' or 'uci:NAME' (binary)")
    parser.add_argument("--data-dir", type=Path, default=default_data_dir(),
                        help="the shared 'datasets' folder (for uci:NAME)")
    parser.add_argument("--beta", type=float, default=None,
                        help="weight decay (default 1e-3; 1e-2 with --fast)")
    parser.add_argument("--out", type=Path, default=Path("examples_out"),
                        help="folder for the convergence plot")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    n_patterns = 20 if args.fast else 200
    if args.beta is None:
        args.beta = 1e-2 if args.fast else 1e-3

    ds = load_data(args.dataset, args.data_dir)
    X_tr, y_tr, X_te, y_te = ds.X_train, ds.y_train, ds.X_test, ds.y_test
    if args.fast:  # a 120-point training subsample keeps the test suite quick
        X_tr, y_tr = X_tr[:120], y_tr[:120]
    print(f"dataset: {ds.name}  train {X_tr.shape}  test "
          f"{None if X_te is None else X_te.shape}")

    pipe = make_pipeline(StandardScaler(), ConvexReLUClassifier(
        beta=args.beta, arrangements=n_patterns, random_state=0))
    t0 = time.perf_counter()
    pipe.fit(X_tr, y_tr)
    elapsed = time.perf_counter() - t0
    clf = pipe[-1]
    print(f"fit: {n_patterns} sampled patterns, beta={args.beta:g}, logistic loss, "
          f"{elapsed:.1f} s, converged={clf.converged_}")
    print(f"train accuracy : {np.mean(pipe.predict(X_tr) == y_tr):.4f}")
    if X_te is not None:
        print(f"test accuracy  : {np.mean(pipe.predict(X_te) == y_te):.4f}")
    print(f"neurons        : {clf.n_neurons_}")
    print(f"program gap    : {clf.relative_gap_:.2e} (convex program over the sampled patterns)")
    print("certificate (global optimality):")
    print(clf.certificate_.summary())
    path = plot_convergence(clf.history_, args.out / "convergence.png")
    print(f"convergence plot: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
