"""Solvers for the convex programs; one solver per module.

* :mod:`.fista` -- accelerated proximal gradient with restarts for the gated model (group lasso).
* :mod:`.active_set` -- primal active-set Newton method with pricing over all patterns (exact;
  the ReLU model's default for warm starts).
* :mod:`.interior_point` -- structured primal-dual interior point (Woodbury Newton systems).
* :mod:`.gated_hybrid`, :mod:`.relu_hybrid` -- interior point, screening, sparse polish (the
  defaults on small data).
* :mod:`.relu_fista` -- FISTA with exact cone projections for the ReLU model.
* :mod:`.working_set` -- working set of patterns around an inner solver, global gap certificate.
* :mod:`.admm` -- first-order ADMM with a cached Woodbury solve for the ReLU model.
* :mod:`.augmented_lagrangian` -- method of multipliers for the cone-constrained ReLU model.
* :mod:`.clarabel_solver` -- Clarabel interior point called directly (no CVXPY).
* :mod:`.cvxpy_solver` -- CVXPY + Clarabel reference (small problems, tests).
"""

from ._result import SolverResult, SolverStatus

__all__ = ["SolverResult", "SolverStatus"]
