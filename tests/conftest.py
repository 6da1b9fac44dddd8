import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


def data_dir() -> Path | None:
    env = os.environ.get("CONVEXNN_DATA_DIR")
    p = Path(env) if env else REPO.parent / "shared" / "datasets"
    return p if p.is_dir() else None


@pytest.fixture
def shared_data() -> Path:
    p = data_dir()
    if p is None:
        pytest.skip("shared datasets folder not available")
    return p


def random_instance(n: int, d: int, seed: int, loss: str = "squared"):
    """Random regression/classification data (without the bias column)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    w = rng.standard_normal(d)
    f = np.maximum(X @ w + 0.3, 0) - 0.5 * np.maximum(-X @ w, 0) + 0.3 * rng.standard_normal(n)
    if loss == "logistic":
        y = np.where(f > np.median(f), 1.0, -1.0)
    else:
        y = f
    return X, y


def planted_instance(n: int, seed: int, loss: str, d: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Data with a ones column (last) and targets from a planted two-neuron ReLU network:
    noisy values (squared loss) or ±1 labels split at the median (logistic loss)."""
    rng = np.random.default_rng(seed)
    X = np.column_stack([rng.standard_normal((n, d - 1)), np.ones(n)])
    f = np.maximum(X @ rng.standard_normal(d), 0) - 0.5 * np.maximum(X @ rng.standard_normal(d), 0)
    if loss == "squared":
        y = f + 0.1 * rng.standard_normal(n)
    else:
        y = np.where(f + 0.3 * rng.standard_normal(n) > np.median(f), 1.0, -1.0)
    return X, y
