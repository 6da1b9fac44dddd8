"""The ``convexnn`` command line: fit, predict, certify, list datasets, regularization paths.

Run ``convexnn --help`` or ``convexnn COMMAND --help``. Errors in the input (missing files, bad
options, unusable data) are reported as one line ``Error: ...`` with exit status 2; set
``CONVEXNN_DEBUG=1`` to see the full traceback instead.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import click
import numpy as np

__all__ = ["cli", "main"]

_TABLE_SUFFIXES = (".csv", ".npz", ".parquet", ".pq")


# --------------------------------------------------------------------------------------------
# error handling
# --------------------------------------------------------------------------------------------


class CliError(click.ClickException):
    """A user-facing error: printed as ``Error: message``, exit status 2."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


class _Group(click.Group):
    """Turns the library's input errors into one-line ``Error:`` messages (no traceback)."""

    def invoke(self, ctx: click.Context) -> Any:
        from .io import ModelFileError

        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except (ModelFileError, ValueError, OSError, ImportError, TypeError, ArithmeticError,
                KeyError) as exc:
            if os.environ.get("CONVEXNN_DEBUG"):
                raise
            msg = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
            if isinstance(exc, KeyError):
                msg = f"missing entry {msg}"
            raise CliError(msg or type(exc).__name__) from exc


