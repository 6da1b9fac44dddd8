"""scikit-learn estimators that fit two-layer ReLU networks by their exact convex programs.

``ConvexReLURegressor`` and ``ConvexReLUClassifier`` (binary) minimize, over the activation
patterns chosen by ``arrangements``, the convex program of [PE20]_ (``model="relu"``) or the gated
ReLU program of [MSP22]_ (``model="gated"``), in the scaling of SPEC §0::

    F = (1/n) sum_k l(f(x_k), y_k) + (beta/2) (||W||_F^2 + ||b||^2 + ||a||^2).

With every pattern present (``arrangements="exact"``, low-rank data) the ReLU program's optimum
*is* the global optimum of the nonconvex network; with a subset it is an upper bound, attained by
the returned network.

The estimators do not rescale the data: ``objective_`` and ``network_`` refer to ``X`` as
passed to ``fit`` (use a ``Pipeline`` with ``StandardScaler``).

.. [PE20] Pilanci & Ergen, Neural Networks are Convex Regularizers, ICML 2020.
.. [MSP22] Mishkin, Sahiner & Pilanci, Fast Convex Optimization for Two-Layer ReLU Networks,
   ICML 2022.
"""

from __future__ import annotations

import time
import warnings
from numbers import Integral, Real
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted, validate_data

from ._backend import blas_threads, resolve_dtype, to_backend, to_numpy
from .arrangements import (
    Arrangements,
    arrangements_from_gates,
    enumerate_arrangements,
    max_arrangements,
    numerical_rank,
    sample_arrangements,
)
from .losses import get_loss
from .network import TwoLayerReLUNetwork, recover_network
from .solvers._result import SolverResult, SolverStatus

__all__ = ["ConvexReLURegressor", "ConvexReLUClassifier"]

#: "auto" enumerates the patterns exactly when the bound of SPEC §1 is at most this.
AUTO_EXACT_LIMIT = 1000
#: Otherwise "auto" samples this many gate vectors for the gated model.
AUTO_SAMPLES = 500
#: The ReLU model's default at high rank is the hybrid pattern discovery of
#: ``_column_generation``; its settings:
#: Gaussian gate vectors sampled into the initial pattern set.
CG_INITIAL = 32
#: The seed: full-batch Adam (NumPy, :func:`convexnn.nonconvex.train_adam_numpy`) on the
#: nonconvex network of width ``min(CG_SEED_WIDTH, 2 n)``, one run per learning rate, this
#: many steps; the patterns of the best run start the convex program.
#: Measured on statlog-heart (squared; F of the program over one run's patterns): width 100,
#: 2000 steps, lr 3e-2 -> 0.12006; width 200, 4000 steps, lr 1e-2 -> 0.11954 (lr 3e-2:
#: 0.12022); the Adam grid's best was 0.11997 (width 262).
CG_SEED_WIDTH = 200
CG_SEED_STEPS = 4000
CG_SEED_LRS = (1e-2,)
#: If positive, the patterns of the seed's iterates every this many steps are added too (off:
#: on statlog-heart they multiplied the patterns by 5 and made the first solve 10x slower).
CG_SEED_SNAPSHOT = 0
#: Each round refines the recovered network by this many Adam steps at this step size; the
#: best iterate's patterns are added. Measured (statlog-heart, squared, 3 rounds): from the
#: convex solution Adam's best iterate was its start at step sizes 3e-3 to 3e-2 and 500 to
#: 2000 steps, so the rounds' gains came from the oracle's neurons; adding the patterns of
#: the last iterate too (``CG_REFINE_SNAPSHOT = CG_REFINE_STEPS``) lowered F after 3 rounds
#: by 0.16 % (0.119237 -> 0.119046) for 40 % more time (larger solves).
CG_REFINE_STEPS = 500
CG_REFINE_LR = 3e-3
#: As ``CG_SEED_SNAPSHOT``, for the refinement runs.
CG_REFINE_SNAPSHOT = 0
#: Groups below this fraction of the largest group norm count as zero (dropped after two
#: rounds, left out of the refined network).
CG_ACTIVE_TOL = 1e-6
#: Search-oracle violators added per round (at most), each violating by more than
#: ``CG_ADD_TOL`` (relative to beta). 8 instead of 32: F 0.119342 instead of 0.119237 after 3
#: rounds (statlog-heart); 64 gave the same as 32 (the search returns few distinct ones).
CG_ADD = 32
CG_ADD_TOL = 1e-4
#: Stop: after this many refinement rounds, when a round improves ``F`` by less than
#: ``CG_STALL`` (relative), or when the next round (estimated at 1.5 times the last one) would
#: end after the time budget. The budget (seconds from the start of ``fit``) is
#: ``CG_BUDGET_SEED_RUNS`` times the duration of the seed's Adam runs, clipped to
#: ``[CG_MIN_TIME, CG_TIME_BUDGET]`` -- about the cost of a few nonconvex trainings, so the
#: fit stays cheaper than a learning-rate x seed grid of them; ``time_limit`` replaces it
#: when set. The first convex solve always runs.
CG_MAX_ROUNDS = 10
CG_STALL = 1e-4
#: ... or when the search oracle finds no neuron with ``|mu^T (X u)_+| > beta (1 + this)``.
CG_VIOLATION_TOL = 1e-6
CG_BUDGET_SEED_RUNS = 10.0
CG_MIN_TIME = 10.0
CG_TIME_BUDGET = 300.0
#: Problems with ``n * d`` at most this run the loop with one BLAS thread.
CG_SINGLE_THREAD_SIZE = 200_000


#: Iteration cap of ``solver="ipm"`` (it needs 20-30 on UCI-sized programs).
IPM_MAX_ITER = 200


def _add_intercept(X: np.ndarray) -> np.ndarray:
    return np.column_stack([X, np.ones(X.shape[0])])


