"""Solvers for the convex programs; one solver per module.

* :mod:`.fista` -- accelerated proximal gradient with restarts for the gated model (group lasso).
* :mod:`.augmented_lagrangian` -- method of multipliers for the cone-constrained ReLU model.
* :mod:`.cvxpy_solver` -- CVXPY + Clarabel reference (small problems, tests).
"""

from ._result import SolverResult, SolverStatus

__all__ = ["SolverResult", "SolverStatus"]