def _positive(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    if value is not None and not (value > 0 and math.isfinite(value)):
        raise click.BadParameter(f"must be a positive finite number, got {value}")
    return value


def _parse_arrangements(value: str) -> str | int:
    v = value.strip().lower()
    if v in ("auto", "exact"):
        return v
    try:
        k = int(v)
    except ValueError:
        raise click.BadParameter(
            f"expected 'auto', 'exact' or a positive integer, got {value!r}",
            param_hint="'--arrangements'") from None
    if k < 1:
        raise click.BadParameter(f"the number of sampled patterns must be >= 1, got {k}",
                                 param_hint="'--arrangements'")
    return k


def _parse_betas(ctx: click.Context, param: click.Parameter, value: str) -> list[float]:
    try:
        betas = [float(s) for s in value.replace(";", ",").split(",") if s.strip()]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated numbers, got {value!r}") from None
    if not betas:
        raise click.BadParameter("give at least one beta")
    bad = [b for b in betas if not (b > 0 and math.isfinite(b))]
    if bad:
        raise click.BadParameter(f"every beta must be positive and finite, got {bad}")
    return sorted(set(betas))


# --------------------------------------------------------------------------------------------
# output helpers
# --------------------------------------------------------------------------------------------


def _console(stderr: bool = False) -> Any:
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    tty = bool(getattr(stream, "isatty", lambda: False)())
    # No terminal: no colour, no cursor movement, no wrapping surprises.
    return Console(file=stream, highlight=False, force_terminal=tty, no_color=not tty,
                   width=None if tty else 100, emoji=False)


def _is_tty() -> bool:
    return bool(getattr(sys.stdout, "isatty", lambda: False)())


def _clean(obj: Any) -> Any:
    """JSON-safe copy: numpy to Python, non-finite floats to None."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _clean(obj.tolist())
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        return f if math.isfinite(f) else None
    return obj


def _echo_json(obj: Any) -> None:
    click.echo(json.dumps(_clean(obj), indent=2))


def _fmt(v: Any, spec: str = ".6g") -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return format(float(v), spec) if math.isfinite(float(v)) else str(float(v))
    return str(v)


def _kv_table(title: str, rows: list[tuple[str, str]], tty: bool) -> Any:
    from rich import box
    from rich.table import Table

    table = Table(title=title, box=box.ROUNDED if tty else box.ASCII, show_header=False)
    table.add_column("", style="bold" if tty else None, no_wrap=True)
    table.add_column("")
    for k, v in rows:
        table.add_row(k, v)
    return table


# --------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------


def _is_path(spec: str) -> bool:
    from . import datasets

    if spec in datasets.BUNDLED or spec.startswith(("uci:", "uci-reg:")) or spec in (
            "mnist", "fashion_mnist"):
        return False
    return os.path.exists(os.path.expanduser(spec)) or Path(spec).suffix.lower() in _TABLE_SUFFIXES


def _load_data(spec: str, target: str | None, data_dir: str | None, split: int) -> Any:
    """A :class:`~convexnn.datasets.Dataset`; tables keep their original labels."""
    from . import datasets

    if _is_path(spec):
        X, y, names = datasets.load_table(spec, target=target)
        if y is None:
            raise ValueError(f"{spec!r} has no target column: name it with --target COL (or call "
                             "the column 'target' or 'y')")
        task = datasets._infer_task(y)
        if task == "regression":
            y = y.astype(np.float64)
        n_classes = int(np.unique(y).size) if task == "classification" else None
        return datasets.Dataset(name=Path(spec).stem, X_train=X, y_train=y, X_test=None,
                                y_test=None, task=task, feature_names=names, n_classes=n_classes,
                                description=f"table {spec}")
    return datasets.load(spec, data_dir=data_dir, split=split, target=target)


def _scaler_from(X: np.ndarray) -> dict[str, np.ndarray]:
    mean = X.mean(axis=0)
    std = X.std(axis=0)
    return {"mean": mean, "scale": np.where(std > 0, std, 1.0)}


def _apply(scaler: dict[str, np.ndarray] | None, X: np.ndarray) -> np.ndarray:
    if scaler is None:
        return X
    if X.shape[1] != scaler["mean"].shape[0]:
        raise ValueError(f"the data has {X.shape[1]} feature columns but the model expects "
                         f"{scaler['mean'].shape[0]}")
    return (X - scaler["mean"]) / scaler["scale"]


def _resolve_task(ds: Any, task: str, spec: str) -> str:
    t = ds.task if task == "auto" else task
    if t == "classification":
        k = int(np.unique(ds.y_train).size)
        if k != 2:
            raise ValueError(
                f"{spec!r} has {k} classes; convexnn fits binary classifiers only. Reduce the "
                "labels to two classes, or use --task regression to fit them as numbers."
            )
    elif ds.y_train.dtype.kind not in "biuf":
        raise ValueError(f"{spec!r} has text labels; it cannot be fitted with --task regression")
    return t


def _metrics(est: Any, task: str, X: np.ndarray, y: np.ndarray) -> dict[str, float]:
    pred = est.predict(X)
    if task == "classification":
        return {"accuracy": float(np.mean(pred == y))}
    yf = np.asarray(y, dtype=np.float64)
    resid = yf - pred
    ss = float(np.sum((yf - yf.mean()) ** 2))
    return {"rmse": float(np.sqrt(np.mean(resid**2))),
            "r2": float(1.0 - np.sum(resid**2) / ss) if ss > 0 else float("nan")}


def _make_estimator(task: str, *, beta: float, model: str, loss: str | None, arrangements: Any,
                    solver: str, tol: float, max_iter: int, time_limit: float | None,
                    seed: int, **extra: Any) -> Any:
    from .estimators import ConvexReLUClassifier, ConvexReLURegressor

    cls = ConvexReLUClassifier if task == "classification" else ConvexReLURegressor
    if loss is None:
        loss = "logistic" if task == "classification" else "squared"
    if task == "regression" and loss == "logistic":
        raise ValueError("--loss logistic needs a classification task (binary labels); use "
                         "--loss squared for regression")
    return cls(beta, model=model, loss=loss, arrangements=arrangements, solver=solver, tol=tol,
               max_iter=max_iter, time_limit=time_limit, random_state=seed, **extra)


# --------------------------------------------------------------------------------------------
# progress display
# --------------------------------------------------------------------------------------------


class _LiveProgress:
    """A rich live line updated from the estimator's per-check records (terminal only)."""

    def __init__(self, console: Any, label: str) -> None:
        from rich.live import Live
        from rich.text import Text

        self._Text = Text
        self.label = label
        self.t0 = time.perf_counter()
        self.live = Live(Text(f"{label}: starting ..."), console=console,
                         refresh_per_second=8, transient=True)

    def __enter__(self) -> _LiveProgress:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.live.__exit__(*exc)

    def __call__(self, rec: dict[str, Any]) -> None:
        def g(k: str, spec: str) -> str:
            v = rec.get(k)
            return "-" if v is None else _fmt(v, spec)

        self.live.update(self._Text(
            f"{self.label}: {time.perf_counter() - self.t0:6.1f}s  iter {g('iter', 'd')}  "
            f"F {g('objective', '.8g')}  LB {g('lower_bound', '.8g')}  "
            f"gap {g('criterion', '.2e')}  active {g('n_active', 'd')}"))


def _fit_with_progress(est: Any, X: np.ndarray, y: np.ndarray, show: bool,
                       label: str) -> tuple[list[str], bool]:
    """Fit; returns (warning messages, interrupted-before-any-solution flag)."""
    progress = None
    if show and "callback" in est.get_params():
        progress = _LiveProgress(_console(), label)
        est.set_params(callback=progress)
    elif "verbose" in est.get_params():
        est.set_params(verbose=0)
    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if progress is not None:
                with progress:
                    est.fit(X, y)
            else:
                est.fit(X, y)
        except KeyboardInterrupt:
            return notes, True
        finally:
            if progress is not None:
                est.set_params(callback=None)
    seen = set()
    for w in caught:
        msg = " ".join(str(w.message).split())
        if msg not in seen:
            seen.add(msg)
            notes.append(msg)
    return notes, False


# --------------------------------------------------------------------------------------------
# the command group
# --------------------------------------------------------------------------------------------


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]},
             epilog="""\b
Examples:
  convexnn datasets
  convexnn fit breast_cancer --arrangements 200 --output model.npz
  convexnn predict model.npz breast_cancer
  convexnn certify model.npz breast_cancer""")
@click.version_option(package_name="convexnn", prog_name="convexnn")
def cli() -> None:
    """Fit two-layer ReLU networks to global optimality by convex programs."""


