"""1-D regression: the globally optimal two-layer ReLU network is a linear spline.

What it shows
-------------
* With one input and a hidden bias (design ``[x, 1]``, rank 2) the activation patterns are
  exactly the ``2n`` thresholds ``1[x >= x_k]`` and ``1[x <= x_k]``, so
  ``ConvexReLURegressor(arrangements="exact")`` enumerates *all* of them and its solution is
  the global optimum of the nonconvex weight-decay problem (SPEC §0); ``certificate_.optimal``
  proves it.
* The fitted network is a linear spline with kinks at ``x = -b_j / w_j``. The script prints the
  number of neurons, the kink locations and each kink's distance to the nearest data point, and
  plots data, fit and kinks with ``convexnn.plotting.plot_fit_1d`` (``OUT/spline_1d.png``).

An honest note on the kinks: the classical result "kinks only at data points" holds for an
*unregularized* bias. Here the hidden bias is regularized like the weights (the ones column of
SPEC §0), and then the kinks of an optimal network need **not** be at data points — by
complementary slackness each neuron maximizes ``|mu*^T (X u)_+|`` and that maximizer is
generically interior to its pattern cone, i.e. its kink lies strictly between two data points
(measured by this project's certificate engineer; see ``convexnn.closed_forms.spline_1d``). The
distances printed below show it.

Data: ``datasets.load_bundled("spline1d")`` (60 points, ``y = sin(2x) + noise``), no data
folder needed; ``--fast`` uses its first 30 points.

Run::

    .venv/bin/python examples/spline_1d.py --out /tmp/spline
    .venv/bin/python examples/spline_1d.py --fast --out /tmp/spline   # small settings
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from convexnn import ConvexReLURegressor, datasets
from convexnn.plotting import plot_fit_1d


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="small settings (test suite)")
    parser.add_argument("--beta", type=float, default=1e-3)
    parser.add_argument("--out", type=Path, default=Path("examples_out"),
                        help="folder for spline_1d.png")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    ds = datasets.load_bundled("spline1d")
    x = np.concatenate([ds.X_train[:, 0], ds.X_test[:, 0]])
    y = np.concatenate([ds.y_train, ds.y_test])
    if args.fast:
        x, y = x[:30], y[:30]
    X = x[:, None]
    print(f"data: spline1d, n={x.size} points on [{x.min():.2f}, {x.max():.2f}], "
          f"beta={args.beta:g}")

    t0 = time.perf_counter()
    est = ConvexReLURegressor(beta=args.beta, arrangements="exact").fit(X, y)
    elapsed = time.perf_counter() - t0
    net = est.network_
    cert = est.certificate_
    print(f"patterns enumerated : {est.n_arrangements_} (the 2n = {2 * x.size} thresholds, "
          "duplicates removed)")
    print(f"objective F         : {est.objective_:.8g}  ({elapsed:.1f} s)")
    print(f"neurons             : {est.n_neurons_}")
    print(f"certificate         : relative gap {cert.relative_gap:.2e}, exact={cert.exact}, "
          f"optimal={cert.optimal}")

    w = net.hidden_weights[:, 0]
    b = net.hidden_bias
    nz = w != 0
    kinks = np.sort(-b[nz] / w[nz])
    inside = kinks[(kinks >= x.min()) & (kinks <= x.max())]
    dist = np.array([np.min(np.abs(x - k)) for k in inside])
    spacing = float(np.median(np.diff(np.sort(x))))
    print(f"kinks ({kinks.size}, {np.unique(np.round(kinks, 8)).size} distinct, "
          f"{inside.size} inside the data range):")
    print("  " + ", ".join(f"{k:.4f}" for k in kinks))
    if inside.size:
        print(f"distance of each inside kink to the nearest data point (median data spacing "
              f"{spacing:.3g}):")
        print("  " + ", ".join(f"{v:.1e}" for v in dist))
        at_data = int(np.sum(dist < 1e-6))
        print(f"kinks at a data point (within 1e-6): {at_data} of {inside.size}; "
              f"{inside.size - at_data} strictly between data points (regularized hidden bias)")
    path = plot_fit_1d(x, y, net, args.out / "spline_1d.png")
    print(f"plot: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