class _BaseConvexReLU(BaseEstimator):
    _parameter_constraints: dict[str, list[Any]] = {
        "beta": [Interval(Real, 0, None, closed="neither")],
        "model": [StrOptions({"relu", "gated"})],
        "loss": [StrOptions({"squared", "logistic"})],
        "arrangements": [StrOptions({"auto", "exact"}), Interval(Integral, 1, None, closed="left"),
                         "array-like", Arrangements, TwoLayerReLUNetwork],
        "solver": [StrOptions({"auto", "ipm", "newton", "fista", "admm", "al", "clarabel",
                               "cvxpy"})],
        "callback": [callable, None],
        "fit_intercept": ["boolean"],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="neither")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "dtype": [StrOptions({"float32", "float64"})],
        "device": [str],
        "prune_tol": [Interval(Real, 0, 1, closed="left"), StrOptions({"auto"})],
        "warm_start": ["boolean"],
        "time_limit": [Interval(Real, 0, None, closed="neither"), None],
    }

    def __init__(
        self,
        beta: float = 1e-3,
        *,
        model: str = "relu",
        loss: str = "squared",
        arrangements: Any = "auto",
        solver: str = "auto",
        fit_intercept: bool = True,
        max_iter: int = 10_000,
        tol: float = 1e-6,
        random_state: Any = None,
        verbose: int = 0,
        dtype: str = "float64",
        device: str = "cpu",
        prune_tol: float | str = "auto",
        warm_start: bool = False,
        time_limit: float | None = None,
        callback: Any = None,
    ) -> None:
        self.beta = beta
        self.model = model
        self.loss = loss
        self.arrangements = arrangements
        self.solver = solver
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state
        self.verbose = verbose
        self.dtype = dtype
        self.device = device
        self.prune_tol = prune_tol
        self.warm_start = warm_start
        self.time_limit = time_limit
        self.callback = callback

    # ------------------------------------------------------------------ patterns
    def _design(self, X: np.ndarray) -> np.ndarray:
        return _add_intercept(X) if self.fit_intercept else X

    def _build_arrangements(self, Xd: np.ndarray) -> Arrangements:
        arr = self.arrangements
        n, d = Xd.shape
        if isinstance(arr, Arrangements):
            if arr.n_samples != n:
                raise ValueError(
                    f"the given Arrangements were built on {arr.n_samples} samples, X has {n}; "
                    "rebuild them on this X (or pass their gate vectors arr.gates)"
                )
            gates = arr.gates
            if gates.shape[0] != d:
                raise ValueError(f"the given Arrangements have gates of dimension {gates.shape[0]}, "
                                 f"expected {d} (features{' + bias' if self.fit_intercept else ''})")
            return arrangements_from_gates(Xd, gates, method=arr.method)
        if isinstance(arr, TwoLayerReLUNetwork):
            gates = arr.gates()
            if gates.shape[0] != d:
                raise ValueError(
                    f"the seeding network's gates have dimension {gates.shape[0]} but the design "
                    f"has {d} columns; a network with a hidden bias needs fit_intercept=True"
                )
            return arrangements_from_gates(Xd, gates, method="network")
        if isinstance(arr, str):
            if arr == "exact":
                return enumerate_arrangements(Xd)
            r = numerical_rank(Xd)
            if max_arrangements(n, r) <= AUTO_EXACT_LIMIT:
                return enumerate_arrangements(Xd)
            if self.model == "relu":
                # A few sampled patterns; _column_generation adds the seed network's.
                return sample_arrangements(Xd, CG_INITIAL, self.random_state)
            return sample_arrangements(Xd, AUTO_SAMPLES, self.random_state)
        if isinstance(arr, (Integral, np.integer)) and not isinstance(arr, bool):
            return sample_arrangements(Xd, int(arr), self.random_state)
        gates = np.asarray(arr, dtype=np.float64)
        if gates.ndim != 2 or gates.shape[0] != d:
            raise ValueError(
                f"arrangements given as gate vectors must have shape (d, P) = ({d}, P) "
                f"(the {X_desc(self.fit_intercept)}), got {gates.shape}"
            )
        return arrangements_from_gates(Xd, gates)

    # ------------------------------------------------------------------ solving
    def _solve(self, Xd: np.ndarray, y: np.ndarray, arr: Arrangements, U0: Any,
               time_limit: float | None = None) -> SolverResult:
        from .solvers.augmented_lagrangian import solve_relu_al
        from .solvers.fista import solve_gated_fista
        from .solvers.working_set import solve_working_set

        loss = get_loss(self.loss)
        dtype = resolve_dtype(self.dtype)
        tl = self.time_limit if time_limit is None else time_limit
        use_torch = self.device != "cpu"
        # device="torch" is PyTorch on the CPU (the code path a GPU runs, testable anywhere).
        tdev = "cpu" if self.device == "torch" else self.device
        solver = self.solver
        if solver == "cvxpy":
            from .solvers.cvxpy_solver import solve_cvxpy

            return solve_cvxpy(Xd, y, arr.masks(), self.beta, model=self.model, loss=self.loss,
                               tol=min(self.tol * 1e-2, 1e-8))
        Xb = to_backend(Xd, device=tdev, dtype=dtype, torch=use_torch)
        yb = to_backend(y, device=tdev, dtype=dtype, torch=use_torch)
        # Masks stay boolean (the solvers convert the columns they use; a float copy of all
        # n x P masks would cost 8 bytes per entry before the solve starts).
        Mb = to_backend(arr.masks(), device=tdev, dtype="bool", torch=use_torch)
        if U0 is not None:
            U0 = to_backend(U0, device=tdev, dtype=dtype, torch=use_torch)
        callback = self.callback or (_Progress(self.verbose) if self.verbose else None)
        common: dict[str, Any] = {"tol": self.tol, "max_iter": self.max_iter,
                                  "time_limit": tl,
                  "callback": callback}
        if solver == "ipm":
            from .solvers.interior_point import solve_ipm

            return solve_ipm(Xd, y, arr.masks(), loss, self.beta, model=self.model,
                             gates=arr.gates, U0=None if U0 is None else to_numpy(U0),
                             tol=self.tol, max_iter=min(self.max_iter, IPM_MAX_ITER),
                             time_limit=tl, callback=callback)
        from .solvers.relu_hybrid import MIN_TOL, solve_relu_hybrid, use_relu_hybrid

        if (solver == "auto" and self.model == "relu" and not use_torch and U0 is None
                and self.tol >= MIN_TOL):
            # Cold ReLU solves: the interior point + sparse polish on small data, FISTA beyond
            # (measured in solvers/relu_hybrid.py; the active-set method was 2-5x slower cold:
            # kin8nm 85 s vs 17.7 s, and on spambase it reached F 0.370 vs 0.215 in 100 s).
            # Warm starts and very tight tolerances stay with the active-set method below.
            n_, d_ = Xd.shape
            if use_relu_hybrid(n_, d_, arr.n_patterns, loss.name):
                return solve_relu_hybrid(Xd, y, arr.masks(), loss, self.beta, gates=arr.gates,
                                         tol=self.tol, max_iter=self.max_iter, time_limit=tl,
                                         callback=callback)
            solver = "fista"
        if solver == "newton" or (solver == "auto" and self.model == "relu" and not use_torch):
            from .solvers.active_set import solve_active_set

            return solve_active_set(Xd, y, arr.masks(), loss, self.beta, model=self.model,
                                    gates=arr.gates, U0=None if U0 is None else to_numpy(U0),
                                    **common)
        if self.model == "gated" and solver == "auto" and not use_torch:
            from .solvers.gated_hybrid import solve_gated_hybrid, use_hybrid

            n_, d_ = Xd.shape
            if use_hybrid(n_, d_, arr.n_patterns):
                return solve_gated_hybrid(Xd, y, arr.masks(), loss, self.beta, gates=arr.gates,
                                          tol=self.tol, max_iter=self.max_iter, time_limit=tl,
                                          callback=callback)
        if self.model == "gated":
            if solver not in ("auto", "fista"):
                raise ValueError(f"solver={solver!r} does not solve the gated model; use "
                                 "'auto', 'fista', 'newton' or 'cvxpy'")
            return solve_working_set(Xb, yb, Mb, loss, self.beta, model="gated",
                                     inner=solve_gated_fista, U0=U0, **common)
        if solver == "admm":
            from .solvers.admm import solve_relu_admm

            return solve_relu_admm(Xd, y, arr.masks(), loss, self.beta,
                                   U0=None if U0 is None else to_numpy(U0), tol=self.tol,
                                   max_iter=self.max_iter, time_limit=tl,
                                   callback=callback)
        if solver == "al" or (solver == "auto" and use_torch):
            return solve_relu_al(Xb, yb, Mb, loss, self.beta, U0=U0, tol=self.tol,
                                 max_iter=self.max_iter, time_limit=tl,
                                 callback=callback)
        if solver == "fista":
            from .solvers.relu_fista import solve_relu_fista

            if use_torch:
                raise ValueError("solver='fista' for the ReLU model runs on NumPy arrays only "
                                 "(its exact cone projections are NNLS calls); use "
                                 "device='cpu', or solver='al' on PyTorch")
            return solve_relu_fista(Xd, y, arr.masks(), loss, self.beta,
                                    U0=None if U0 is None else to_numpy(U0), tol=self.tol,
                                    max_iter=self.max_iter, time_limit=tl, callback=callback)
        from .solvers.clarabel_solver import solve_clarabel

        def inner(X_, y_, m_, loss_, beta_, *, U0=None, tol=1e-8, max_iter=200, time_limit=None):
            return solve_clarabel(X_, y_, m_, beta_, model="relu", loss=loss_.name,
                                  tol=min(max(tol, 1e-12), 1e-8))

        return solve_working_set(Xb, yb, Mb, loss, self.beta, model="relu", inner=inner,
                                 U0=U0, **common)

    def _fit(self, X: Any, y: np.ndarray) -> _BaseConvexReLU:
        t0 = time.perf_counter()
        Xd = self._design(X)
        warm = self.warm_start and hasattr(self, "solver_result_") and hasattr(self, "arrangements_")
        prev_arr: Arrangements | None = getattr(self, "arrangements_", None)
        prev_res: SolverResult | None = getattr(self, "solver_result_", None)
        prev_model: str | None = getattr(self, "_fitted_model", None)
        arr = self._build_arrangements(Xd)
        U0 = None
        if (warm and prev_arr is not None and prev_res is not None
                and prev_arr.n_samples == Xd.shape[0] and self.model == prev_model):
            # Warm start: keep the previous patterns (their groups first) and solution.
            prev = prev_arr
            arr = prev.union(arr)
            res = prev_res
            V0 = np.zeros((arr.n_patterns, Xd.shape[1]))
            V0[: prev.n_patterns] = to_numpy(res.V)
            if self.model == "relu":
                W0 = np.zeros_like(V0)
                W0[: prev.n_patterns] = to_numpy(res.W)
                U0 = np.concatenate([V0, W0])
            else:
                U0 = V0
        self.column_generation_: list[dict[str, Any]] | None = None
        if (isinstance(self.arrangements, str) and self.arrangements == "auto" and not arr.exact
                and self.model == "relu"):
            res, arr = self._column_generation(Xd, y, arr, U0, t0)
        else:
            res = self._solve(Xd, y, arr, U0)
        self.network_: TwoLayerReLUNetwork | None
        self.arrangements_ = arr
        self.n_arrangements_ = arr.n_patterns
        self.solver_result_ = res
        self._fitted_model = self.model
        self.n_iter_ = int(res.n_iter)
        self.converged_ = bool(res.converged)
        self.status_ = res.status.name
        self.history_ = list(res.history)
        self.lower_bound_ = float(res.lower_bound)
        V = to_numpy(res.V)
        W = None if res.W is None else to_numpy(res.W)
        if self.model == "relu":
            net, info, obj_unpruned = self._prune_relu(V, W, X, y)
            self.network_ = net
            self.objective_ = float(net.objective(X, y, self.beta, self.loss))
            self.n_neurons_ = net.n_neurons
            self.gates_ = None
            self.gated_weights_ = None
        else:
            norms = np.linalg.norm(V, axis=1)
            top = norms.max() if norms.size else 0.0
            ptol = 1e-8 if self.prune_tol == "auto" else float(self.prune_tol)
            keep = norms > ptol * top if top > 0 else np.zeros(norms.shape, bool)
            info = {"n_pruned": int(((~keep) & (norms > 0)).sum()),
                    "max_pruned_relative_norm": float(norms[(~keep) & (norms > 0)].max() / top)
                    if ((~keep) & (norms > 0)).any() else 0.0}
            obj_unpruned = res.objective
            self.network_ = None
            self.gates_ = arr.gates[:, keep]
            self.gated_weights_ = V[keep]
            self.n_neurons_ = int(keep.sum())
            self.objective_ = float(get_loss(self.loss).value(self._decision(Xd), y)
                                    + self.beta * norms[keep].sum())
        self.pruning_ = {**info, "objective_before": float(obj_unpruned),
                         "objective_after": self.objective_}
        # Gap of the returned model to the convex program over these patterns.
        self.relative_gap_ = float((self.objective_ - self.lower_bound_)
                                   / max(abs(self.objective_), 1e-300))
        # The global certificate runs the dual oracle (a search over neurons): computed on
        # first access of ``certificate_``, not inside ``fit``.
        self._certificate: Any = None
        self._certificate_data = (X, y) if self.model == "relu" else None
        self.fit_time_ = time.perf_counter() - t0
        if not np.isfinite(self.objective_):
            raise FloatingPointError(
                "the fit produced a non-finite objective; check the scale of X and y "
                "(standardize them) or increase beta"
            )
        if not self.converged_:
            hint = ""
            if self.dtype == "float32" and res.status is SolverStatus.STALLED:
                # Measured (n = 2e4, d = 21, P = 200, beta = 1e-3): float32 gradient products
                # resolve the dual constraint max_g ||X^T D_g mu|| / beta only to ~1e-4, which
                # floors the certified gap at 3e-5..3e-4 (the float64 gap of the same float32
                # weights agrees); float64 reached 9e-9 on the same problem. n = 2500, d = 9,
                # P = 60: 4.9e-6.
                hint = "; in float32 the certified gap floors near 1e-6..1e-4"
            warnings.warn(
                f"{type(self).__name__} did not converge: {res.status.message} "
                f"(relative gap {res.criterion:.2e} > tol={self.tol:g} after {res.n_iter} "
                f"iterations){hint}", ConvergenceWarning, stacklevel=3)
        return self

    def _column_generation(self, Xd: np.ndarray, y: np.ndarray, arr: Arrangements, U0: Any,
                           t0: float) -> tuple[SolverResult, Arrangements]:
        """Default pattern discovery of the ReLU model at high rank: Adam seeding + cutting planes.

        Enumerating every activation pattern is out of reach at high rank, and the program over
        sampled patterns is a poor upper bound. The patterns that matter are those of good
        networks, so this hybrid alternates the nonconvex and the convex problem; every step
        keeps a feasible network and ``F`` never increases:

        0. **Seed.** Full-batch Adam on the nonconvex network (NumPy,
           :func:`convexnn.nonconvex.train_adam_numpy`; width ``min(CG_SEED_WIDTH, 2 n)``,
           ``CG_SEED_STEPS`` steps, one run per step size in ``CG_SEED_LRS``, best run kept).
           Its patterns join the ``CG_INITIAL`` sampled ones (``CG_SEED_SNAPSHOT``: also
           those of its iterates along the way; off by default).
        1. **Convex solve** over the patterns (:meth:`_solve`), warm-started from the seed
           network written as a feasible point of the program (a neuron ``(w, a)`` with pattern
           ``D_i`` is ``v_i = a w`` or ``w_i = |a| w``, SPEC §2), so the optimum is at most the
           seed's ``F``; if a solver returns a worse point the warm start is kept.
        2. **Rounds**, until the time budget (``CG_BUDGET_SEED_RUNS`` times the seed's Adam
           time, see the module constants), ``CG_MAX_ROUNDS``, or a round improving ``F`` by
           less than ``CG_STALL`` (relative): (a) ``CG_REFINE_STEPS`` Adam steps from the
           recovered network (step ``CG_REFINE_LR``; Adam leaves the patterns' cones, which the
           convex program cannot), (b) the dual point ``mu = -grad L`` at the convex solution
           and the search oracle's neurons with ``|mu^T (X u)_+| > beta``
           (:func:`convexnn.oracle.search_oracle`, cutting planes, SPEC §3, [EP20]_; at most
           ``CG_ADD``), (c) the patterns of (a) and (b) are added, patterns whose groups were
           zero in the last two solves are dropped, and the program is re-solved warm-started
           from the better of the previous solution and the refined network.

        Stopping because the search oracle finds no violation (``CG_VIOLATION_TOL``) is *not*
        a proof of global optimality for high-rank data (``certificate_`` states what is proven; the
        ``sound_lower_bound`` recorded here uses the pattern-free bound on the oracle and is
        always valid, usually loose). Each solve is recorded in ``column_generation_``: a list
        of dicts with ``round``, ``time`` (seconds since the start of ``fit``), ``n_patterns``,
        ``objective`` (``F`` of the convex solution), ``violation`` (search-oracle value
        ``g / beta`` at its dual point: a lower value of the true ``g / beta``),
        ``sound_lower_bound``, ``n_active`` (non-zero groups), ``n_added`` (new patterns),
        ``nonconvex_objective`` (``F`` of the Adam network whose patterns fed this solve),
        ``nonconvex_time``, ``solve_time``, ``oracle_time`` and ``stop`` (why the loop ended,
        on the last record; empty otherwise).

        BLAS runs single-threaded during the loop when ``n d <= CG_SINGLE_THREAD_SIZE``:
        measured on a loaded 2-core machine (n = 203, d = 14), two OpenBLAS threads made the
        Adam steps 20x and the convex solves 4-8x slower than one.

        .. [EP20] Ergen & Pilanci, Convex Geometry of Two-Layer ReLU Networks, AISTATS 2020.
        """
        small = Xd.shape[0] * Xd.shape[1] <= CG_SINGLE_THREAD_SIZE
        with blas_threads(1 if small else None):
            return self._cg_rounds(Xd, y, arr, U0, t0)

    def _cg_rounds(self, Xd: np.ndarray, y: np.ndarray, arr: Arrangements, U0: Any,
                   t0: float) -> tuple[SolverResult, Arrangements]:
        """The loop of :meth:`_column_generation`."""
        from .certificates import dual_lower_bound
        from .nonconvex import train_adam_numpy
        from .oracle import norm_upper_bound, search_oracle

        loss = get_loss(self.loss)
        rng = check_random_state(self.random_state)
        budget = CG_TIME_BUDGET if self.time_limit is None else float(self.time_limit)
        X = Xd[:, :-1] if self.fit_intercept else Xd
        d = Xd.shape[1]
        seed_int = int(rng.randint(2**31 - 1))

        # 0. seed: the best Adam run's patterns join the sampled ones.
        tn = time.perf_counter()
        seed_res = None
        # An optimum with at most n + 1 neurons exists ([PE20]): tiny data needs no wide seed.
        width = int(min(CG_SEED_WIDTH, max(8, 2 * Xd.shape[0])))
        for k, lr in enumerate(CG_SEED_LRS):
            r_ = train_adam_numpy(X, y, self.beta, width=width, loss=self.loss, lr=lr,
                                  steps=CG_SEED_STEPS, seed=seed_int + k,
                                  fit_intercept=self.fit_intercept,
                                  snapshot_every=CG_SEED_SNAPSHOT or None,
                                  record_every=CG_SEED_STEPS,
                                  time_limit=0.25 * budget / len(CG_SEED_LRS))
            if seed_res is None or r_.objective < seed_res.objective:
                seed_res = r_
        assert seed_res is not None
        if self.time_limit is None:
            budget = min(CG_TIME_BUDGET, max(CG_MIN_TIME, CG_BUDGET_SEED_RUNS
                                              * (time.perf_counter() - tn)))
        seed_net = seed_res.network
        new = arrangements_from_gates(
            Xd, np.concatenate([seed_net.gates(), *seed_res.snapshots], axis=1), method="adam")
        P_prev = arr.n_patterns
        arr = _cg_arrangements(arr.union(new))
        U_seed, arr = _embed_network(Xd, arr, seed_net)
        U_prev = None if U0 is None else _carry_groups(U0, P_prev, arr, arr.n_patterns, None)
        nonconvex_time = time.perf_counter() - tn
        nonconvex_F = float(seed_res.objective)
        U_start = U_seed
        if U_prev is not None and _group_objective(Xd, y, U_prev, loss, self.beta) < \
                _group_objective(Xd, y, U_seed, loss, self.beta):
            U_start = U_prev
        n_added = arr.n_patterns

        rounds: list[dict[str, Any]] = []
        zero_rounds = np.zeros(arr.n_patterns, dtype=int)
        prev_obj = np.inf
        stop = ""
        r = 0
        while True:
            ts = time.perf_counter()
            # Every solve gets what is left of the budget (at least 1 s): a program too large
            # for the budget stops at its best iterate, never above the warm start.
            left = max(budget - (time.perf_counter() - t0), 1.0)
            res = _keep_better(self._solve(Xd, y, arr, U_start, time_limit=left), Xd, y,
                               U_start, loss, self.beta)
            solve_time = time.perf_counter() - ts
            V, W = to_numpy(res.V), to_numpy(res.W)
            U = np.concatenate([V, W])
            f = np.maximum(Xd @ V.T, 0).sum(axis=1) - np.maximum(Xd @ W.T, 0).sum(axis=1)
            mu = -loss.gradient(f, y)
            nv, nw = np.linalg.norm(V, axis=1), np.linalg.norm(W, axis=1)
            top = max(float(nv.max(initial=0.0)), float(nw.max(initial=0.0)))
            # Interior-point solutions leave tiny groups where the optimum has zeros.
            active_v, active_w = nv > CG_ACTIVE_TOL * top, nw > CG_ACTIVE_TOL * top
            active = active_v | active_w
            to = time.perf_counter()
            init = np.concatenate([V[active_v], -W[active_w], W[active_w]]).T
            o = search_oracle(Xd, mu, init=init if init.size else None, random_state=rng)
            lb, _ = dual_lower_bound(mu, y, self.beta, norm_upper_bound(Xd, mu), loss)
            oracle_time = time.perf_counter() - to
            obj = float(res.objective)
            rec: dict[str, Any] = {
                "round": r, "time": time.perf_counter() - t0, "n_patterns": arr.n_patterns,
                "objective": obj, "violation": o.value / self.beta,
                "sound_lower_bound": float(lb), "n_active": int(active.sum()),
                "n_added": int(n_added), "nonconvex_objective": nonconvex_F,
                "nonconvex_time": nonconvex_time, "solve_time": solve_time,
                "oracle_time": oracle_time, "stop": ""}
            rounds.append(rec)
            if self.callback is not None:
                self.callback({**rec, "iter": r, "criterion": o.value / self.beta - 1})
            elapsed = time.perf_counter() - t0
            round_time = nonconvex_time + solve_time + oracle_time
            if res.status.name == "INTERRUPTED":
                stop = "interrupted"
            elif o.value <= self.beta * (1 + CG_VIOLATION_TOL):
                stop = "the search oracle found no violated neuron (not a proof at high rank)"
            elif r >= 1 and prev_obj - obj <= CG_STALL * abs(obj):
                stop = f"stalled (relative improvement <= {CG_STALL:g})"
            elif r >= CG_MAX_ROUNDS:
                stop = f"{CG_MAX_ROUNDS} rounds"
            elif elapsed + 1.5 * round_time > budget:
                stop = f"time budget ({budget:g} s)"
            if stop:
                break
            prev_obj = obj
            r += 1

            # (a) nonconvex refinement of the recovered network.
            tn = time.perf_counter()
            net, _ = recover_network(V, W, fit_intercept=self.fit_intercept,
                                     prune_tol=CG_ACTIVE_TOL)
            ref = None
            if net.n_neurons > 0:
                ref = train_adam_numpy(X, y, self.beta, init=net, loss=self.loss,
                                       lr=CG_REFINE_LR, steps=CG_REFINE_STEPS,
                                       fit_intercept=self.fit_intercept,
                                       snapshot_every=CG_REFINE_SNAPSHOT or None,
                                       record_every=CG_REFINE_STEPS,
                                       time_limit=max(budget - elapsed, 0.0))
            nonconvex_time = time.perf_counter() - tn
            nonconvex_F = float(ref.objective) if ref is not None else obj
            # (b) oracle violators.
            cand = o.info.get("candidates", np.zeros((d, 0)))
            vals = o.info.get("candidate_values", np.zeros(0))
            cand = cand[:, vals > self.beta * (1 + CG_ADD_TOL)][:, :CG_ADD]
            gates = [cand]
            if ref is not None:
                gates += [ref.network.gates(), *ref.snapshots]
            # (c) new pattern set: drop groups zero in the last two solves, add the new ones.
            zero_rounds = np.where(active, 0, zero_rounds + 1)
            keep = zero_rounds < 2
            old_arr = arr
            base = arr.subset(keep)
            new = arrangements_from_gates(Xd, np.concatenate(gates, axis=1), method="oracle")
            arr = _cg_arrangements(base.union(new))
            U_ref = None
            if ref is not None and ref.objective < obj:
                U_ref, arr = _embed_network(Xd, arr, ref.network)
            n_added = arr.n_patterns - base.n_patterns
            zero_rounds = np.concatenate([zero_rounds[keep], np.zeros(n_added, dtype=int)])
            U_start = _carry_groups(U, old_arr.n_patterns, arr, arr.n_patterns, old_arr)
            if U_ref is not None and _group_objective(Xd, y, U_ref, loss, self.beta) < obj:
                U_start = U_ref
        rounds[-1]["stop"] = stop
        self.column_generation_ = rounds
        return res, arr

    @property
    def certificate_(self) -> Any:
        """Global-optimality certificate of ``network_`` (computed on first access)."""
        if self._certificate is None and getattr(self, "_certificate_data", None) is not None:
            X, y = self._certificate_data  # type: ignore[misc]
            self._certificate = self._certify(X, y)
            self._certificate_data = None
        return self._certificate

    @certificate_.setter
    def certificate_(self, value: Any) -> None:
        self._certificate = value
        self._certificate_data = None

    def _certify(self, X: np.ndarray, y: np.ndarray) -> Any:
        """Global-optimality certificate of ``network_`` (SPEC §3, :func:`convexnn.certify`).

        With an exact pattern set the solver's own dual bound is a bound on the *global*
        optimum too (the program over all patterns is the network problem, [PE20]_ Thm 1); the
        larger of the two sound bounds is reported.
        """
        import dataclasses

        from .certificates import certify

        arr = self.arrangements_
        cert = certify(self.network_, X, y, self.beta, loss=self.loss,
                       arrangements=arr if arr.exact else "auto",
                       fit_intercept=self.fit_intercept, tol=self.tol,
                       random_state=self.random_state)
        if arr.exact and np.isfinite(self.lower_bound_) and self.lower_bound_ > cert.lower_bound:
            gap = cert.primal - self.lower_bound_
            rel = gap / max(abs(cert.primal), 1e-300)
            cert = dataclasses.replace(
                cert, lower_bound=self.lower_bound_, sound_lower_bound=self.lower_bound_,
                gap=gap, relative_gap=rel, optimal=bool(cert.exact and rel <= self.tol),
                method=cert.method + " + solver dual bound (all patterns)")
        return cert

    def _prune_relu(self, V: np.ndarray, W: np.ndarray | None, X: np.ndarray,
                    y: np.ndarray) -> tuple[TwoLayerReLUNetwork, dict[str, Any], float]:
        """Recover the network (SPEC §2) and prune negligible neurons.

        Interior-point and first-order solutions carry tiny non-zero groups where the exact
        optimum has zeros. With ``prune_tol="auto"`` the largest threshold in
        ``1e-3 ... 1e-8`` (relative to the largest group norm) is used whose pruning raises
        ``F`` by at most ``tol / 10`` relative and moves the predictions by at most ``tol / 10``
        relative (so certificates built from the predictions stay tight); a float fixes the
        threshold. The change in ``F``
        is reported in ``pruning_``.
        """
        full, _ = recover_network(V, W, fit_intercept=self.fit_intercept, prune_tol=0.0)
        f_full = full.objective(X, y, self.beta, self.loss)
        if self.prune_tol != "auto":
            net, info = recover_network(V, W, fit_intercept=self.fit_intercept,
                                        prune_tol=float(self.prune_tol))
            return net, info, f_full
        pred_full = full.predict(X)
        scale = float(np.linalg.norm(pred_full))
        for ptol in (1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8):
            net, info = recover_network(V, W, fit_intercept=self.fit_intercept, prune_tol=ptol)
            # Both F (second order in the pruned norms at an optimum) and the predictions
            # (first order: they set the dual point of the certificate) must stay put.
            if (net.objective(X, y, self.beta, self.loss) <= f_full + 0.1 * self.tol * abs(f_full)
                    and np.linalg.norm(net.predict(X) - pred_full) <= 0.1 * self.tol * scale):
                return net, {**info, "prune_tol": ptol}, f_full
        return full, {"n_pruned": 0, "max_pruned_relative_norm": 0.0, "prune_tol": 0.0}, f_full

    def _decision(self, Xd: np.ndarray) -> np.ndarray:
        if self.network_ is not None:
            X = Xd[:, :-1] if self.fit_intercept else Xd
            return self.network_.predict(X)
        # Gated model: f(x) = sum_i 1[x . g_i >= 0] x . u_i  (the gates, not the ReLU).
        gates, weights = self.gates_, self.gated_weights_
        assert gates is not None and weights is not None
        return np.sum((Xd @ gates >= 0) * (Xd @ weights.T), axis=1)

    def _raw_predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return self._decision(self._design(X))

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags


def _pattern_keys(packed: np.ndarray) -> list[bytes]:
    return [packed[:, i].tobytes() for i in range(packed.shape[1])]


def _cg_arrangements(arr: Arrangements) -> Arrangements:
    return Arrangements(gates=arr.gates, packed_masks=arr.packed_masks, n_samples=arr.n_samples,
                        method="column-generation")


def _embed_network(Xd: np.ndarray, arr: Arrangements,
                   net: TwoLayerReLUNetwork) -> tuple[np.ndarray, Arrangements]:
    """A network as a feasible point ``[V; W]`` (2P, d) of the program over ``arr`` (SPEC §2).

    Neuron ``(w_j, a_j)`` (bias last in ``w_j``) with pattern ``D_i = 1[X w_j >= 0]`` gives
    ``D_i X (a_j w_j) = a_j (X w_j)_+``: it adds ``a_j w_j`` to ``v_i`` (``a_j > 0``) or
    ``|a_j| w_j`` to ``w_i``, and ``w_j`` lies in the cone of ``D_i``, so the point is feasible,
    has the network's predictions, and its group norms sum to at most
    ``sum_j |a_j| ||w_j|| <= (1/2) sum_j (||w_j||^2 + a_j^2)``. Neurons with an all-zero pattern
    contribute nothing and are dropped. Patterns missing from ``arr`` (a neuron with rows on
    its boundary, ``x_k . w_j = 0``, can round differently in another product) are appended;
    the (possibly extended) pattern set is returned with the point.
    """
    d = Xd.shape[1]
    G = net.gates()  # (d, m)
    masks = Xd @ G >= 0
    nz = masks.any(axis=0)
    keys = _pattern_keys(np.packbits(masks, axis=0))
    index = {k: i for i, k in enumerate(_pattern_keys(arr.packed_masks))}
    missing = [j for j in range(G.shape[1]) if nz[j] and keys[j] not in index]
    if missing:
        extra = Arrangements.from_masks(masks[:, missing], G[:, missing], method="network")
        arr = _cg_arrangements(arr.union(extra))
        index = {k: i for i, k in enumerate(_pattern_keys(arr.packed_masks))}
    P = arr.n_patterns
    U = np.zeros((2 * P, d))
    for j, key in enumerate(keys):
        if not nz[j]:
            continue
        i = index[key]
        a = net.output_weights[j]
        if a >= 0:
            U[i] += a * G[:, j]
        else:
            U[P + i] += -a * G[:, j]
    return U, arr