def main(argv: list[str] | None = None) -> Any:
    """Console-script entry point (``convexnn``)."""
    return cli.main(args=argv, prog_name="convexnn")


_data_options = [
    click.option("--target", metavar="COL", default=None,
                 help="Target column (CSV/Parquet) or array (NPZ); default 'target' or 'y'."),
    click.option("--data-dir", type=click.Path(file_okay=False), default=None,
                 envvar="CONVEXNN_DATA_DIR", show_envvar=True,
                 help="The shared 'datasets' folder (for uci:NAME and uci-reg:NAME)."),
    click.option("--split", type=int, default=0, show_default=True,
                 help="Split number (uci sets) or train/test split seed (bundled sets)."),
]


def _with(options: list[Any]) -> Any:
    def deco(f: Any) -> Any:
        for opt in reversed(options):
            f = opt(f)
        return f

    return deco


_model_options = [
    click.option("--model", type=click.Choice(["relu", "gated"]), default="relu",
                 show_default=True,
                 help="'relu': exact convex program of the ReLU network; 'gated': gated ReLU "
                      "(a group lasso, faster; a different model class)."),
    click.option("--loss", type=click.Choice(["squared", "logistic"]), default=None,
                 help="Default: logistic for classification, squared for regression."),
    click.option("--arrangements", default="auto", show_default=True, metavar="auto|exact|INT",
                 help="Activation patterns: enumerate all ('exact', low rank only), sample INT "
                      "gate vectors, or 'auto'."),
    click.option("--solver", type=click.Choice(["auto", "ipm", "newton", "fista", "admm", "al", "clarabel",
                                                 "cvxpy"]),
                 default="auto", show_default=True, help="Convex solver."),
    click.option("--task", type=click.Choice(["auto", "classification", "regression"]),
                 default="auto", show_default=True, help="Learning task (auto: from the labels)."),
    click.option("--tol", type=float, default=1e-6, show_default=True, callback=_positive,
                 help="Relative duality-gap tolerance."),
    click.option("--max-iter", type=click.IntRange(min=1), default=10_000, show_default=True,
                 help="Iteration limit of the solver."),
    click.option("--time-limit", type=float, default=None, callback=_positive,
                 help="Seconds; the solver stops (not converged) after it."),
    click.option("--seed", type=int, default=0, show_default=True,
                 help="Random seed of the pattern sampling."),
    click.option("--no-standardize", is_flag=True,
                 help="Do not standardize the features (default: z-score with training "
                      "statistics, stored in the model file)."),
    click.option("--json", "as_json", is_flag=True, help="Print a JSON object instead of a table."),
    click.option("--quiet", "-q", is_flag=True, help="No progress display and no notes."),
]


# --------------------------------------------------------------------------------------------
# fit
# --------------------------------------------------------------------------------------------


@cli.command(epilog="""\b
DATA is a bundled set (breast_cancer, diabetes, wine_binary, spline1d),
uci:NAME or uci-reg:NAME (with --data-dir), or a .csv/.npz/.parquet file.

\b
Examples:
  convexnn fit breast_cancer --beta 1e-3 --arrangements 200 --output model.npz
  convexnn fit diabetes --model gated --json
  convexnn fit data.csv --target price --time-limit 60 --plot convergence.png""")
@click.argument("data")
@click.option("--beta", type=float, default=1e-3, show_default=True, callback=_positive,
              help="Weight decay (mean-loss scaling: F = loss/n + beta/2 * ||weights||^2).")
@_with(_model_options)
@_with(_data_options)
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None,
              help="Write the fitted model (with the input scaling) to this .npz file.")
@click.option("--plot", type=click.Path(dir_okay=False), default=None,
              help="Write a convergence plot (objective and gap vs time) to this PNG.")
@click.option("--plot-fit", type=click.Path(dir_okay=False), default=None,
              help="Write a picture of the fit to this PNG: for 1-D data the spline with its "
                   "kinks; for 28x28 images the first-layer weights; otherwise predictions "
                   "against targets.")
