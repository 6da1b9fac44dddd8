"""The example scripts run end to end (``--fast``) and write their outputs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

pytest.importorskip("matplotlib")


def run_example(name: str, out: Path, *extra: str) -> str:
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / name), "--fast", "--out", str(out), *extra],
        capture_output=True, text=True, timeout=180,
    )
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def test_regression_uci(tmp_path: Path) -> None:
    out = run_example("regression_uci.py", tmp_path)
    assert "objective F" in out and "neurons" in out
    assert "test RMSE (convexnn)" in out and "test RMSE (MLPRegressor" in out
    assert "reloaded predictions identical: True" in out
    assert (tmp_path / "regression_model.npz").is_file()


def test_classification(tmp_path: Path) -> None:
    out = run_example("classification.py", tmp_path)
    assert "test accuracy" in out and "neurons" in out
    assert "proven lower bound" in out and "verdict" in out
    assert (tmp_path / "convergence.png").stat().st_size > 0


def test_certify_adam(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    out = run_example("certify_adam.py", tmp_path)
    assert "convex F <= Adam F: True" in out
    assert "proof of global optimality: optimal=True" in out
    assert (tmp_path / "certify_adam.json").is_file()


def test_spline_1d(tmp_path: Path) -> None:
    out = run_example("spline_1d.py", tmp_path)
    assert "optimal=True" in out and "kinks (" in out
    assert (tmp_path / "spline_1d.png").stat().st_size > 0
