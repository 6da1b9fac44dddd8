"""Regression on a UCI benchmark set with ``ConvexReLURegressor`` (and a model file round trip).

What it shows
-------------
* A ``ConvexReLURegressor`` inside a scikit-learn ``Pipeline`` with a ``StandardScaler``: the
  estimator never rescales data by itself, so the scaler is part of the model. The targets are
  standardized by hand (mean/std of the training part) so that ``beta`` has a scale-free meaning;
  predictions are mapped back to the original units before the RMSE is computed.
* The fitted objective ``F`` (SPEC §0, on the standardized problem), the number of neurons, the
  duality gap of the convex program over the sampled patterns (``relative_gap_``) and the
  global-optimality certificate (``certificate_``: a proven gap, and a search estimate that is
  *not* a proof on this high-rank data).
* Test RMSE against scikit-learn's ``MLPRegressor`` (Adam, same number of hidden units).
* Saving with ``convexnn.save`` (the scaler is stored with the model) and reloading with
  ``convexnn.io.load_bundle``; the reloaded model's predictions are checked to be identical.

Data: ``uci-reg:yacht`` (or ``--dataset concrete``) from the shared ``uci_regression``
collection (Gal & Ghahramani splits, split 0). The data folder is ``--data-dir``, else the
``CONVEXNN_DATA_DIR`` environment variable, else ``../shared/datasets`` next to the repository.
If it is missing, the script falls back to scikit-learn's bundled diabetes set and says so.

Run::

    .venv/bin/python examples/regression_uci.py --out /tmp/reg
    .venv/bin/python examples/regression_uci.py --fast --out /tmp/reg   # small settings
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import convexnn
from convexnn import ConvexReLURegressor, datasets
from convexnn.io import load_bundle

REPO_ROOT = Path(__file__).resolve().parents[1]


def default_data_dir() -> Path:
    env = os.environ.get("CONVEXNN_DATA_DIR")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "datasets"


def load_data(name: str, data_dir: Path) -> datasets.Dataset:
    try:
        return datasets.load(f"uci-reg:{name}", data_dir=data_dir)
    except (FileNotFoundError, ValueError) as exc:
        print(f"NOTE: uci-reg:{name} not found under {data_dir} ({exc}).")
        print("NOTE: falling back to the bundled scikit-learn diabetes set.")
        return datasets.load_bundled("diabetes", standardize=False)


def rmse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(a) - np.asarray(b)) ** 2)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="small settings (test suite)")
    parser.add_argument("--data-dir", type=Path, default=default_data_dir(),
                        help="the shared 'datasets' folder (default: $CONVEXNN_DATA_DIR or "
                             "../shared/datasets)")
    parser.add_argument("--dataset", default="yacht", choices=["yacht", "concrete"])
    parser.add_argument("--beta", type=float, default=1e-3)
    parser.add_argument("--out", type=Path, default=Path("examples_out"),
                        help="folder for the model file")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    n_patterns = 20 if args.fast else 100

    ds = load_data(args.dataset, args.data_dir)
    X_tr, X_te = ds.X_train, ds.X_test
    y_tr, y_te = ds.y_train.astype(float), ds.y_test.astype(float)
    if args.fast:  # a 150-point training subsample keeps the test suite quick
        X_tr, y_tr = X_tr[:150], y_tr[:150]
    print(f"dataset: {ds.name}  train {X_tr.shape}  test {X_te.shape}")
    # The estimator does not rescale anything: standardize y by hand (X goes through the
    # pipeline's StandardScaler; the UCI loader already standardizes X, the scaler keeps the
    # example correct for raw inputs as well).
    y_mean, y_std = float(y_tr.mean()), float(y_tr.std())
    z_tr = (y_tr - y_mean) / y_std

    pipe = make_pipeline(
        StandardScaler(),
        ConvexReLURegressor(beta=args.beta, arrangements=n_patterns, random_state=0),
    )
    t0 = time.perf_counter()
    pipe.fit(X_tr, z_tr)
    t_convex = time.perf_counter() - t0
    est = pipe[-1]
    pred = pipe.predict(X_te) * y_std + y_mean
    cert = est.certificate_
    print(f"convex fit: {n_patterns} sampled patterns, beta={args.beta:g}, {t_convex:.1f} s")
    print(f"  objective F              : {est.objective_:.6g}")
    print(f"  neurons                  : {est.n_neurons_}")
    print(f"  gap (program, patterns)  : {est.relative_gap_:.2e}  (converged={est.converged_})")
    print(f"  certified global gap     : {cert.relative_gap:.3e} (proof; loose bound on g)")
    print(f"  estimated global gap     : {cert.estimated_relative_gap:.3e} (search, not a proof)")
    print(f"  test RMSE (convexnn)     : {rmse(pred, y_te):.4f}")

    width = max(est.n_neurons_, 1)
    mlp = make_pipeline(StandardScaler(), MLPRegressor(
        hidden_layer_sizes=(width,), alpha=args.beta, max_iter=300 if args.fast else 3000,
        random_state=0))
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp.fit(X_tr, z_tr)
    t_mlp = time.perf_counter() - t0
    pred_mlp = mlp.predict(X_te) * y_std + y_mean
    print(f"  test RMSE (MLPRegressor, {width} units, Adam): {rmse(pred_mlp, y_te):.4f} "
          f"({t_mlp:.1f} s)")

    path = convexnn.save(est, args.out / "regression_model.npz", scaler=pipe[0],
                         metadata={"dataset": ds.name, "y_mean": y_mean, "y_std": y_std})
    loaded, scaler, meta = load_bundle(path)
    assert scaler is not None
    pred_loaded = loaded.predict((X_te - scaler["mean"]) / scaler["scale"])
    pred_loaded = pred_loaded * meta["y_std"] + meta["y_mean"]
    identical = bool(np.array_equal(pred_loaded, pred))
    print(f"saved to {path}; reloaded predictions identical: {identical}")
    return 0 if identical else 1


if __name__ == "__main__":
    raise SystemExit(main())