def _carry_groups(U: np.ndarray, P_old: int, arr: Arrangements, P_new: int,
                  old_arr: Arrangements | None) -> np.ndarray:
    """Move the groups ``[V; W]`` of a solution over ``old_arr`` (P_old patterns) to ``arr``.

    With ``old_arr=None`` the old patterns are the first ``P_old`` of ``arr`` (``union`` keeps
    order). Groups of patterns no longer present are dropped."""
    d = U.shape[1]
    out = np.zeros((2 * P_new, d))
    if old_arr is None:
        out[:P_old] = U[:P_old]
        out[P_new:P_new + P_old] = U[P_old:]
        return out
    index = {k: i for i, k in enumerate(_pattern_keys(arr.packed_masks))}
    for i, key in enumerate(_pattern_keys(old_arr.packed_masks)):
        j = index.get(key)
        if j is not None:
            out[j] = U[i]
            out[P_new + j] = U[P_old + i]
    return out


def _group_objective(Xd: np.ndarray, y: np.ndarray, U: np.ndarray, loss: Any,
                     beta: float) -> float:
    """Convex objective of ``[V; W]`` (both halves of U)."""
    P = U.shape[0] // 2
    f = (np.maximum(Xd @ U[:P].T, 0).sum(axis=1) - np.maximum(Xd @ U[P:].T, 0).sum(axis=1))
    return float(loss.value(f, y) + beta * np.linalg.norm(U, axis=1).sum())


