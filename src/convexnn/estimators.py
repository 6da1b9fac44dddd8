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

from ._backend import resolve_dtype, to_backend, to_numpy
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
from .solvers._result import SolverResult

__all__ = ["ConvexReLURegressor", "ConvexReLUClassifier"]

#: "auto" enumerates the patterns exactly when the bound of SPEC §1 is at most this.
AUTO_EXACT_LIMIT = 1000
#: Otherwise "auto" samples this many gate vectors (gated model), or starts column generation
#: from this many (ReLU model).
AUTO_SAMPLES = 500
CG_INITIAL = 100
#: Column generation budget: rounds, seconds (no round starts after it), patterns per round.
CG_MAX_ROUNDS = 10
CG_TIME_BUDGET = 120.0
CG_ADD = 32


def _add_intercept(X: np.ndarray) -> np.ndarray:
    return np.column_stack([X, np.ones(X.shape[0])])


class _BaseConvexReLU(BaseEstimator):
    _parameter_constraints: dict[str, list[Any]] = {
        "beta": [Interval(Real, 0, None, closed="neither")],
        "model": [StrOptions({"relu", "gated"})],
        "loss": [StrOptions({"squared", "logistic"})],
        "arrangements": [StrOptions({"auto", "exact"}), Interval(Integral, 1, None, closed="left"),
                         "array-like", Arrangements, TwoLayerReLUNetwork],
        "solver": [StrOptions({"auto", "newton", "fista", "admm", "al", "clarabel", "cvxpy"})],
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
    def _solve(self, Xd: np.ndarray, y: np.ndarray, arr: Arrangements, U0: Any) -> SolverResult:
        from .solvers.augmented_lagrangian import solve_relu_al
        from .solvers.fista import solve_gated_fista
        from .solvers.working_set import solve_working_set

        loss = get_loss(self.loss)
        dtype = resolve_dtype(self.dtype)
        use_torch = self.device != "cpu" or self.solver == "torch"
        solver = self.solver
        if solver == "cvxpy":
            from .solvers.cvxpy_solver import solve_cvxpy

            return solve_cvxpy(Xd, y, arr.masks(), self.beta, model=self.model, loss=self.loss,
                               tol=min(self.tol * 1e-2, 1e-8))
        Xb = to_backend(Xd, device=self.device, dtype=dtype, torch=use_torch)
        yb = to_backend(y, device=self.device, dtype=dtype, torch=use_torch)
        Mb = to_backend(arr.masks(), device=self.device, dtype=dtype, torch=use_torch)
        if U0 is not None:
            U0 = to_backend(U0, device=self.device, dtype=dtype, torch=use_torch)
        callback = self.callback or (_Progress(self.verbose) if self.verbose else None)
        common: dict[str, Any] = {"tol": self.tol, "max_iter": self.max_iter,
                                  "time_limit": self.time_limit,
                  "callback": callback}
        if solver == "newton" or (solver == "auto" and self.model == "relu" and not use_torch):
            from .solvers.active_set import solve_active_set

            return solve_active_set(Xd, y, arr.masks(), loss, self.beta, model=self.model,
                                    gates=arr.gates, U0=None if U0 is None else to_numpy(U0),
                                    **common)
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
                                   max_iter=self.max_iter, time_limit=self.time_limit,
                                   callback=callback)
        if solver == "al" or (solver == "auto" and use_torch):
            return solve_relu_al(Xb, yb, Mb, loss, self.beta, U0=U0, tol=self.tol,
                                 max_iter=self.max_iter, time_limit=self.time_limit,
                                 callback=callback)
        if solver == "fista":
            raise ValueError("solver='fista' solves the gated model only; use model='gated' "
                             "or solver='auto'/'newton'/'al'/'clarabel' for the ReLU model")
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
        self.column_generation_: list[dict[str, float]] | None = None
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
        self.certificate_ = self._certify(X, y) if self.model == "relu" else None
        self.fit_time_ = time.perf_counter() - t0
        if not np.isfinite(self.objective_):
            raise FloatingPointError(
                "the fit produced a non-finite objective; check the scale of X and y "
                "(standardize them) or increase beta"
            )
        if not self.converged_:
            warnings.warn(
                f"{type(self).__name__} did not converge: {res.status.message} "
                f"(relative gap {res.criterion:.2e} > tol={self.tol:g} after {res.n_iter} "
                "iterations)", ConvergenceWarning, stacklevel=3)
        return self

    def _column_generation(self, Xd: np.ndarray, y: np.ndarray, arr: Arrangements, U0: Any,
                           t0: float) -> tuple[SolverResult, Arrangements]:
        """Grow the pattern set by the dual oracle (cutting planes, SPEC §3, [EP20]_).

        Each round solves the program over the current patterns (warm-started), takes the dual
        point ``mu = -grad L`` at the network's predictions, and searches for neurons ``u``
        with ``|mu^T (X u)_+| > beta`` (:func:`convexnn.oracle.search_oracle`, seeded with the
        current neurons); the patterns of the best violators are added and the patterns whose
        groups stayed zero for two rounds are dropped. It stops when the search finds no
        violation -- which is *not* a proof of global optimality for high-rank data (the
        certificate in ``certificate_`` says what is proven) -- or after ``CG_MAX_ROUNDS``
        rounds or ``CG_TIME_BUDGET`` seconds (``time_limit`` if set).
        The rounds are recorded in ``column_generation_``.

        .. [EP20] Ergen & Pilanci, Convex Geometry of Two-Layer ReLU Networks, AISTATS 2020.
        """
        from .oracle import norm_upper_bound, search_oracle

        loss = get_loss(self.loss)
        rng = check_random_state(self.random_state)
        rounds: list[dict[str, float]] = []
        zero_rounds = np.zeros(arr.n_patterns, dtype=int)
        res = self._solve(Xd, y, arr, U0)
        for r in range(CG_MAX_ROUNDS):
            V, W = to_numpy(res.V), to_numpy(res.W)
            f = np.maximum(Xd @ V.T, 0).sum(axis=1) - np.maximum(Xd @ W.T, 0).sum(axis=1)
            mu = -loss.gradient(f, y)
            active = (np.linalg.norm(V, axis=1) > 0) | (np.linalg.norm(W, axis=1) > 0)
            init = np.concatenate([V[active], -W[active], W[active]]).T
            o = search_oracle(Xd, mu, init=init if init.size else None, random_state=rng)
            ub = norm_upper_bound(Xd, mu)
            s = min(1.0, self.beta / ub) if ub > 0 else 1.0
            rounds.append({"round": r, "time": time.perf_counter() - t0,
                           "n_patterns": arr.n_patterns, "objective": float(res.objective),
                           "violation": o.value / self.beta,
                           "sound_lower_bound": float(loss.dual_value(s * mu, y)),
                           "n_active": int(active.sum())})
            if self.callback is not None:
                self.callback({**rounds[-1], "iter": r, "criterion": o.value / self.beta - 1})
            if o.value <= self.beta * (1 + 1e-4) or res.status.name == "INTERRUPTED":
                break
            budget = CG_TIME_BUDGET if self.time_limit is None else self.time_limit
            if time.perf_counter() - t0 > budget:
                break
            cand = o.info.get("candidates", np.zeros((Xd.shape[1], 0)))
            vals = o.info.get("candidate_values", np.zeros(0))
            cand = cand[:, vals > self.beta * (1 + 1e-4)][:, :CG_ADD]
            if cand.shape[1] == 0:
                cand = o.u[:, None]
            zero_rounds = np.where(active, 0, zero_rounds + 1)
            keep = zero_rounds < 2
            new = arrangements_from_gates(Xd, cand, method="oracle")
            base = arr.subset(keep)
            arr2 = base.union(new)
            P2 = arr2.n_patterns
            U0n = np.zeros((2 * P2, Xd.shape[1]))
            kidx = np.flatnonzero(keep)
            U0n[: kidx.size] = V[kidx]
            U0n[P2: P2 + kidx.size] = W[kidx]
            zero_rounds = np.concatenate([zero_rounds[keep], np.zeros(P2 - kidx.size, dtype=int)])
            arr = Arrangements(gates=arr2.gates, packed_masks=arr2.packed_masks,
                               n_samples=arr2.n_samples, method="column-generation")
            res = self._solve(Xd, y, arr, U0n)
        self.column_generation_ = rounds
        return res, arr

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
        1000 patterns; otherwise the ReLU model grows its patterns by column generation from
        100 sampled gates (at most 10 rounds / 120 s, see ``column_generation_``) and the gated
        model samples 500 gate vectors.
    solver : {"auto", "newton", "fista", "al", "clarabel", "cvxpy"}, default="auto"
        ``"auto"``: ``"newton"`` for the ReLU model, ``"fista"`` for the gated one (and
        ``"al"`` on PyTorch devices). ``"newton"``: primal active-set Newton method on a working
        set of patterns, priced over all patterns (:mod:`convexnn.solvers.active_set`);
        ``"fista"``: accelerated proximal gradient on a working set (gated model);
        ``"admm"``: first-order ADMM with a cached Woodbury solve (ReLU model; exact for the
        squared loss, slower for the logistic loss);
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
        ``"cuda"`` runs the first-order solvers on PyTorch tensors.
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