def fit(data: str, beta: float, model: str, loss: str | None, arrangements: str, solver: str,
        task: str, tol: float, max_iter: int, time_limit: float | None, seed: int,
        no_standardize: bool, as_json: bool, quiet: bool, target: str | None,
        data_dir: str | None, split: int, output: str | None, plot: str | None,
        plot_fit: str | None) -> None:
    """Fit a two-layer ReLU network to DATA by its convex program and report the result."""
    from . import io

    arr = _parse_arrangements(arrangements)
    ds = _load_data(data, target, data_dir, split)
    t = _resolve_task(ds, task, data)
    y_train = ds.y_train if t == "classification" else ds.y_train.astype(np.float64)
    scaler = None if no_standardize else _scaler_from(ds.X_train)
    X_train = _apply(scaler, ds.X_train)
    est = _make_estimator(t, beta=beta, model=model, loss=loss, arrangements=arr, solver=solver,
                          tol=tol, max_iter=max_iter, time_limit=time_limit, seed=seed)
    show = _is_tty() and not quiet and not as_json
    notes, interrupted = _fit_with_progress(est, X_train, y_train, show, f"fitting {ds.name}")
    if interrupted:
        raise CliError("interrupted before the solver produced a solution; nothing was written")
    if getattr(est, "status_", "") == "INTERRUPTED":
        notes.insert(0, "interrupted (Ctrl-C): the best solution found so far is reported"
                     + (" and saved" if output else "") + "; it is not converged")

    train = _metrics(est, t, X_train, y_train)
    test = None
    if ds.X_test is not None and ds.y_test is not None:
        y_test = ds.y_test if t == "classification" else ds.y_test.astype(np.float64)
        test = _metrics(est, t, _apply(scaler, ds.X_test), y_test)

    saved = None
    if output:
        saved = io.save(est, output, scaler=scaler, metadata={
            "dataset": data, "task": t, "target": target, "split": split,
            "feature_names": list(ds.feature_names) if ds.feature_names else None,
            "standardized": scaler is not None, "n_train": int(ds.X_train.shape[0])})
    plotted = None
    if plot:
        from .plotting import plot_convergence

        if est.history_:
            plotted = plot_convergence(est.history_, plot)
        else:
            notes.append("no convergence history recorded: no plot written")

    if plot_fit:
        from .plotting import plot_first_layer, plot_fit_1d, plot_predictions

        net = getattr(est, "network_", None)
        if net is not None and X_train.shape[1] == 1:
            # In the (standardized) coordinates the network was fitted in.
            plot_fit_1d(X_train[:, 0], y_train, net, plot_fit)
        elif net is not None and X_train.shape[1] == 784:
            plot_first_layer(net, (28, 28), plot_fit)
        else:
            Xp = X_train if ds.X_test is None else _apply(scaler, ds.X_test)
            yp = y_train if ds.y_test is None else ds.y_test
            out = (est.decision_function(Xp) if t == "classification" else est.predict(Xp))
            yv = (np.where(yp == est.classes_[1], 1.0, -1.0) if t == "classification"
                  else np.asarray(yp, dtype=np.float64))
            plot_predictions(yv, out, plot_fit)
        notes.append(f"fit picture written to {plot_fit}")

    n, d = ds.X_train.shape
    report: dict[str, Any] = {
        "dataset": ds.name, "task": t, "n_train": n,
        "n_test": 0 if ds.X_test is None else int(ds.X_test.shape[0]), "d": d,
        "model": model, "loss": est.loss, "beta": beta, "patterns": est.n_arrangements_,
        "patterns_exact": bool(getattr(est.arrangements_, "exact", False)),
        "objective": est.objective_, "lower_bound": est.lower_bound_,
        "relative_gap": est.relative_gap_, "neurons": est.n_neurons_, "train": train,
        "global_lower_bound": (None if getattr(est, "certificate_", None) is None
                               else float(est.certificate_.lower_bound)),
        "global_optimal": (None if getattr(est, "certificate_", None) is None
                           else bool(est.certificate_.optimal)),
        "test": test, "iterations": est.n_iter_, "time": est.fit_time_,
        "converged": est.converged_, "status": est.status_,
        "output": None if saved is None else str(saved),
        "plot": None if plotted is None else str(plotted), "notes": notes,
    }
    if as_json:
        _echo_json(report)
        return
    _print_fit_report(report, quiet)


def _print_fit_report(r: dict[str, Any], quiet: bool) -> None:
    tty = _is_tty()
    con = _console()
    rows = [
        ("dataset", f"{r['dataset']} ({r['task']})"),
        ("n (train / test), d", f"{r['n_train']} / {r['n_test']}, {r['d']}"),
        ("model / loss", f"{r['model']} / {r['loss']}"),
        ("beta", _fmt(r["beta"], "g")),
        ("patterns", f"{r['patterns']}" + (" (all: exact)" if r["patterns_exact"] else "")),
        ("objective F", _fmt(r["objective"], ".8g")),
        ("lower bound (these patterns)", _fmt(r["lower_bound"], ".8g")),
        ("relative gap (these patterns)", _fmt(r["relative_gap"], ".2e")),
        ("proven global lower bound",
         "-" if r.get("global_lower_bound") is None else
         _fmt(r["global_lower_bound"], ".8g")
         + (" (globally optimal)" if r.get("global_optimal") else "")),
        ("neurons", _fmt(r["neurons"])),
    ]
    for part in ("train", "test"):
        m = r[part]
        if m is None:
            continue
        if "accuracy" in m:
            rows.append((f"{part} accuracy", f"{100 * m['accuracy']:.2f}%"))
        else:
            rows.append((f"{part} RMSE / R2", f"{_fmt(m['rmse'], '.5g')} / {_fmt(m['r2'], '.4f')}"))
    rows += [
        ("time", f"{r['time']:.2f} s ({r['iterations']} iterations)"),
        ("converged", "yes" if r["converged"] else f"no ({r['status']})"),
    ]
    if r["output"]:
        rows.append(("model file", r["output"]))
    if r["plot"]:
        rows.append(("plot", r["plot"]))
    con.print(_kv_table("convexnn fit", rows, tty))
    if not quiet:
        for note in r["notes"]:
            con.print(f"Note: {note}", markup=False)


