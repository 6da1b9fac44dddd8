"""convexnn: globally optimal two-layer ReLU networks by exact convex reformulation."""

from .arrangements import (
    Arrangements,
    arrangements_1d,
    arrangements_from_gates,
    enumerate_arrangements,
    sample_arrangements,
)
from .certificates import Certificate, certify
from .estimators import ConvexReLUClassifier, ConvexReLURegressor
from .io import load, save
from .losses import LogisticLoss, SquaredLoss
from .network import TwoLayerReLUNetwork
from .path import ConvexReLUCV, beta_grid, beta_max, fit_path

__version__ = "0.1.0"

__all__ = [
    "Arrangements",
    "Certificate",
    "ConvexReLUCV",
    "ConvexReLUClassifier",
    "ConvexReLURegressor",
    "LogisticLoss",
    "SquaredLoss",
    "TwoLayerReLUNetwork",
    "arrangements_1d",
    "beta_grid",
    "beta_max",
    "fit_path",
    "certify",
    "load",
    "save",
    "arrangements_from_gates",
    "enumerate_arrangements",
    "sample_arrangements",
    "__version__",
]
