"""Plots are written as non-empty PNG files (convexnn.plotting)."""

from __future__ import annotations

import os

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from convexnn import plotting  # noqa: E402
from convexnn.network import TwoLayerReLUNetwork  # noqa: E402

PNG = b"\x89PNG"


def _ok(path, tmp_path) -> None:
    assert path.is_file() and path.stat().st_size > 1000
    assert path.read_bytes()[:4] == PNG
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]


def test_plot_convergence(tmp_path):
    hist = [{"time": 0.01 * (k + 1), "iter": k, "objective": 1.0 / (k + 1) + 0.5,
             "lower_bound": 0.5 - 1.0 / (k + 2), "criterion": 10.0 ** -k, "n_active": k}
            for k in range(6)]
    _ok(plotting.plot_convergence(hist, tmp_path / "conv.png"), tmp_path)
    with pytest.raises(ValueError, match="empty"):
        plotting.plot_convergence([], tmp_path / "x.png")


def test_plot_path(tmp_path):
    _ok(plotting.plot_path([1e-4, 1e-3, 1e-2], [0.2, 0.1, 0.3], [30, 12, 3],
                           tmp_path / "path.png"), tmp_path)
    with pytest.raises(ValueError):
        plotting.plot_path([1e-3], [0.1, 0.2], [3], tmp_path / "bad.png")


def test_plot_predictions(tmp_path):
    rng = np.random.default_rng(0)
    y = rng.standard_normal(50)
    _ok(plotting.plot_predictions(y, y + 0.1 * rng.standard_normal(50), tmp_path / "pred.png"),
        tmp_path)


def test_plot_fit_1d(tmp_path):
    net = TwoLayerReLUNetwork(np.array([[1.0], [-2.0], [0.5]]), np.array([0.2, 0.4, -0.3]),
                              np.array([1.0, 0.5, -1.0]))
    x = np.linspace(-2, 2, 30)
    _ok(plotting.plot_fit_1d(x, np.sin(x), net, tmp_path / "fit.png"), tmp_path)
    with pytest.raises(ValueError, match="one input"):
        plotting.plot_fit_1d(x, x, TwoLayerReLUNetwork(np.ones((2, 2)), None, np.ones(2)),
                             tmp_path / "bad.png")


def test_plot_first_layer(tmp_path):
    rng = np.random.default_rng(0)
    net = TwoLayerReLUNetwork(rng.standard_normal((5, 16)), None, rng.standard_normal(5))
    _ok(plotting.plot_first_layer(net, (4, 4), tmp_path / "layer.png"), tmp_path)
    with pytest.raises(ValueError, match="pixels"):
        plotting.plot_first_layer(net, (3, 3), tmp_path / "bad.png")
