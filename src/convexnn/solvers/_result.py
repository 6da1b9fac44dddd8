"""The result object every solver returns, and its status codes."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

__all__ = ["SolverStatus", "SolverResult", "chain_results"]


class SolverStatus(enum.Enum):
    """Why a solver stopped; ``.message`` is a readable explanation."""

    CONVERGED = "converged: the optimality criterion is below the tolerance"
    MAX_ITER = "stopped at max_iter before reaching the tolerance; raise max_iter or tol"
    TIME_LIMIT = "stopped at the time limit before reaching the tolerance"
    STALLED = ("stopped: no further progress at the working precision (its round-off floor) "
               "before reaching the tolerance; use float64 or a looser tol")
    INTERRUPTED = "interrupted by the user; the best iterate so far is kept"
    NUMERICAL_ERROR = "a non-finite value appeared; the last finite iterate is kept"
    SOLVER_ERROR = "the external solver reported a failure"

    @property
    def message(self) -> str:
        return self.value

    @property
    def converged(self) -> bool:
        return self is SolverStatus.CONVERGED


@dataclass
class SolverResult:
    """Solution of a convex program over a fixed pattern set.

    Attributes
    ----------
    V : array of shape (P, d)
        Positive (or gated) blocks ``v_i``.
    W : array of shape (P, d) or None
        Negative blocks ``w_i`` of the ReLU model (None for the gated model).
    objective : float
        Convex objective at the solution (SPEC §0 scaling).
    lower_bound : float
        A dual value: a lower bound on the program's optimum (``-inf`` if unknown).
    criterion : float
        The stopping criterion at the end (relative duality gap, or KKT residual).
    n_iter : int
    status : SolverStatus
    history : list of dict
        Per-check records: ``time``, ``iter``, ``objective``, ``lower_bound``, ``criterion``.
    dual : array of shape (n,) or None
        The dual point ``mu`` (``-grad L`` at the solution, scaled to be dual feasible).
    info : dict
        Solver-specific extras (e.g. constraint violation, multipliers).
    """

    V: Any
    W: Any
    objective: float
    lower_bound: float
    criterion: float
    n_iter: int
    status: SolverStatus
    history: list[dict[str, float]] = field(default_factory=list)
    dual: Any = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def converged(self) -> bool:
        return self.status.converged


def chain_results(first: SolverResult, second: SolverResult, t_first: float,
                  info: dict[str, Any]) -> SolverResult:
    """The result of a two-phase solve: ``second`` started from ``first``'s point.

    ``second``'s history times are shifted by ``t_first`` (the first phase's duration) so the
    merged history counts from the start; iterations add up. If ``second`` did not finish
    (time or iteration limit) and ``first`` is certified to a smaller criterion, ``first`` is
    returned instead (with the merged ``info``). ``info`` is added to the returned ``info``.
    """
    res = second
    if not second.status.converged and first.status.converged \
            and first.criterion < second.criterion:
        res = first
    hist = list(first.history)
    if res is not first:
        hist += [dict(r, time=r["time"] + t_first) for r in second.history]
    return SolverResult(
        V=res.V, W=res.W, objective=res.objective, lower_bound=res.lower_bound,
        criterion=res.criterion, n_iter=first.n_iter + (0 if res is first else res.n_iter),
        status=res.status, history=hist, dual=res.dual, info={**res.info, **info},
    )