# --------------------------------------------------------------------------------------------
# predict
# --------------------------------------------------------------------------------------------


def _prediction_data(spec: str, target: str | None, md: dict[str, Any], data_dir: str | None,
                     split: int) -> tuple[np.ndarray, np.ndarray | None, list[str] | None, str]:
    """X, y (or None), column names, and which part was used."""
    from . import datasets

    if _is_path(spec):
        tgt = target or md.get("target")
        try:
            X, y, names = datasets.load_table(spec, target=tgt)
        except ValueError:
            if target is not None or tgt is None:
                raise
            X, y, names = datasets.load_table(spec, target=None)
        return X, y, names, "file"
    ds = datasets.load(spec, data_dir=data_dir, split=split, target=target)
    if ds.X_test is not None:
        return ds.X_test, ds.y_test, ds.feature_names, "test part"
    return ds.X_train, ds.y_train, ds.feature_names, "training part"


def _match_columns(X: np.ndarray, names: list[str] | None, model_names: list[str] | None,
                   d: int) -> np.ndarray:
    if names and model_names and list(names) != list(model_names) and set(model_names) <= set(
            names) and not all(n == f"x{j}" for j, n in enumerate(model_names)):
        idx = [list(names).index(n) for n in model_names]
        return X[:, idx]
    if X.shape[1] != d:
        raise ValueError(f"the data has {X.shape[1]} feature columns but the model was fitted on "
                         f"{d}" + (f" ({', '.join(model_names[:5])}, ...)" if model_names else ""))
    return X


@cli.command(epilog="""\b
Examples:
  convexnn predict model.npz breast_cancer
  convexnn predict model.npz new_data.csv --output predictions.csv
  convexnn predict model.npz data.csv --json""")
@click.argument("model_file", metavar="MODEL", type=click.Path(dir_okay=False))
@click.argument("data")
@_with(_data_options)
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None,
              help="Write the predictions to this CSV file (default: print them).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
def predict(model_file: str, data: str, target: str | None, data_dir: str | None, split: int,
            output: str | None, as_json: bool) -> None:
    """Predict DATA with a saved MODEL (its stored input scaling is applied).

    For a bundled or uci dataset the test part is used (the training part when there is none);
    a table is used whole. If the targets are present, the accuracy (or RMSE) is printed.
    """
    from . import io

    est, scaler, md = io.load_bundle(model_file)
    X, y, names, part = _prediction_data(data, target, md, data_dir, split)
    X = _match_columns(X, names, md.get("feature_names"), est.n_features_in_)
    Xs = _apply(scaler, X)
    pred = est.predict(Xs)
    is_clf = hasattr(est, "classes_")
    cols: dict[str, np.ndarray] = {"prediction": pred}
    if is_clf:
        cols["decision"] = est.decision_function(Xs)
        if hasattr(est, "predict_proba"):
            cols["probability"] = est.predict_proba(Xs)[:, 1]
    metrics: dict[str, float] = {}
    if y is not None:
        if is_clf:
            ya = np.asarray(y)
            if pred.dtype.kind in "biuf" and ya.dtype.kind in "biuf":
                same = pred.astype(np.float64) == ya.astype(np.float64)
            else:
                same = pred.astype(str) == ya.astype(str)
            metrics["accuracy"] = float(np.mean(same))
        else:
            yf = np.asarray(y, dtype=np.float64)
            metrics["rmse"] = float(np.sqrt(np.mean((yf - pred) ** 2)))
    if output:
        _write_csv(output, cols)
    if as_json:
        _echo_json({"model": model_file, "data": data, "part": part, "n": int(len(pred)),
                    "metrics": metrics or None, "output": output,
                    "predictions": None if output else _clean(pred.tolist())})
        return
    summary = f"{len(pred)} predictions for {data} ({part})"
    if "accuracy" in metrics:
        summary += f"; accuracy {100 * metrics['accuracy']:.2f}%"
    if "rmse" in metrics:
        summary += f"; RMSE {metrics['rmse']:.5g}"
    if output:
        click.echo(f"{summary}; written to {output}")
    else:
        click.echo(_csv_text(cols), nl=False)
        click.echo(summary, err=True)


def _csv_text(cols: dict[str, np.ndarray]) -> str:
    import csv
    import io as _io

    buf = _io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(list(cols))
    for row in zip(*(c.tolist() for c in cols.values()), strict=True):
        w.writerow([repr(v) if isinstance(v, float) else v for v in row])
    return buf.getvalue()


def _write_csv(path: str, cols: dict[str, np.ndarray]) -> None:
    from .io import atomic_write

    text = _csv_text(cols).encode()
    atomic_write(path, lambda fh: fh.write(text))