def _keep_better(res: SolverResult, Xd: np.ndarray, y: np.ndarray, U0: np.ndarray, loss: Any,
                 beta: float) -> SolverResult:
    """``res``, or the (feasible) warm start ``U0`` when the solver returned a worse point.

    The solver's ``lower_bound`` bounds the program's optimum and stays valid."""
    import dataclasses

    f0 = _group_objective(Xd, y, U0, loss, beta)
    if not (np.isfinite(res.objective) and res.objective > f0):
        return res
    P = U0.shape[0] // 2
    crit = (f0 - res.lower_bound) / max(abs(f0), 1e-300) if np.isfinite(res.lower_bound) \
        else res.criterion
    return dataclasses.replace(res, V=U0[:P].copy(), W=U0[P:].copy(), objective=f0,
                               criterion=float(crit), info={**res.info, "kept_warm_start": True})


def X_desc(fit_intercept: bool) -> str:
    return "features plus the bias entry last" if fit_intercept else "features"


class _Progress:
    """Minimal verbose printer (one line per duality-gap check)."""

    def __init__(self, verbose: int) -> None:
        self.verbose = verbose
        self.t0 = time.perf_counter()

    def __call__(self, rec: dict[str, float]) -> None:
        print(f"[convexnn] {rec['time']:7.2f}s  iter {int(rec['iter']):6d}  "
              f"F {rec['objective']:.8g}  gap {rec['criterion']:.2e}  "
              f"active {int(rec.get('n_active', 0))}", flush=True)


