"""Saving and loading fitted convexnn estimators (no pickle).

A model file is a single NumPy ``.npz`` archive (written with :func:`numpy.savez`, read with
``numpy.load(..., allow_pickle=False)``), so loading a file never executes code. It holds plain
numeric arrays and one string array ``__meta__`` with a JSON document.

Format ``convexnn-model``, version 1
------------------------------------
``__meta__`` (0-d unicode array) is a JSON object with the keys

* ``format``: ``"convexnn-model"``; ``format_version``: ``1``; ``library_version``: the
  ``convexnn.__version__`` that wrote the file;
* ``estimator``: ``"ConvexReLURegressor"`` or ``"ConvexReLUClassifier"`` (nothing else is
  written or read);
* ``params``: ``get_params()`` of the estimator. Values that are not JSON data are replaced: an
  ``arrangements`` given as gate vectors, an ``Arrangements`` object or a network is stored as
  ``"custom"`` (its gate vectors go to the array ``param_arrangements``), a ``RandomState`` as
  ``null``, a callable as ``null``;
* ``fitted``: scalar fitted attributes (``objective_``, ``lower_bound_``, ``relative_gap_``,
  ``n_neurons_``, ``n_arrangements_``, ``n_iter_``, ``converged_``, ``status_``, ``fit_time_``,
  ``n_features_in_``, ``pruning_``, the fitted model kind); non-finite floats are written as
  JSON ``NaN``/``Infinity`` (Python's :mod:`json` reads them back);
* ``classes``: ``null`` (regressor) or ``{"dtype": ..., "values": [...]}`` for labels of
  integer, boolean or text type; float labels go to the array ``classes`` instead;
* ``network``: ``null`` (gated model) or ``{"hidden_bias": bool, "output_bias": float|null}``;
* ``arrangements``: ``{"n_samples", "method", "exact"}`` of ``arrangements_``;
* ``scaler``: whether the arrays ``scaler_mean``/``scaler_scale`` are present (the input
  standardization applied by the CLI: the estimator sees ``(X - mean) / scale``);
* ``feature_names``: list of str or ``null``; ``feature_names_in``: whether the estimator had
  sklearn's ``feature_names_in_``;
* ``certificate``: ``certificate_.to_dict()`` (without the dual vector) when the estimator has
  a ``certificate_``, else ``null``;
* ``history``: ``history_`` (list of dicts of numbers);
* ``metadata``: the caller's JSON object (dataset name, target, ...);
* ``arrays``: the names of the numeric arrays below, checked on load.

Numeric arrays (float64 unless noted): ``network_hidden_weights`` (m, d),
``network_hidden_bias`` (m,), ``network_output_weights`` (m,) for ``model="relu"``;
``gates`` (d', k) and ``gated_weights`` (k, d') for ``model="gated"``;
``arrangement_gates`` (d', P) and ``arrangement_packed_masks`` (uint8, ceil(n/8), P);
optionally ``classes``, ``scaler_mean``/``scaler_scale``, ``param_arrangements``.

The file is written atomically: to a temporary file in the destination folder, flushed and
``fsync``-ed, then moved over the destination with :func:`os.replace`, so a crash never leaves
a half-written model under the final name. Truncated, corrupted or foreign files raise
:class:`ModelFileError` (a :class:`ValueError`) with a readable message. A reloaded estimator
predicts bit-identically to the one saved (all weights are stored exactly); its
``solver_result_`` is not saved, so ``warm_start`` refits start afresh.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "ModelFileError", "load", "load_bundle", "save"]

FORMAT_NAME = "convexnn-model"
FORMAT_VERSION = 1
_ESTIMATORS = ("ConvexReLURegressor", "ConvexReLUClassifier")
_META_KEY = "__meta__"
_FITTED_SCALARS = {
    "objective_": float,
    "lower_bound_": float,
    "relative_gap_": float,
    "n_neurons_": int,
    "n_arrangements_": int,
    "n_iter_": int,
    "converged_": bool,
    "status_": str,
    "fit_time_": float,
    "n_features_in_": int,
}


class ModelFileError(ValueError):
    """A file is not a readable convexnn model (truncated, corrupted, foreign or too new)."""


# --------------------------------------------------------------------------------------------
# atomic writing (shared with the CLI and plotting)
# --------------------------------------------------------------------------------------------


def atomic_write(path: str | os.PathLike[str], write: Callable[[IO[bytes]], Any]) -> Path:
    """Call ``write(fh)`` on a temporary file next to ``path``, then move it onto ``path``.

    The temporary file is flushed and ``fsync``-ed before :func:`os.replace`, and removed if
    ``write`` raises, so ``path`` is either the old file or the complete new one.
    """
    dest = Path(path).expanduser()
    folder = dest.parent if str(dest.parent) else Path(".")
    if not folder.is_dir():
        raise FileNotFoundError(f"cannot write {str(dest)!r}: folder {str(folder)!r} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # persist the rename (best effort; not on Windows)
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    return dest


# --------------------------------------------------------------------------------------------
# JSON helpers
# --------------------------------------------------------------------------------------------


def _jsonable(obj: Any) -> Any:
    """Plain-Python copy of ``obj`` (numpy scalars/arrays converted); raises TypeError else."""
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, (int, np.integer)) and not isinstance(obj, np.bool_):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return [_jsonable(v) for v in obj.tolist()]
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    raise TypeError(f"{type(obj).__name__} is not JSON data")


def _param_value(name: str, value: Any, arrays: dict[str, np.ndarray]) -> Any:
    if name == "arrangements" and not isinstance(value, (str, int, np.integer)):
        gates = None
        if hasattr(value, "gates"):
            g = value.gates
            gates = g() if callable(g) else g
        elif value is not None:
            with contextlib.suppress(Exception):
                gates = np.asarray(value, dtype=np.float64)
        if gates is not None and np.ndim(gates) == 2:
            arrays["param_arrangements"] = np.ascontiguousarray(gates, dtype=np.float64)
        return "custom"
    if callable(value) and not isinstance(value, type):
        return None
    try:
        return _jsonable(value)
    except TypeError:
        return None  # e.g. a RandomState instance


def _scaler_arrays(scaler: Any) -> tuple[np.ndarray, np.ndarray] | None:
    if scaler is None:
        return None
    if isinstance(scaler, dict):
        mean, scale = scaler.get("mean"), scaler.get("scale")
    else:  # sklearn StandardScaler or similar
        mean, scale = getattr(scaler, "mean_", None), getattr(scaler, "scale_", None)
    if mean is None or scale is None:
        raise ValueError("scaler must be a dict with 'mean' and 'scale' arrays or a fitted "
                         "StandardScaler (mean_ and scale_)")
    mean = np.asarray(mean, dtype=np.float64).ravel()
    scale = np.asarray(scale, dtype=np.float64).ravel()
    if mean.shape != scale.shape:
        raise ValueError(f"scaler mean has shape {mean.shape} but scale has {scale.shape}")
    return mean, scale


# --------------------------------------------------------------------------------------------
# save
# --------------------------------------------------------------------------------------------


def save(
    estimator: Any,
    path: str | os.PathLike[str],
    *,
    scaler: Any = None,
    metadata: dict[str, Any] | None = None,
) -> Path:
    """Save a fitted :class:`~convexnn.estimators.ConvexReLURegressor` or
    :class:`~convexnn.estimators.ConvexReLUClassifier` to ``path`` (format in the module doc).

    Parameters
    ----------
    estimator : fitted ConvexReLURegressor or ConvexReLUClassifier
    path : path-like
        Destination, written exactly as given (no suffix is appended); ``.npz`` is customary.
    scaler : dict with ``"mean"`` and ``"scale"`` arrays, fitted ``StandardScaler`` or None
        The input standardization to apply before ``estimator.predict`` (stored, not applied).
    metadata : dict, optional
        JSON-serializable information (dataset name, target column, feature names, ...).

    Returns
    -------
    pathlib.Path
        The path written.
    """
    name = type(estimator).__name__
    if name not in _ESTIMATORS:
        raise TypeError(f"convexnn.io.save stores {' and '.join(_ESTIMATORS)} only, got {name}")
    if not hasattr(estimator, "objective_"):
        raise ValueError(f"this {name} is not fitted; call fit before saving it")
    arrays: dict[str, np.ndarray] = {}

    params = {k: _param_value(k, v, arrays) for k, v in estimator.get_params(deep=False).items()}
    fitted: dict[str, Any] = {}
    for attr, kind in _FITTED_SCALARS.items():
        if hasattr(estimator, attr):
            fitted[attr] = kind(getattr(estimator, attr))
    fitted["pruning_"] = _jsonable(getattr(estimator, "pruning_", {}))
    fitted["model"] = getattr(estimator, "_fitted_model", params.get("model"))

    net = getattr(estimator, "network_", None)
    net_meta = None
    if net is not None:
        arrays["network_hidden_weights"] = np.asarray(net.hidden_weights, dtype=np.float64)
        arrays["network_output_weights"] = np.asarray(net.output_weights, dtype=np.float64)
        if net.hidden_bias is not None:
            arrays["network_hidden_bias"] = np.asarray(net.hidden_bias, dtype=np.float64)
        net_meta = {"hidden_bias": net.hidden_bias is not None,
                    "output_bias": None if net.output_bias is None else float(net.output_bias)}
    elif getattr(estimator, "gates_", None) is not None:
        arrays["gates"] = np.asarray(estimator.gates_, dtype=np.float64)
        arrays["gated_weights"] = np.asarray(estimator.gated_weights_, dtype=np.float64)
    else:
        raise ValueError(f"this {name} has neither network_ nor gates_; it cannot be saved")

    arr = getattr(estimator, "arrangements_", None)
    arr_meta = None
    if arr is not None:
        arrays["arrangement_gates"] = np.asarray(arr.gates, dtype=np.float64)
        arrays["arrangement_packed_masks"] = np.asarray(arr.packed_masks, dtype=np.uint8)
        arr_meta = {"n_samples": int(arr.n_samples), "method": str(arr.method),
                    "exact": bool(arr.exact)}

    classes_meta: dict[str, Any] | None = None
    if hasattr(estimator, "classes_"):
        cl = np.asarray(estimator.classes_)
        if cl.dtype.kind in "fc":
            arrays["classes"] = cl
            classes_meta = {"dtype": str(cl.dtype), "values": None}
        elif cl.dtype.kind in "biuUSO":
            values = [v if isinstance(v, str) else _jsonable(v) for v in cl.tolist()]
            if cl.dtype.kind == "O" and not all(isinstance(v, (str, int)) for v in values):
                raise ValueError("classes_ of object dtype must hold str or int labels to be saved")
            classes_meta = {"dtype": cl.dtype.str if cl.dtype.kind != "O" else "object",
                            "values": values}
        else:
            raise ValueError(f"cannot save classes_ of dtype {cl.dtype}")

    sc = _scaler_arrays(scaler)
    if sc is not None:
        arrays["scaler_mean"], arrays["scaler_scale"] = sc

    metadata = dict(metadata or {})
    feature_names = None
    if hasattr(estimator, "feature_names_in_"):
        feature_names = [str(s) for s in estimator.feature_names_in_]
    elif metadata.get("feature_names") is not None:
        feature_names = [str(s) for s in metadata["feature_names"]]

    cert = getattr(estimator, "certificate_", None)
    cert_meta = None
    if cert is not None:
        cd = cert.to_dict() if hasattr(cert, "to_dict") else dict(cert)
        cd.pop("dual", None)
        cert_meta = _jsonable(cd)

    from . import __version__

    meta = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "library_version": __version__,
        "estimator": name,
        "params": params,
        "fitted": fitted,
        "classes": classes_meta,
        "network": net_meta,
        "arrangements": arr_meta,
        "scaler": sc is not None,
        "feature_names": feature_names,
        "feature_names_in": hasattr(estimator, "feature_names_in_"),
        "certificate": cert_meta,
        "history": _jsonable(list(getattr(estimator, "history_", []) or [])),
        "metadata": _jsonable(metadata),
        "arrays": sorted(arrays),
    }
    try:
        text = json.dumps(meta)
    except TypeError as exc:  # pragma: no cover - _jsonable guards this
        raise ValueError(f"model metadata is not JSON-serializable: {exc}") from exc
    payload: dict[str, Any] = {k: np.ascontiguousarray(v) for k, v in arrays.items()}
    payload[_META_KEY] = np.array(text)

    return atomic_write(path, lambda fh: np.savez(fh, **payload))


# --------------------------------------------------------------------------------------------
# load
# --------------------------------------------------------------------------------------------


def _read(path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    p = Path(path).expanduser()
    if not p.exists():
        raise FileNotFoundError(f"model file {str(p)!r} does not exist")
    if p.is_dir():
        raise ModelFileError(f"{str(p)!r} is a folder, not a convexnn model file")
    with p.open("rb") as fh:
        head = fh.read(4)
    if head != b"PK\x03\x04":
        raise ModelFileError(
            f"{str(p)!r} is not a convexnn model file (not an .npz archive"
            + (": the file is empty)" if not head else ")")
        )
    try:
        with zipfile.ZipFile(p) as zf:  # CRC check of every member: catches flipped bytes
            bad = zf.testzip()
        if bad is not None:
            raise ModelFileError(f"{str(p)!r} is corrupted (checksum mismatch in {bad!r})")
        with np.load(p, allow_pickle=False) as z:
            if not isinstance(z, np.lib.npyio.NpzFile):  # pragma: no cover - guarded above
                raise ModelFileError(f"{str(p)!r} is not an .npz archive")
            files = list(z.files)
            if _META_KEY not in files:
                raise ModelFileError(
                    f"{str(p)!r} is an .npz archive but not a convexnn model file (no "
                    f"'{_META_KEY}' entry; it holds {files[:8]})"
                )
            arrays = {k: np.asarray(z[k]) for k in files}
    except ModelFileError:
        raise
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise ModelFileError(
                f"{str(p)!r} holds pickled (object) arrays; convexnn model files never do, and "
                "they are not loaded for safety"
            ) from exc
        raise ModelFileError(f"{str(p)!r} is corrupted or truncated ({exc})") from exc
    except (zipfile.BadZipFile, EOFError, OSError, KeyError, RuntimeError) as exc:
        raise ModelFileError(
            f"{str(p)!r} is corrupted or truncated ({type(exc).__name__}: {exc})"
        ) from exc
    raw = arrays.pop(_META_KEY)
    if raw.dtype.kind != "U" or raw.size != 1:
        raise ModelFileError(f"{str(p)!r}: malformed '{_META_KEY}' entry")
    try:
        meta = json.loads(str(raw.reshape(())))
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"{str(p)!r}: the model description is not valid JSON ({exc})") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        raise ModelFileError(f"{str(p)!r} is not a convexnn model file (format "
                             f"{meta.get('format') if isinstance(meta, dict) else None!r})")
    version = meta.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise ModelFileError(f"{str(p)!r}: invalid format version {version!r}")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{str(p)!r} uses model format version {version}, written by convexnn "
            f"{meta.get('library_version')}; this convexnn reads version {FORMAT_VERSION} or "
            "older: upgrade convexnn"
        )
    if meta.get("estimator") not in _ESTIMATORS:
        raise ModelFileError(f"{str(p)!r}: unknown estimator {meta.get('estimator')!r}; "
                             f"expected one of {list(_ESTIMATORS)}")
    missing = [a for a in meta.get("arrays", []) if a not in arrays]
    if missing:
        raise ModelFileError(f"{str(p)!r} is incomplete: arrays {missing} are missing")
    for k, v in arrays.items():
        if v.dtype.kind not in "biuf":
            raise ModelFileError(f"{str(p)!r}: array {k!r} has unexpected dtype {v.dtype}")
    return meta, arrays


def _build(meta: dict[str, Any], arrays: dict[str, np.ndarray], where: str) -> Any:
    from .arrangements import Arrangements
    from .estimators import ConvexReLUClassifier, ConvexReLURegressor
    from .network import TwoLayerReLUNetwork

    cls = {"ConvexReLURegressor": ConvexReLURegressor,
           "ConvexReLUClassifier": ConvexReLUClassifier}[meta["estimator"]]
    est: Any = cls()
    valid = est.get_params(deep=False)
    params = {k: v for k, v in (meta.get("params") or {}).items() if k in valid}
    if params.get("arrangements") == "custom":
        params["arrangements"] = arrays.get("param_arrangements", "auto")
    est.set_params(**params)

    fitted = meta.get("fitted") or {}
    for attr, kind in _FITTED_SCALARS.items():
        if attr in fitted and fitted[attr] is not None:
            setattr(est, attr, kind(fitted[attr]))
    est.pruning_ = dict(fitted.get("pruning_") or {})
    est._fitted_model = fitted.get("model", est.model)
    est.history_ = list(meta.get("history") or [])

    d_in = fitted.get("n_features_in_")
    if d_in is None:
        raise ModelFileError(f"{where}: n_features_in_ is missing")
    d_design = d_in + (1 if est.fit_intercept else 0)
    net_meta = meta.get("network")
    if net_meta is not None:
        W = arrays.get("network_hidden_weights")
        a = arrays.get("network_output_weights")
        b = arrays.get("network_hidden_bias") if net_meta.get("hidden_bias") else None
        if W is None or a is None or (net_meta.get("hidden_bias") and b is None):
            raise ModelFileError(f"{where}: the network weights are missing")
        if W.ndim != 2 or W.shape[1] != d_in or a.shape != (W.shape[0],) or (
                b is not None and b.shape != (W.shape[0],)):
            raise ModelFileError(f"{where}: the network weights have inconsistent shapes "
                                 f"(W {W.shape}, a {a.shape}, {d_in} features)")
        try:
            est.network_ = TwoLayerReLUNetwork(W, b, a, net_meta.get("output_bias"))
        except ValueError as exc:
            raise ModelFileError(f"{where}: invalid network weights ({exc})") from exc
        est.gates_ = None
        est.gated_weights_ = None
    else:
        G, U = arrays.get("gates"), arrays.get("gated_weights")
        if G is None or U is None:
            raise ModelFileError(f"{where}: neither network weights nor gated weights found")
        if G.ndim != 2 or U.ndim != 2 or G.shape[0] != d_design or U.shape != (G.shape[1],
                                                                               d_design):
            raise ModelFileError(f"{where}: the gated model arrays have inconsistent shapes "
                                 f"(gates {G.shape}, weights {U.shape})")
        est.network_ = None
        est.gates_ = G
        est.gated_weights_ = U

    am = meta.get("arrangements")
    if am is not None and "arrangement_gates" in arrays:
        est.arrangements_ = Arrangements(
            gates=arrays["arrangement_gates"].astype(np.float64, copy=False),
            packed_masks=arrays["arrangement_packed_masks"].astype(np.uint8, copy=False),
            n_samples=int(am["n_samples"]), method=str(am.get("method", "sampled")),
            exact=bool(am.get("exact", False)),
        )

    cm = meta.get("classes")
    if meta["estimator"] == "ConvexReLUClassifier":
        if cm is None:
            raise ModelFileError(f"{where}: a classifier file without classes_")
        if cm.get("values") is None:
            if "classes" not in arrays:
                raise ModelFileError(f"{where}: the classes array is missing")
            est.classes_ = arrays["classes"]
        else:
            dt = cm.get("dtype", "object")
            est.classes_ = np.array(cm["values"], dtype=object if dt == "object" else np.dtype(dt))
    if meta.get("feature_names_in") and meta.get("feature_names"):
        est.feature_names_in_ = np.array(meta["feature_names"], dtype=object)
    if meta.get("certificate") is not None:
        est.certificate_ = meta["certificate"]
    return est


def load_bundle(path: str | os.PathLike[str]) -> tuple[Any, dict[str, np.ndarray] | None,
                                                        dict[str, Any]]:
    """Load a model file written by :func:`save`.

    Returns
    -------
    estimator : ConvexReLURegressor or ConvexReLUClassifier
        Fitted; predicts exactly as the saved one.
    scaler : dict or None
        ``{"mean": ndarray, "scale": ndarray}``: apply ``(X - mean) / scale`` before predicting.
    metadata : dict
        The caller's ``metadata`` plus ``feature_names``, ``certificate``, ``library_version``
        and ``format_version`` read from the file.

    Raises
    ------
    FileNotFoundError
        No such file.
    ModelFileError
        The file is not a (readable) convexnn model file.
    """
    where = repr(str(Path(path).expanduser()))
    meta, arrays = _read(path)
    try:
        est = _build(meta, arrays, where)
    except ModelFileError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ModelFileError(f"{where}: the model description is inconsistent "
                             f"({type(exc).__name__}: {exc})") from exc
    scaler = None
    if meta.get("scaler"):
        mean, scale = arrays.get("scaler_mean"), arrays.get("scaler_scale")
        if mean is None or scale is None or mean.shape != scale.shape or mean.shape != (
                est.n_features_in_,):
            raise ModelFileError(f"{where}: the stored input scaling is missing or has the "
                                 "wrong shape")
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(scale)) and np.all(scale > 0)):
            raise ModelFileError(f"{where}: the stored input scaling is not finite/positive")
        scaler = {"mean": mean, "scale": scale}
    md = dict(meta.get("metadata") or {})
    md.setdefault("feature_names", meta.get("feature_names"))
    md["certificate"] = meta.get("certificate")
    md["library_version"] = meta.get("library_version")
    md["format_version"] = meta.get("format_version")
    return est, scaler, md


def load(path: str | os.PathLike[str]) -> Any:
    """Load a fitted estimator saved by :func:`save` (see :func:`load_bundle`)."""
    return load_bundle(path)[0]