# --------------------------------------------------------------------------------------------
# certify
# --------------------------------------------------------------------------------------------


def _load_network(path: str) -> tuple[Any, Any, dict[str, Any] | None, dict[str, Any]]:
    """(network, estimator or None, scaler, metadata) from a model file or a weights .npz."""
    from . import io
    from .network import TwoLayerReLUNetwork

    p = Path(path).expanduser()
    if not p.is_file():
        raise FileNotFoundError(f"{str(p)!r} does not exist")
    try:
        with np.load(p, allow_pickle=False) as z:
            files = list(getattr(z, "files", []))
            weights = {k: np.asarray(z[k]) for k in ("W", "b", "a", "c") if k in files} \
                if "__meta__" not in files else None
    except Exception as exc:
        raise io.ModelFileError(f"{str(p)!r} is neither a convexnn model file nor an .npz "
                                f"with arrays W, b, a ({type(exc).__name__}: {exc})") from exc
    if weights is None:
        est, scaler, md = io.load_bundle(p)
        if est.network_ is None:
            raise ValueError(f"{str(p)!r} holds a gated ReLU model, which has no ReLU network to "
                             "certify; fit with --model relu")
        return est.network_, est, scaler, md
    if "W" not in weights or "a" not in weights:
        raise ValueError(f"{str(p)!r} needs arrays W (m, d) and a (m,) (and optionally b (m,)); "
                         f"found {files}")
    net = TwoLayerReLUNetwork(weights["W"], weights.get("b"), weights["a"],
                              float(weights["c"]) if "c" in weights else None)
    return net, None, None, {}


@cli.command(epilog="""\b
MODEL_OR_WEIGHTS is a model file from 'convexnn fit --output' or an .npz with
arrays W (m, d), a (m,) and optionally b (m,) (hidden bias).

\b
Examples:
  convexnn certify model.npz breast_cancer
  convexnn certify weights.npz data.csv --beta 1e-3 --loss squared --json""")
@click.argument("model_file", metavar="MODEL_OR_WEIGHTS", type=click.Path(dir_okay=False))
@click.argument("data")
@click.option("--beta", type=float, default=None, callback=_positive,
              help="Weight decay (default: the model's; required for a weights file).")
@click.option("--loss", type=click.Choice(["squared", "logistic"]), default=None,
              help="Default: the model's loss, squared for a weights file.")
@click.option("--arrangements", type=click.Choice(["auto", "exact", "search"]), default="auto",
              show_default=True, help="How the dual oracle is computed (exact = a proof).")
@click.option("--tol", type=float, default=1e-6, show_default=True, callback=_positive,
              help="Relative gap below which the network is declared optimal.")
@_with(_data_options)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
def certify(model_file: str, data: str, beta: float | None, loss: str | None, arrangements: str,
            tol: float, target: str | None, data_dir: str | None, split: int,
            as_json: bool) -> None:
    """Bound how far a network is from the global optimum on DATA (duality gap).

    Uses the training part of DATA (with a model file's stored input scaling): prints the
    objective F, a proven lower bound on the optimum, the gap, whether the bound is a proof of
    optimality, and the worst-violating neuron.
    """
    try:
        from .certificates import certify as _certify
    except ImportError as exc:
        raise CliError(f"certificates are not available in this installation ({exc})") from exc
    net, est, scaler, md = _load_network(model_file)
    if beta is None:
        if est is None:
            raise CliError("--beta is required when certifying a weights file")
        beta = float(est.beta)
    if loss is None:
        loss = est.loss if est is not None else "squared"
    ds = _load_data(data, target or md.get("target"), data_dir, split)
    X = _match_columns(ds.X_train, ds.feature_names, md.get("feature_names"), net.n_features)
    X = _apply(scaler, X)
    y = ds.y_train
    if est is not None and hasattr(est, "classes_"):
        y = np.where(y == est.classes_[1], 1.0, -1.0)
    elif loss == "logistic":
        from .datasets import binary_labels

        y = binary_labels(np.asarray(y))[0]
    fit_intercept = bool(est.fit_intercept) if est is not None else net.hidden_bias is not None
    cert = _certify(net, X, np.asarray(y, dtype=np.float64), beta, loss=loss,
                    arrangements=arrangements, fit_intercept=fit_intercept, tol=tol)
    d = cert.to_dict()
    d.pop("dual", None)
    if as_json:
        _echo_json({"model": model_file, "data": data, "n": int(X.shape[0]), **d})
        return
    tty = _is_tty()
    worst = np.asarray(cert.worst_neuron, dtype=float).ravel()
    shown = ", ".join(f"{v:.3g}" for v in worst[:8]) + (", ..." if worst.size > 8 else "")
    rows = [
        ("network", f"{net.n_neurons} neurons, {net.n_features} inputs"),
        ("data", f"{data} (n = {X.shape[0]})"),
        ("beta / loss", f"{_fmt(beta, 'g')} / {loss}"),
        ("objective F (primal)", _fmt(cert.primal, ".10g")),
        ("proven lower bound", _fmt(cert.lower_bound, ".10g")),
        ("gap (relative)", f"{_fmt(cert.gap, '.3e')} ({_fmt(cert.relative_gap, '.3e')})"),
        ("proof (exact oracle)", "yes" if cert.exact else "no (patterns not enumerated)"),
        ("globally optimal", "yes (proven)" if cert.optimal else "not proven"),
        ("worst neuron", f"[{shown}] (g/beta = {_fmt(cert.worst_value, '.4g')})"),
    ]
    _console().print(_kv_table("convexnn certify", rows, tty))
    click.echo(cert.summary())


# --------------------------------------------------------------------------------------------
# datasets
# --------------------------------------------------------------------------------------------


@cli.command(name="datasets", epilog="""\b
Examples:
  convexnn datasets
  convexnn datasets --data-dir /path/to/datasets --json""")
@click.option("--data-dir", type=click.Path(file_okay=False), default=None,
              envvar="CONVEXNN_DATA_DIR", show_envvar=True,
              help="The shared 'datasets' folder holding uci121/ and uci_regression/.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
def datasets_cmd(data_dir: str | None, as_json: bool) -> None:
    """List the bundled datasets and the UCI sets found in the data folder."""
    from . import datasets

    bundled = []
    for name in datasets.BUNDLED:
        info = datasets.load_bundled(name).describe()
        bundled.append({"name": name, "task": info["task"],
                        "n": info["n_train"] + info["n_test"], "d": info["n_features"]})
    out: dict[str, Any] = {"bundled": bundled, "data_dir": data_dir, "uci": None,
                           "uci_regression": None, "notes": []}
    if data_dir:
        if not Path(data_dir).expanduser().is_dir():
            raise FileNotFoundError(f"data folder {data_dir!r} does not exist")
        for key, fn in (("uci", datasets.list_uci), ("uci_regression",
                                                     datasets.list_uci_regression)):
            try:
                out[key] = fn(data_dir)
            except (FileNotFoundError, ValueError) as exc:
                out["notes"].append(str(exc))
    if as_json:
        _echo_json(out)
        return
    from rich import box
    from rich.table import Table

    tty = _is_tty()
    con = _console()
    bx = box.ROUNDED if tty else box.ASCII
    t = Table(title="bundled datasets (no data folder needed)", box=bx)
    for c in ("name", "task", "n", "d"):
        t.add_column(c)
    for r in bundled:
        t.add_row(r["name"], r["task"], str(r["n"]), str(r["d"]))
    con.print(t)
    if out["uci"]:
        t = Table(title=f"uci121 classification sets (use uci:NAME), {len(out['uci'])} found",
                  box=bx)
        for c in ("name", "n", "d", "classes"):
            t.add_column(c)
        for r in out["uci"]:
            t.add_row(f"uci:{r['name']}", str(r["n"]), str(r["d"]), str(r["n_classes"]))
        con.print(t)
    if out["uci_regression"]:
        t = Table(title="UCI regression sets (use uci-reg:NAME)", box=bx)
        for c in ("name", "n", "d", "splits"):
            t.add_column(c)
        for r in out["uci_regression"]:
            t.add_row(f"uci-reg:{r['name']}", str(r["n"]), str(r["d"]), _fmt(r["n_splits"]))
        con.print(t)
    for note in out["notes"]:
        con.print(f"Note: {note}", markup=False)
    if not data_dir:
        con.print("Pass --data-dir (or set CONVEXNN_DATA_DIR) to list the UCI collections.",
                  markup=False)


# --------------------------------------------------------------------------------------------
# path
# --------------------------------------------------------------------------------------------


@cli.command(epilog="""\b
Examples:
  convexnn path breast_cancer --betas 1e-4,1e-3,1e-2 --cv 3 --arrangements 100
  convexnn path diabetes --betas 1e-3,1e-2,1e-1 --model gated --plot path.png""")
@click.argument("data")
@click.option("--betas", required=True, callback=_parse_betas, metavar="B1,B2,...",
              help="Comma-separated weight decays to compare.")
@click.option("--cv", type=click.IntRange(min=2), default=3, show_default=True,
              help="Number of cross-validation folds.")
@_with(_model_options)
@_with(_data_options)
@click.option("--plot", type=click.Path(dir_okay=False), default=None,
              help="Write the path (validation error and neurons vs beta) to this PNG.")
def path(data: str, betas: list[float], cv: int, model: str, loss: str | None,
         arrangements: str, solver: str, task: str, tol: float, max_iter: int,
         time_limit: float | None, seed: int, no_standardize: bool, as_json: bool, quiet: bool,
         target: str | None, data_dir: str | None, split: int, plot: str | None) -> None:
    """Cross-validate the weight decay beta over a grid on the training part of DATA.

    Each fold fits the betas from largest to smallest, warm-starting each fit from the previous
    one. The validation error is the misclassification rate (classification) or the RMSE
    (regression).
    """
    from sklearn.model_selection import KFold, StratifiedKFold

    arr = _parse_arrangements(arrangements)
    ds = _load_data(data, target, data_dir, split)
    t = _resolve_task(ds, task, data)
    X = ds.X_train
    y = ds.y_train if t == "classification" else ds.y_train.astype(np.float64)
    if X.shape[0] < cv:
        raise ValueError(f"{data!r} has {X.shape[0]} training rows, fewer than --cv {cv}")
    splitter = (StratifiedKFold if t == "classification" else KFold)(
        n_splits=cv, shuffle=True, random_state=seed)
    order = sorted(betas, reverse=True)
    errors: dict[float, list[float]] = {b: [] for b in betas}
    neurons: dict[float, list[int]] = {b: [] for b in betas}
    notes: list[str] = []
    show = _is_tty() and not quiet and not as_json
    t0 = time.perf_counter()
    for k, (tr, va) in enumerate(splitter.split(X, y)):
        scaler = None if no_standardize else _scaler_from(X[tr])
        Xtr, Xva = _apply(scaler, X[tr]), _apply(scaler, X[va])
        est = _make_estimator(t, beta=order[0], model=model, loss=loss, arrangements=arr,
                              solver=solver, tol=tol, max_iter=max_iter, time_limit=time_limit,
                              seed=seed, warm_start=True)
        for b in order:
            est.set_params(beta=b)
            fold_notes, interrupted = _fit_with_progress(
                est, Xtr, y[tr], show, f"fold {k + 1}/{cv}, beta {b:g}")
            if interrupted:
                raise CliError("interrupted")
            notes += [f"fold {k + 1}, beta {b:g}: {n}" for n in fold_notes]
            m = _metrics(est, t, Xva, y[va])
            errors[b].append(1.0 - m["accuracy"] if t == "classification" else m["rmse"])
            neurons[b].append(est.n_neurons_)
    mean_err = [float(np.mean(errors[b])) for b in betas]
    std_err = [float(np.std(errors[b])) for b in betas]
    mean_neu = [float(np.mean(neurons[b])) for b in betas]
    best = betas[int(np.argmin(mean_err))]
    plotted = None
    if plot:
        from .plotting import plot_path

        plotted = plot_path(betas, mean_err, mean_neu, plot)
    metric = "error rate" if t == "classification" else "RMSE"
    result = {"dataset": ds.name, "task": t, "cv": cv, "metric": metric, "model": model,
              "betas": betas, "validation_error": mean_err, "validation_error_std": std_err,
              "neurons": mean_neu, "best_beta": best, "time": time.perf_counter() - t0,
              "plot": None if plotted is None else str(plotted), "notes": notes}
    if as_json:
        _echo_json(result)
        return
    from rich import box
    from rich.table import Table

    tty = _is_tty()
    tab = Table(title=f"convexnn path: {ds.name}, {cv}-fold CV ({metric})",
                box=box.ROUNDED if tty else box.ASCII)
    for c in ("beta", f"validation {metric}", "neurons", ""):
        tab.add_column(c)
    for b, e, s, nm in zip(betas, mean_err, std_err, mean_neu, strict=True):
        tab.add_row(f"{b:g}", f"{e:.4g} ± {s:.2g}", f"{nm:.1f}", "best" if b == best else "")
    con = _console()
    con.print(tab)
    con.print(f"best beta: {best:g}  (total time {result['time']:.1f} s)", markup=False)
    if plotted:
        con.print(f"plot written to {plotted}", markup=False)
    if not quiet:
        for note in dict.fromkeys(notes):
            con.print(f"Note: {note}", markup=False)


# --------------------------------------------------------------------------------------------
# bench
# --------------------------------------------------------------------------------------------


def _bench_script() -> Path | None:
    here = Path(__file__).resolve()
    for root in (here.parents[2], Path.cwd()):
        cand = root / "benchmarks" / "run.py"
        if cand.is_file():
            return cand
    return None


@cli.command(context_settings={"ignore_unknown_options": True}, epilog="""\b
Examples:
  convexnn bench
  convexnn bench --full""")
@click.option("--full", is_flag=True, help="Run the full benchmark (default: --quick).")
@click.argument("extra", nargs=-1, type=click.UNPROCESSED)
def bench(full: bool, extra: tuple[str, ...]) -> None:
    """Run the benchmark suite (benchmarks/run.py of the source checkout).

    Extra arguments are passed to benchmarks/run.py.
    """
    script = _bench_script()
    if script is None:
        raise CliError("the benchmarks live in the source checkout (benchmarks/run.py), which "
                       "is not available here; clone the repository and run "
                       "'python benchmarks/run.py --quick'")
    cmd = [sys.executable, str(script)] + ([] if full else ["--quick"]) + list(extra)
    click.echo("running: " + " ".join(cmd), err=True)
    rc = subprocess.call(cmd, cwd=script.parent.parent)
    if rc:
        raise click.exceptions.Exit(rc)


if __name__ == "__main__":  # pragma: no cover
    main()