class ConvexReLURegressor(RegressorMixin, _BaseConvexReLU):
    """Two-layer ReLU regression network fitted by its exact convex program.

    Minimizes ``F = (1/n) sum_k l(f(x_k), y_k) + (beta/2)(||W||^2 + ||b||^2 + ||a||^2)``
    (SPEC §0) through the convex program of [PE20]_ over the chosen activation patterns.

    Parameters
    ----------
    beta : float, default=1e-3
        Weight decay, in the mean-loss scaling of SPEC §0.
    model : {"relu", "gated"}, default="relu"
        ``"relu"``: the cone-constrained program, whose solution is a ReLU network
        (``network_``). ``"gated"``: the gated ReLU model of [MSP22]_ (group lasso), whose
        predictions are ``sum_i 1[x . g_i >= 0] x . u_i`` with fixed gate vectors ``g_i``; it is a
        different model class (its optimum is a lower bound on the ReLU one) and has no
        ``network_``.
    loss : {"squared", "logistic"}, default="squared"
    arrangements : "auto", "exact", int, array of shape (d, P), Arrangements or network
        The activation patterns: ``"exact"`` enumerates all (low rank only); an int samples that
        many Gaussian gate vectors; an array gives gate vectors (with ``fit_intercept=True``, d
        counts the bias entry last); a :class:`TwoLayerReLUNetwork` seeds the program with that
        network's patterns. ``"auto"`` enumerates when the bound of SPEC §1 is at most
        1000 patterns (then ``certificate_`` can prove global optimality). Otherwise the gated
        model samples 500 gate vectors, and the ReLU model finds its patterns by a hybrid of
        nonconvex training and column generation: a full-batch Adam run on the network (width
        ``min(200, 2 n)``, 4000 steps, in NumPy) seeds the program with its patterns (plus 32
        sampled ones), the convex solve starts from that network (so ``F`` is at most the
        seed's), and rounds of short Adam refinement of the recovered network plus the
        search oracle's violated neurons add patterns until ``F`` stalls, the oracle finds
        no violation, or the time budget (10 times the seed's training time, clipped to
        10-300 s; ``time_limit`` if set) runs out. ``column_generation_`` records the rounds.
        At high rank this is an upper bound on the global optimum, not a proof of it.
    solver : {"auto", "ipm", "newton", "fista", "admm", "al", "clarabel", "cvxpy"}, default="auto"
        ``"auto"``: for the ReLU model the interior-point method followed by a sparse polish
        (active-set Newton from its active rows, FISTA as the fallback) when ``n <= 2000``
        (300 for the logistic loss) and ``n^2 P d <= 7e10`` (:mod:`convexnn.solvers.relu_hybrid`;
        2-20x faster than ``"newton"`` from a cold start on UCI sets),
        else ``"fista"``; ``"newton"`` for warm starts (``warm_start=True``, the rounds of
        pattern discovery) and for ``tol < 1e-7``. For the gated model the interior-point
        method followed by a sparse polish (active-set Newton on the screened support, FISTA
        as the fallback) when ``n <= 2000`` and ``n^2 P <= 2.5e9``
        (:mod:`convexnn.solvers.gated_hybrid`), else ``"fista"``. ``"al"`` on PyTorch devices.
        ``"ipm"``: structured primal-dual interior-point method (Mehrotra predictor-corrector,
        Nesterov-Todd scaling, Woodbury Newton systems; :mod:`convexnn.solvers.interior_point`);
        it converges to the analytic center of the optimal set: the same ``F`` (to ``tol``) as
        ``"newton"`` but usually more neurons, since the optimum is often not unique; 4-12x
        faster than CVXPY+Clarabel on UCI sets with n ~ 100-700, P ~ 250 (``benchmarks/``);
        each Newton system costs ``O(n^2 P d)`` (ReLU) or ``O(n^2 P + n^3)`` (gated); alone it
        is not a default (the hybrids above polish its point to a sparse optimum).
        ``"newton"``: primal active-set Newton method on a working
        set of patterns, priced over all patterns (:mod:`convexnn.solvers.active_set`);
        ``"fista"``: accelerated proximal gradient on a working set -- gated model (NumPy or
        PyTorch), and ReLU model with an exact prox (shrinkage of the Euclidean projection
        onto the cone, by NNLS; :mod:`convexnn.solvers.relu_fista`; NumPy);
        ``"admm"``: first-order ADMM with a cached Woodbury solve and an exact prox of the loss
        (ReLU model, both losses; thousands of iterations);
        ``"al"``: first-order augmented Lagrangian (ReLU model, NumPy or PyTorch);
        ``"clarabel"``: interior point on a working set; ``"cvxpy"``: the CVXPY + Clarabel
        reference on the full program. All but ``"cvxpy"`` stop on a duality-gap certificate
        over the whole pattern set.
    fit_intercept : bool, default=True
        Append a ones column: the hidden bias of [PE20]_, regularized like the weights.
    max_iter : int, default=10000
    tol : float, default=1e-6
        Relative duality-gap tolerance (the fit stops when the returned model's objective is
        within ``tol`` of the program's optimum over the patterns, by a dual certificate).
    random_state : int, RandomState or None
        Seeds the pattern sampling.
    verbose : int, default=0
    dtype : {"float64", "float32"}
    device : str, default="cpu"
        ``"cpu"``: NumPy. ``"torch"``: PyTorch tensors on the CPU; ``"cuda"`` (or
        ``"cuda:N"``): PyTorch on that GPU. On PyTorch the gated model runs FISTA and the ReLU
        model the augmented Lagrangian (the Newton solver is NumPy only).
    prune_tol : float, default=1e-8
        Neurons whose group norm is below ``prune_tol`` times the largest are dropped; the effect
        on ``F`` is in ``pruning_``.
    warm_start : bool, default=False
        Reuse the previous fit's patterns and solution.
    time_limit : float or None
        Seconds; the solver stops (not converged) after it.
    callback : callable or None
        Called with a dict (``time``, ``iter``, ``objective``, ``lower_bound``, ``criterion``,
        ``n_active``) at each optimality check; used for progress displays. Raising
        ``KeyboardInterrupt`` in it stops the fit with the best iterate.

    Attributes
    ----------
    network_ : TwoLayerReLUNetwork or None
        The fitted network (``model="relu"``).
    column_generation_ : list of dict or None
        With the default ``arrangements="auto"`` at high rank (ReLU model), one record per
        convex solve: ``round``, ``time`` (seconds since the start of ``fit``),
        ``n_patterns``, ``objective`` (``F``), ``violation`` (the search oracle's
        ``g / beta`` at the solution's dual point; a lower value of the true one),
        ``sound_lower_bound`` (a proven lower bound on the global optimum, from the
        pattern-free bound on ``g``; usually loose), ``n_active``, ``n_added``,
        ``nonconvex_objective`` (``F`` of the Adam network that fed the round),
        ``nonconvex_time``, ``solve_time``, ``oracle_time``, ``stop`` (the reason the loop
        ended, on the last record). None otherwise.
    certificate_ : Certificate or None
        Global-optimality certificate of ``network_`` (:func:`convexnn.certify`): ``optimal``
        only when the oracle value was computed exactly and the proven gap is within ``tol``.
    objective_ : float
        ``F`` of the fitted model on the training data (SPEC §0).
    lower_bound_ : float
        Dual lower bound on the convex program's optimum over the patterns.
    relative_gap_ : float
    n_neurons_, n_arrangements_, n_iter_ : int
    converged_ : bool
    history_ : list of dict
        Per-check records (time, objective, lower bound, gap, active groups).
    arrangements_ : Arrangements
    pruning_ : dict
    """

    def fit(self, X: Any, y: Any) -> ConvexReLURegressor:
        """Fit the network; returns ``self``."""
        self._validate_params()
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True)
        if self.loss == "logistic":
            raise ValueError("ConvexReLURegressor needs loss='squared'; use ConvexReLUClassifier "
                             "for the logistic loss")
        return self._fit(X, np.asarray(y, dtype=np.float64))

    def predict(self, X: Any) -> np.ndarray:
        """Network output ``f(X)``, shape (n_samples,)."""
        return self._raw_predict(X)


