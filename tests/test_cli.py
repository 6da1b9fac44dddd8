"""The ``convexnn`` command line (click CliRunner; small, fast settings)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from click.testing import CliRunner

from convexnn import cli as cli_mod
from convexnn import datasets, io
from convexnn.cli import cli

FAST = ["--arrangements", "20", "--tol", "1e-3"]


@pytest.fixture()
def runner() -> CliRunner:
    return CliRunner()


def _ok(result) -> None:
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    assert "\x1b" not in result.output  # no control characters without a terminal


def _error(result) -> None:
    assert result.exit_code == 2, result.output
    assert "Error:" in result.output
    assert "Traceback" not in result.output


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    """breast_cancer, gated model (fast), saved by the CLI."""
    path = tmp_path_factory.mktemp("m") / "model.npz"
    r = CliRunner().invoke(cli, ["fit", "breast_cancer", "--model", "gated", "--arrangements",
                                 "50", "--tol", "1e-4", "--output", str(path), "--json"])
    _ok(r)
    return path, json.loads(r.stdout)


def test_fit_json_and_model_file(model_file):
    path, rep = model_file
    assert path.is_file()
    assert rep["dataset"] == "breast_cancer" and rep["task"] == "classification"
    assert rep["n_train"] + rep["n_test"] == 569 and rep["d"] == 30
    assert rep["patterns"] <= 50 and rep["neurons"] >= 1
    assert rep["test"]["accuracy"] > 0.85
    est, scaler, md = io.load_bundle(path)
    assert scaler is not None and scaler["mean"].shape == (30,)
    assert md["dataset"] == "breast_cancer" and len(md["feature_names"]) == 30


def test_fit_table_report_relu(runner, tmp_path):
    plot = tmp_path / "conv.png"
    r = runner.invoke(cli, ["fit", "wine_binary", *FAST, "--plot", str(plot)])
    _ok(r)
    for key in ("objective F", "lower bound", "relative gap", "neurons", "test accuracy",
                "converged", "patterns"):
        assert key in r.output
    pytest.importorskip("matplotlib")
    assert plot.is_file() and plot.stat().st_size > 0


def test_fit_regression_quiet(runner):
    r = runner.invoke(cli, ["fit", "spline1d", "--tol", "1e-4", "--quiet"])
    _ok(r)
    assert "RMSE" in r.output


def test_predict(runner, model_file, tmp_path):
    path, _ = model_file
    r = runner.invoke(cli, ["predict", str(path), "breast_cancer", "--json"])
    _ok(r)
    out = json.loads(r.stdout)
    assert out["part"] == "test part" and out["n"] == len(out["predictions"])
    assert out["metrics"]["accuracy"] > 0.85
    est = io.load(path)
    ds = datasets.load("breast_cancer")
    _, scaler, _ = io.load_bundle(path)
    expect = est.predict((ds.X_test - scaler["mean"]) / scaler["scale"])
    assert out["predictions"] == expect.tolist()

    pred_csv = tmp_path / "pred.csv"
    r = runner.invoke(cli, ["predict", str(path), "breast_cancer", "--output", str(pred_csv)])
    _ok(r)
    assert "accuracy" in r.output
    with pred_csv.open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(expect) and set(rows[0]) == {"prediction", "decision",
                                                          "probability"}
    assert [int(float(row["prediction"])) for row in rows] == expect.tolist()


def test_predict_table_with_and_without_target(runner, model_file, tmp_path):
    path, _ = model_file
    ds = datasets.load("breast_cancer")
    names = ds.feature_names
    table = tmp_path / "data.csv"
    with table.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([*names[::-1], "target"])  # columns reordered: matched by name
        for x, t in zip(ds.X_test, ds.y_test, strict=True):
            w.writerow([*(repr(float(v)) for v in x[::-1]), int(t)])
    r = runner.invoke(cli, ["predict", str(path), str(table), "--json"])
    _ok(r)
    assert json.loads(r.stdout)["metrics"]["accuracy"] > 0.85
    r = runner.invoke(cli, ["predict", str(path), str(table)])
    _ok(r)
    assert r.stdout.splitlines()[0] == "prediction,decision,probability"


def test_certify(runner, tmp_path):
    pytest.importorskip("convexnn.certificates")
    model = tmp_path / "spline.npz"
    _ok(runner.invoke(cli, ["fit", "spline1d", "--tol", "1e-4", "--output", str(model)]))
    r = runner.invoke(cli, ["certify", str(model), "spline1d", "--json"])
    _ok(r)
    out = json.loads(r.stdout)
    assert out["exact"] is True and out["lower_bound"] <= out["primal"] + 1e-12
    assert "dual" not in out
    r = runner.invoke(cli, ["certify", str(model), "spline1d"])
    _ok(r)
    assert "proven lower bound" in r.output and "worst neuron" in r.output

    # A bare weights file.
    weights = tmp_path / "w.npz"
    np.savez(weights, W=np.array([[1.0], [-1.0]]), b=np.array([0.1, 0.2]),
             a=np.array([0.5, -0.5]))
    r = runner.invoke(cli, ["certify", str(weights), "spline1d", "--beta", "1e-2", "--json"])
    _ok(r)
    assert json.loads(r.stdout)["primal"] > 0
    _error(runner.invoke(cli, ["certify", str(weights), "spline1d"]))  # --beta required


def test_datasets(runner, tmp_path):
    r = runner.invoke(cli, ["datasets"])
    _ok(r)
    for name in datasets.BUNDLED:
        assert name in r.output
    r = runner.invoke(cli, ["datasets", "--json"], env={"CONVEXNN_DATA_DIR": ""})
    _ok(r)
    out = json.loads(r.stdout)
    assert [d["name"] for d in out["bundled"]] == list(datasets.BUNDLED)
    r = runner.invoke(cli, ["datasets", "--data-dir", str(tmp_path), "--json"])
    _ok(r)
    assert json.loads(r.stdout)["notes"]  # empty folder: says nothing was found


def test_path(runner, tmp_path):
    plot = tmp_path / "path.png"
    args = ["path", "spline1d", "--betas", "1e-2,1e-3", "--cv", "2", "--tol", "1e-3",
            "--model", "gated", "--arrangements", "20"]
    r = runner.invoke(cli, [*args, "--json"])
    _ok(r)
    out = json.loads(r.stdout)
    assert out["betas"] == [1e-3, 1e-2] and out["best_beta"] in out["betas"]
    assert len(out["validation_error"]) == 2 and len(out["neurons"]) == 2
    pytest.importorskip("matplotlib")
    r = runner.invoke(cli, [*args, "--plot", str(plot)])
    _ok(r)
    assert "best beta" in r.output and plot.is_file()


@pytest.mark.parametrize("cmd", [[], ["fit"], ["predict"], ["certify"], ["datasets"], ["path"],
                                 ["bench"]])
def test_help(runner, cmd):
    r = runner.invoke(cli, [*cmd, "--help"])
    _ok(r)
    assert "Examples:" in r.output and "Usage:" in r.output


def test_errors(runner, tmp_path, model_file):
    _error(runner.invoke(cli, ["fit", str(tmp_path / "missing.csv")]))
    _error(runner.invoke(cli, ["fit", "wine_binary", "--beta", "0"]))
    _error(runner.invoke(cli, ["fit", "wine_binary", "--beta", "-1e-3"]))
    _error(runner.invoke(cli, ["fit", "wine_binary", "--arrangements", "many"]))
    _error(runner.invoke(cli, ["fit", "no_such_dataset"]))
    _error(runner.invoke(cli, ["fit", "diabetes", "--loss", "logistic"]))
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,target\n1,x,0\n2,y,1\n3,z,0\n")
    r = runner.invoke(cli, ["fit", str(bad)])
    _error(r)
    assert "non-numeric" in r.output
    multi = tmp_path / "multi.csv"
    multi.write_text("a,target\n" + "".join(f"{i},{i % 3}\n" for i in range(12)))
    r = runner.invoke(cli, ["fit", str(multi)])
    _error(r)
    assert "3 classes" in r.output
    _error(runner.invoke(cli, ["predict", str(bad), "breast_cancer"]))  # not a model file
    _error(runner.invoke(cli, ["predict", str(tmp_path / "none.npz"), "breast_cancer"]))
    path, _ = model_file
    _error(runner.invoke(cli, ["predict", str(path), "wine_binary"]))  # 13 vs 30 features
    _error(runner.invoke(cli, ["path", "spline1d", "--betas", "1e-3,-1"]))


def test_interrupted_fit_still_saves(runner, tmp_path, monkeypatch):
    from convexnn.estimators import ConvexReLURegressor

    original = ConvexReLURegressor.fit

    def interrupted_fit(self, X, y):
        original(self, X, y)
        self.status_, self.converged_ = "INTERRUPTED", False
        return self

    monkeypatch.setattr(ConvexReLURegressor, "fit", interrupted_fit)
    out = tmp_path / "partial.npz"
    r = runner.invoke(cli, ["fit", "spline1d", "--tol", "1e-3", "--output", str(out)])
    _ok(r)
    assert "interrupted" in r.output.lower() and out.is_file()
    assert io.load(out).status_ == "INTERRUPTED"

    def raising_fit(self, X, y):
        raise KeyboardInterrupt

    monkeypatch.setattr(ConvexReLURegressor, "fit", raising_fit)
    r = runner.invoke(cli, ["fit", "spline1d", "--output", str(tmp_path / "none.npz")])
    _error(r)
    assert not (tmp_path / "none.npz").exists()


def test_bench_without_checkout(runner, monkeypatch):
    monkeypatch.setattr(cli_mod, "_bench_script", lambda: None)
    r = runner.invoke(cli, ["bench"])
    _error(r)
    assert "source checkout" in r.output


def test_progress_callback_used_when_supported(monkeypatch):
    """On a terminal the live display is passed as ``callback`` if the estimator has one."""
    from convexnn.estimators import ConvexReLURegressor

    est = ConvexReLURegressor(1e-2, model="gated", arrangements=5, tol=1e-3)
    X = np.random.default_rng(0).standard_normal((20, 2))
    notes, interrupted = cli_mod._fit_with_progress(est, X, X[:, 0], show=False, label="t")
    assert not interrupted and hasattr(est, "objective_")
    if "callback" in est.get_params():
        assert est.get_params()["callback"] is None


def test_fit_plot_fit_1d_and_predictions(tmp_path):
    from click.testing import CliRunner

    runner = CliRunner()
    p1 = tmp_path / "fit1d.png"
    r = runner.invoke(cli, ["fit", "spline1d", "--plot-fit", str(p1), "-q"])
    assert r.exit_code == 0, r.output
    assert p1.stat().st_size > 0
    p2 = tmp_path / "pred.png"
    r = runner.invoke(cli, ["fit", "wine_binary", "--arrangements", "30", "--plot-fit", str(p2),
                             "-q"])
    assert r.exit_code == 0, r.output
    assert p2.stat().st_size > 0