class ConvexReLUClassifier(ClassifierMixin, _BaseConvexReLU):
    """Binary classifier: a two-layer ReLU network fitted by its exact convex program.

    The labels are mapped to ``-1`` (``classes_[0]``) and ``+1`` (``classes_[1]``); the network
    output ``f(x)`` is the decision function. Parameters and attributes as in
    :class:`ConvexReLURegressor`, with ``loss`` defaulting to ``"logistic"``
    (``log(1 + exp(-y f))``); ``loss="squared"`` fits ``(f - y)^2 / 2`` on the ±1 labels.
    """

    def __init__(self, beta: float = 1e-3, *, model: str = "relu", loss: str = "logistic",
                 arrangements: Any = "auto", solver: str = "auto", fit_intercept: bool = True,
                 max_iter: int = 10_000, tol: float = 1e-6, random_state: Any = None,
                 verbose: int = 0, dtype: str = "float64", device: str = "cpu",
                 prune_tol: float | str = "auto", warm_start: bool = False,
                 time_limit: float | None = None, callback: Any = None) -> None:
        super().__init__(beta, model=model, loss=loss, arrangements=arrangements, solver=solver,
                         fit_intercept=fit_intercept, max_iter=max_iter, tol=tol,
                         random_state=random_state, verbose=verbose, dtype=dtype, device=device,
                         prune_tol=prune_tol, warm_start=warm_start, time_limit=time_limit,
                         callback=callback)

    def fit(self, X: Any, y: Any) -> ConvexReLUClassifier:
        """Fit the network to binary labels; returns ``self``."""
        self._validate_params()
        X, y = validate_data(self, X, y, dtype=np.float64)
        kind = type_of_target(y, input_name="y", raise_unknown=True)
        if kind not in ("binary", "multiclass"):
            raise ValueError(f"ConvexReLUClassifier needs class labels, got target type {kind!r}")
        self.classes_ = np.unique(y)
        if self.classes_.size != 2:
            raise ValueError(
                "Only binary classification is supported: ConvexReLUClassifier needs exactly 2 "
                f"classes and y has {self.classes_.size} class"
                f"{'' if self.classes_.size == 1 else 'es'} ({self.classes_[:5].tolist()}). For "
                "more classes wrap it in sklearn.multiclass.OneVsRestClassifier."
            )
        ypm = np.where(y == self.classes_[1], 1.0, -1.0)
        return self._fit(X, ypm)

    def decision_function(self, X: Any) -> np.ndarray:
        """Network output ``f(X)``: positive means ``classes_[1]``."""
        return self._raw_predict(X)

    def predict(self, X: Any) -> np.ndarray:
        """Predicted class labels."""
        check_is_fitted(self)
        return self.classes_[(self.decision_function(X) > 0).astype(int)]

    def _has_logistic(self) -> bool:
        return self.loss == "logistic"

    @available_if(_has_logistic)
    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities ``sigma(f(x))`` (logistic loss only)."""
        f = self.decision_function(X)
        p1 = 0.5 * (1.0 + np.tanh(0.5 * f))  # overflow-free sigmoid
        return np.column_stack([1.0 - p1, p1])

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags
