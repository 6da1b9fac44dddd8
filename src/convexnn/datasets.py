"""Dataset loaders: bundled toy sets, the UCI benchmark collections, MNIST and user tables.

Nothing is read at import time. Every loader that needs files takes the data folder as an
argument; see ``SOURCES.md`` in the shared ``datasets`` folder for the file formats.

Collections
-----------
* bundled sets (no folder needed): :data:`BUNDLED`, loaded with :func:`load_bundled`;
* ``uci121``: the Fernández-Delgado et al. (2014) classification collection, :func:`load_uci`;
* ``uci_regression``: the Hernández-Lobato & Adams / Gal & Ghahramani regression benchmarks,
  :func:`load_uci_regression`;
* ``mnist`` / ``fashion_mnist`` IDX files, :func:`load_mnist`;
* user tables (CSV, NPZ, Parquet), :func:`load_table`.

:func:`load` is a single entry point that dispatches on a name or a path.
"""

from __future__ import annotations

import csv
import gzip
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "BUNDLED",
    "Dataset",
    "binary_labels",
    "list_uci",
    "list_uci_regression",
    "load",
    "load_bundled",
    "load_mnist",
    "load_table",
    "load_uci",
    "load_uci_regression",
]

BUNDLED: tuple[str, ...] = ("breast_cancer", "diabetes", "wine_binary", "spline1d")
"""Names accepted by :func:`load_bundled` (no data folder needed)."""

MNIST_KINDS: tuple[str, ...] = ("mnist", "fashion_mnist")

_TABLE_SUFFIXES = (".csv", ".npz", ".parquet", ".pq")
_DATA_DIR_ENV = "CONVEXNN_DATA_DIR"


# --------------------------------------------------------------------------------------------
# Dataset container
# --------------------------------------------------------------------------------------------


@dataclass
class Dataset:
    """A supervised dataset with an optional held-out test part.

    Attributes
    ----------
    name : str
        Short name, e.g. ``"breast_cancer"`` or ``"uci:monks-1"``.
    X_train : ndarray of shape (n_train, d)
        Training features (float64).
    y_train : ndarray of shape (n_train,)
        Training targets: integer class labels for classification, floats for regression.
    X_test, y_test : ndarray or None
        Test part, or ``None`` when the source has no test split (e.g. a user table).
    task : {"classification", "regression"}
        Kind of learning problem.
    feature_names : list of str or None
        One name per column of ``X_train``, when known.
    n_classes : int or None
        Number of classes for classification, ``None`` for regression.
    description : str
        Human-readable provenance and preprocessing notes.
    """

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray | None
    y_test: np.ndarray | None
    task: str
    feature_names: list[str] | None
    n_classes: int | None
    description: str

    def __post_init__(self) -> None:
        if self.task not in ("classification", "regression"):
            raise ValueError(
                f"Dataset.task must be 'classification' or 'regression', got {self.task!r}."
            )
        if self.X_train.ndim != 2:
            raise ValueError(f"X_train must be 2-D, got shape {self.X_train.shape}.")
        if len(self.y_train) != len(self.X_train):
            raise ValueError(
                f"X_train has {len(self.X_train)} rows but y_train has {len(self.y_train)}."
            )
        if (self.X_test is None) != (self.y_test is None):
            raise ValueError("X_test and y_test must both be given or both be None.")
        if self.X_test is not None and self.y_test is not None:
            if self.X_test.ndim != 2 or self.X_test.shape[1] != self.X_train.shape[1]:
                raise ValueError(
                    f"X_test has shape {self.X_test.shape}; expected (n, {self.X_train.shape[1]})."
                )
            if len(self.y_test) != len(self.X_test):
                raise ValueError(
                    f"X_test has {len(self.X_test)} rows but y_test has {len(self.y_test)}."
                )

    @property
    def n_features(self) -> int:
        """Number of feature columns."""
        return int(self.X_train.shape[1])

    def describe(self) -> dict[str, Any]:
        """Summarize the dataset.

        Returns
        -------
        dict
            Keys ``name``, ``n_train``, ``n_test`` (0 if there is no test part),
            ``n_features``, ``task`` and ``n_classes``.
        """
        return {
            "name": self.name,
            "n_train": int(self.X_train.shape[0]),
            "n_test": 0 if self.X_test is None else int(self.X_test.shape[0]),
            "n_features": self.n_features,
            "task": self.task,
            "n_classes": self.n_classes,
        }


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def _standardize(
    X_train: np.ndarray, X_test: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Z-score both parts with the training mean/std (ddof=0); a zero std is replaced by 1."""
    mean = X_train.mean(axis=0)
    std = X_train.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    X_tr = (X_train - mean) / std
    X_te = None if X_test is None else (X_test - mean) / std
    return X_tr, X_te


def _resolve_collection(folder: str | os.PathLike[str], subdir: str) -> Path:
    """Return ``folder/subdir`` if it exists, else ``folder`` itself (the collection dir)."""
    if folder is None:
        raise ValueError(
            f"A data folder is needed to load the {subdir!r} collection: pass the path of the "
            f"'datasets' folder (or set {_DATA_DIR_ENV})."
        )
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(
            f"Data folder {str(root)!r} does not exist. Pass the 'datasets' folder that holds "
            f"'{subdir}/' (or the '{subdir}' folder itself)."
        )
    sub = root / subdir
    return sub if sub.is_dir() else root


def _require_file(path: Path, what: str) -> Path:
    if not path.is_file():
        raise FileNotFoundError(
            f"Missing {what}: {str(path)!r}. Check the data folder (see its SOURCES.md and "
            f"run 'sha256sum -c SHA256SUMS' inside it)."
        )
    return path


# --------------------------------------------------------------------------------------------
# bundled sets
# --------------------------------------------------------------------------------------------


def _spline1d() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.uniform(-2.0, 2.0, size=60)
    y = np.sin(2.0 * x) + 0.1 * rng.standard_normal(60)
    return x.reshape(-1, 1), y


def load_bundled(
    name: str,
    *,
    test_size: float = 0.25,
    random_state: int = 0,
    standardize: bool = True,
) -> Dataset:
    """Load a small dataset that needs no data folder.

    Parameters
    ----------
    name : str
        One of :data:`BUNDLED`:

        * ``"breast_cancer"``: scikit-learn's Wisconsin breast cancer set, binary (0/1 labels);
        * ``"diabetes"``: scikit-learn's diabetes regression set;
        * ``"wine_binary"``: scikit-learn's wine set, label 1 for class 0 and 0 for the rest;
        * ``"spline1d"``: 60 synthetic points from a fixed seed, ``x ~ U[-2, 2]`` and
          ``y = sin(2x) + 0.1 * N(0, 1)``.
    test_size : float, default 0.25
        Fraction held out as the test part (``sklearn.model_selection.train_test_split``,
        stratified for classification).
    random_state : int, default 0
        Seed of the train/test split (the spline1d points themselves never change).
    standardize : bool, default True
        Z-score features with the training part's mean and std. Not applied to
        ``"spline1d"``, whose single feature is kept on [-2, 2].

    Returns
    -------
    Dataset
    """
    from sklearn import datasets as skd
    from sklearn.model_selection import train_test_split

    if name not in BUNDLED:
        raise ValueError(f"Unknown bundled dataset {name!r}; choose one of {list(BUNDLED)}.")
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"test_size must be in (0, 1), got {test_size!r}.")

    feature_names: list[str] | None
    if name == "spline1d":
        X, y = _spline1d()
        task, n_classes, feature_names = "regression", None, ["x"]
        desc = "Synthetic 1-D regression: x ~ U[-2, 2], y = sin(2x) + 0.1 N(0, 1), 60 points."
        standardize = False
    elif name == "diabetes":
        bunch = skd.load_diabetes()
        X, y = bunch.data, bunch.target.astype(np.float64)
        task, n_classes = "regression", None
        feature_names = list(bunch.feature_names)
        desc = "scikit-learn diabetes regression set (442 x 10)."
    elif name == "breast_cancer":
        bunch = skd.load_breast_cancer()
        X, y = bunch.data, bunch.target.astype(np.int64)
        task, n_classes = "classification", 2
        feature_names = list(bunch.feature_names)
        desc = "scikit-learn Wisconsin breast cancer set (569 x 30), 0 = malignant, 1 = benign."
    else:  # wine_binary
        bunch = skd.load_wine()
        X, y = bunch.data, (bunch.target == 0).astype(np.int64)
        task, n_classes = "classification", 2
        feature_names = list(bunch.feature_names)
        desc = "scikit-learn wine set (178 x 13), label 1 = class 0, label 0 = classes 1 and 2."

    X = np.asarray(X, dtype=np.float64)
    X_tr, X_te, y_tr, y_te = train_test_split(
        X,
        y,
        test_size=test_size,
        random_state=random_state,
        stratify=y if task == "classification" else None,
    )
    if standardize:
        X_tr, X_te = _standardize(X_tr, X_te)
        desc += " Features standardized with training-part statistics."
    return Dataset(
        name=name,
        X_train=X_tr,
        y_train=y_tr,
        X_test=X_te,
        y_test=y_te,
        task=task,
        feature_names=feature_names,
        n_classes=n_classes,
        description=desc,
    )


# --------------------------------------------------------------------------------------------
# uci121 (Fernández-Delgado et al. 2014)
# --------------------------------------------------------------------------------------------


def _read_uci_meta(path: Path) -> dict[str, str]:
    meta: dict[str, str] = {}
    tokens = path.read_text().split()
    for i, tok in enumerate(tokens):
        if tok.endswith("=") and i + 1 < len(tokens):
            meta[tok[:-1]] = tokens[i + 1]
    for key in ("n_entradas", "n_clases", "n_arquivos", "fich1", "n_patrons1"):
        if key not in meta:
            raise ValueError(f"{str(path)!r} has no '{key}=' entry; the file looks corrupt.")
    return meta


def _read_uci_dat(path: Path, d: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    _require_file(path, "uci121 data file")
    with path.open() as fh:
        header = fh.readline().split()
        data = np.loadtxt(fh, ndmin=2)
    if data.shape[1] != d + 2:
        raise ValueError(
            f"{str(path)!r} has {data.shape[1]} columns; expected index + {d} features + label."
        )
    names = header[:-1] if len(header) == d + 1 else [f"f{j + 1}" for j in range(d)]
    return data[:, 1:-1], data[:, -1].astype(np.int64), names


def _uci_dir(folder: str | os.PathLike[str], name: str) -> Path:
    root = _resolve_collection(folder, "uci121")
    ddir = root / name
    if not (ddir / f"{name}.txt").is_file():
        raise FileNotFoundError(
            f"No uci121 dataset {name!r} in {str(root)!r} (expected {name}/{name}.txt). "
            "Call convexnn.datasets.list_uci(folder) to see the available names."
        )
    return ddir


def _read_kfold(path: Path) -> list[np.ndarray]:
    _require_file(path, "uci121 split file")
    lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
    return [np.array(ln.split(), dtype=np.int64) for ln in lines]


def load_uci(
    folder: str | os.PathLike[str],
    name: str,
    *,
    split: int = 0,
    per_file_scaling: bool = True,
) -> Dataset:
    """Load one dataset of the ``uci121`` classification collection.

    Parameters
    ----------
    folder : path-like
        The ``uci121`` folder or its parent (the shared ``datasets`` folder).
    name : str
        Dataset name, e.g. ``"abalone"`` or ``"monks-1"`` (see :func:`list_uci`).
    split : int, default 0
        Which of the 4 official random splits of ``conxuntos_kfold.dat`` to use (0..3).
        Ignored for the 18 datasets that ship a separate test file (``n_arquivos= 2``):
        those always use the train file for training and the test file for testing.
    per_file_scaling : bool, default True
        Only for the datasets with a separate test file: z-score the train file and the test
        file each with its own statistics (see Notes). ``False`` applies the train file's
        statistics to the test file instead, which leaves the raw test files on a different
        scale than the training data.

    Returns
    -------
    Dataset
        Integer labels in ``0..n_classes-1``.

    Notes
    -----
    Upstream standardization is inconsistent, so features are re-standardized here
    (ddof=0; a zero std is replaced by 1):

    * single-file datasets: with the *training* part's mean and std, applied to the test part;
    * datasets with a separate test file: upstream z-scored each file with its own statistics,
      except that 7 test files are raw (annealing, hayes-roth, hill-valley, horse-colic,
      image-segmentation, soybean, spect) and 4 train files are not z-scored (monks-1/2/3,
      spectf). The raw statistics of an already z-scored train file are lost, so train-part
      statistics cannot put a raw test file on the training scale (hayes-roth: 1-NN test
      accuracy 0.04 that way, 0.82 with per-file scaling). By default each file is therefore
      z-scored with its own statistics, which is upstream's convention and a no-op for the
      files it already z-scored.

    The 4 ``conxuntos_kfold`` test parts overlap: they are 4 random 75/25 splits,
    not a 4-fold partition.
    """
    ddir = _uci_dir(folder, name)
    meta = _read_uci_meta(ddir / f"{name}.txt")
    d, k = int(meta["n_entradas"]), int(meta["n_clases"])
    X1, y1, feat = _read_uci_dat(ddir / meta["fich1"], d)
    scaling = ""
    if int(meta["n_arquivos"]) >= 2 and "fich2" in meta:
        X2, y2, _ = _read_uci_dat(ddir / meta["fich2"], d)
        X_tr, y_tr, X_te, y_te = X1, y1, X2, y2
        how = f"official train file {meta['fich1']} / test file {meta['fich2']}"
        if per_file_scaling:
            X_te = _standardize(X_te, None)[0]
            scaling = "features z-scored per file (train and test file each with its own stats)"
    else:
        if not isinstance(split, (int, np.integer)) or not 0 <= split <= 3:
            raise ValueError(f"split must be an integer in 0..3 for uci121, got {split!r}.")
        parts = _read_kfold(ddir / "conxuntos_kfold.dat")
        if len(parts) < 2 * split + 2:
            raise ValueError(
                f"{str(ddir / 'conxuntos_kfold.dat')!r} has {len(parts)} lines; "
                f"split {split} needs line {2 * split + 2}."
            )
        tr, te = parts[2 * split], parts[2 * split + 1]
        if tr.max(initial=-1) >= len(X1) or te.max(initial=-1) >= len(X1):
            raise ValueError(f"Split indices of {name!r} exceed the {len(X1)} rows of fich1.")
        X_tr, y_tr, X_te, y_te = X1[tr], y1[tr], X1[te], y1[te]
        how = f"conxuntos_kfold split {split} of {meta['fich1']}"
    for part, yy in (("train", y_tr), ("test", y_te)):
        if yy.size and (yy.min() < 0 or yy.max() >= k):
            raise ValueError(f"{name!r} {part} labels fall outside 0..{k - 1}.")
    X_tr, X_te_train_stats = _standardize(X_tr, X_te)
    if X_te_train_stats is not None and not scaling:
        X_te = X_te_train_stats
        scaling = "features re-standardized with training-part statistics"
    return Dataset(
        name=f"uci:{name}",
        X_train=X_tr,
        y_train=y_tr,
        X_test=X_te,
        y_test=y_te,
        task="classification",
        feature_names=feat,
        n_classes=k,
        description=(f"uci121 (Fernández-Delgado et al. 2014) {name}: {how}; {scaling}."),
    )


def list_uci(folder: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """List the datasets of the ``uci121`` collection.

    Parameters
    ----------
    folder : path-like
        The ``uci121`` folder or its parent.

    Returns
    -------
    list of dict
        One dict per dataset, sorted by name, with keys ``name``, ``n`` (all rows, train and
        test files together), ``d``, ``n_classes`` and ``has_test_file``. Read from
        ``INDEX.tsv`` when present, otherwise from each ``NAME.txt``.
    """
    root = _resolve_collection(folder, "uci121")
    out: list[dict[str, Any]] = []
    index = root / "INDEX.tsv"
    if index.is_file():
        with index.open(newline="") as fh:
            for row in csv.DictReader(fh, delimiter="\t"):
                if not (root / row["name"]).is_dir():
                    continue
                n2 = int(row["n2"]) if row.get("n2", "0").strip() not in ("", "-") else 0
                out.append(
                    {
                        "name": row["name"],
                        "n": int(row["n1"]) + n2,
                        "d": int(row["n_features"]),
                        "n_classes": int(row["n_classes"]),
                        "has_test_file": row.get("file2", "-") not in ("", "-"),
                    }
                )
    else:
        for sub in sorted(p for p in root.iterdir() if p.is_dir()):
            txt = sub / f"{sub.name}.txt"
            if not txt.is_file():
                continue
            meta = _read_uci_meta(txt)
            out.append(
                {
                    "name": sub.name,
                    "n": int(meta["n_patrons1"]) + int(meta.get("n_patrons2", 0)),
                    "d": int(meta["n_entradas"]),
                    "n_classes": int(meta["n_clases"]),
                    "has_test_file": "fich2" in meta,
                }
            )
    if not out:
        raise FileNotFoundError(
            f"No uci121 datasets found in {str(root)!r}; pass the 'uci121' folder or its parent."
        )
    return sorted(out, key=lambda r: r["name"])


# --------------------------------------------------------------------------------------------
# uci_regression (Hernández-Lobato & Adams / Gal & Ghahramani)
# --------------------------------------------------------------------------------------------


def _uci_reg_dir(folder: str | os.PathLike[str], name: str) -> Path:
    root = _resolve_collection(folder, "uci_regression")
    for cand in (root / name, root / name / "data"):
        if (cand / "data.txt").is_file():
            return cand
    raise FileNotFoundError(
        f"No uci_regression dataset {name!r} in {str(root)!r} (expected {name}/data.txt). "
        "Call convexnn.datasets.list_uci_regression(folder) to see the available names."
    )


def _read_int_lines(path: Path, what: str) -> np.ndarray:
    _require_file(path, what)
    return np.array(path.read_text().split(), dtype=np.float64).astype(np.int64)


def load_uci_regression(folder: str | os.PathLike[str], name: str, *, split: int = 0) -> Dataset:
    """Load one dataset of the ``uci_regression`` benchmark with its fixed 90/10 split.

    Parameters
    ----------
    folder : path-like
        The ``uci_regression`` folder or its parent (the shared ``datasets`` folder).
    name : str
        Dataset name, e.g. ``"yacht"`` or ``"bostonHousing"`` (see :func:`list_uci_regression`).
    split : int, default 0
        Split number ``K`` (``index_train_K.txt`` / ``index_test_K.txt``), in
        ``0..n_splits-1`` (20 splits, 5 for protein-tertiary-structure).

    Returns
    -------
    Dataset
        Features standardized with the training part's mean/std (zero std → 1); the
        targets ``y`` are left raw (not standardized).
    """
    ddir = _uci_reg_dir(folder, name)
    n_splits_file = ddir / "n_splits.txt"
    n_splits = int(n_splits_file.read_text().split()[0]) if n_splits_file.is_file() else None
    if (
        not isinstance(split, (int, np.integer))
        or split < 0
        or (n_splits is not None and split >= n_splits)
    ):
        raise ValueError(
            f"split must be an integer in 0..{(n_splits or 1) - 1} for {name!r}, got {split!r}."
        )
    data = np.loadtxt(ddir / "data.txt", ndmin=2)
    feat = _read_int_lines(ddir / "index_features.txt", "feature index file")
    target = _read_int_lines(ddir / "index_target.txt", "target index file")
    tr = _read_int_lines(ddir / f"index_train_{split}.txt", f"train index file of split {split}")
    te = _read_int_lines(ddir / f"index_test_{split}.txt", f"test index file of split {split}")
    if max(feat.max(), target.max()) >= data.shape[1]:
        raise ValueError(f"Column indices of {name!r} exceed the {data.shape[1]} data columns.")
    if max(tr.max(), te.max()) >= data.shape[0]:
        raise ValueError(f"Row indices of {name!r} exceed the {data.shape[0]} data rows.")
    X, y = data[:, feat], data[:, int(target[0])]
    X_tr, X_te = _standardize(X[tr], X[te])
    return Dataset(
        name=f"uci-reg:{name}",
        X_train=X_tr,
        y_train=y[tr],
        X_test=X_te,
        y_test=y[te],
        task="regression",
        feature_names=[f"col{j}" for j in feat],
        n_classes=None,
        description=(
            f"UCI regression benchmark (Gal & Ghahramani splits) {name}, split {split}; "
            "features standardized with training-part statistics, y raw."
        ),
    )


def list_uci_regression(folder: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """List the datasets of the ``uci_regression`` collection.

    Parameters
    ----------
    folder : path-like
        The ``uci_regression`` folder or its parent.

    Returns
    -------
    list of dict
        One dict per dataset, sorted by name, with keys ``name``, ``n`` (rows), ``d``
        (number of feature columns) and ``n_splits``.
    """
    root = _resolve_collection(folder, "uci_regression")
    out: list[dict[str, Any]] = []
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        try:
            ddir = _uci_reg_dir(root, sub.name)
        except FileNotFoundError:
            continue
        with (ddir / "data.txt").open() as fh:
            n = sum(1 for line in fh if line.strip())
        d = len(_read_int_lines(ddir / "index_features.txt", "feature index file"))
        ns = ddir / "n_splits.txt"
        out.append(
            {
                "name": sub.name,
                "n": n,
                "d": d,
                "n_splits": int(ns.read_text().split()[0]) if ns.is_file() else None,
            }
        )
    if not out:
        raise FileNotFoundError(
            f"No uci_regression datasets found in {str(root)!r}; pass the 'uci_regression' "
            "folder or its parent."
        )
    return out


# --------------------------------------------------------------------------------------------
# MNIST / Fashion-MNIST
# --------------------------------------------------------------------------------------------


def _read_idx(path: Path, magic: int, limit: int | None) -> np.ndarray:
    _require_file(path, "IDX file")
    with gzip.open(path, "rb") as fh:
        head = fh.read(8)
        if len(head) < 8:
            raise ValueError(f"{str(path)!r} is too short to be an IDX file.")
        got, count = struct.unpack(">II", head)
        if got != magic:
            raise ValueError(f"{str(path)!r} has IDX magic {got:#010x}, expected {magic:#010x}.")
        n = count if limit is None else min(count, limit)
        if magic == 0x00000803:
            rows, cols = struct.unpack(">II", fh.read(8))
            buf = fh.read(n * rows * cols)
            return np.frombuffer(buf, dtype=np.uint8).reshape(n, rows * cols)
        return np.frombuffer(fh.read(n), dtype=np.uint8)


def load_mnist(
    folder: str | os.PathLike[str],
    *,
    kind: str = "mnist",
    n_train: int | None = None,
    n_test: int | None = None,
    dtype: Any = np.float64,
) -> Dataset:
    """Load MNIST or Fashion-MNIST from the gzipped IDX files.

    Parameters
    ----------
    folder : path-like
        The ``mnist`` / ``fashion_mnist`` folder, or its parent (the ``datasets`` folder).
    kind : {"mnist", "fashion_mnist"}, default "mnist"
        Which set to read.
    n_train, n_test : int or None
        Keep only the first ``n_train`` / ``n_test`` images (``None``: all 60000 / 10000).
    dtype : numpy dtype, default float64
        Dtype of the pixel arrays (``np.float32`` halves the memory of the full set).

    Returns
    -------
    Dataset
        ``X`` of shape (n, 784) with pixels scaled to [0, 1]; labels 0..9 as int64.
    """
    if kind not in MNIST_KINDS:
        raise ValueError(f"kind must be one of {list(MNIST_KINDS)}, got {kind!r}.")
    for arg, val in (("n_train", n_train), ("n_test", n_test)):
        if val is not None and (not isinstance(val, (int, np.integer)) or val < 1):
            raise ValueError(f"{arg} must be a positive integer or None, got {val!r}.")
    root = _resolve_collection(folder, kind)
    parts = {}
    for split, prefix, limit in (("train", "train", n_train), ("test", "t10k", n_test)):
        imgs = _read_idx(root / f"{prefix}-images-idx3-ubyte.gz", 0x00000803, limit)
        labels = _read_idx(root / f"{prefix}-labels-idx1-ubyte.gz", 0x00000801, limit)
        if len(imgs) != len(labels):
            raise ValueError(f"{kind} {split}: {len(imgs)} images but {len(labels)} labels.")
        parts[split] = (imgs.astype(dtype) / 255.0, labels.astype(np.int64))
    title = "MNIST" if kind == "mnist" else "Fashion-MNIST"
    return Dataset(
        name=kind,
        X_train=parts["train"][0],
        y_train=parts["train"][1],
        X_test=parts["test"][0],
        y_test=parts["test"][1],
        task="classification",
        feature_names=None,
        n_classes=10,
        description=f"{title}: 28x28 images flattened to 784 pixels scaled to [0, 1].",
    )


# --------------------------------------------------------------------------------------------
# user tables
# --------------------------------------------------------------------------------------------


def _import_pandas() -> Any:
    try:
        import pandas as pd
    except ImportError:
        return None
    return pd


def _check_finite(X: np.ndarray, names: list[str], path: Path) -> None:
    bad = ~np.isfinite(X)
    if bad.any():
        j = int(np.flatnonzero(bad.any(axis=0))[0])
        i = int(np.flatnonzero(bad[:, j])[0])
        kind = "NaN/missing" if np.isnan(X[i, j]) else "infinite"
        cols = [names[c] for c in np.flatnonzero(bad.any(axis=0))]
        raise ValueError(
            f"{str(path)!r}: column {names[j]!r} has a {kind} value (row {i}); columns with "
            f"NaN/inf values: {cols}. Drop or impute them before loading."
        )


def _pick_target(columns: list[str], target: str | None, path: Path) -> str | None:
    if target is not None:
        if target not in columns:
            raise ValueError(
                f"{str(path)!r}: target column {target!r} not found; available columns: {columns}."
            )
        return target
    for cand in ("target", "y"):
        if cand in columns:
            return cand
    return None


def _finish_table(
    cols: dict[str, np.ndarray], target: str | None, path: Path
) -> tuple[np.ndarray, np.ndarray | None, list[str]]:
    """Turn named 1-D columns (numeric or object/str) into X, y, feature names."""
    names = list(cols)
    if not names:
        raise ValueError(f"{str(path)!r} has no columns.")
    tgt = _pick_target(names, target, path)
    feats = [c for c in names if c != tgt]
    if not feats:
        raise ValueError(f"{str(path)!r} has no feature columns besides the target {tgt!r}.")
    n = len(cols[names[0]])
    if n == 0:
        raise ValueError(f"{str(path)!r} has a header but no data rows.")
    non_numeric = [c for c in feats if cols[c].dtype.kind not in "biuf"]
    if non_numeric:
        raise ValueError(
            f"{str(path)!r}: non-numeric feature columns {non_numeric}. Encode them as numbers "
            "first (e.g. one-hot with pandas.get_dummies) or drop them."
        )
    X = np.column_stack([cols[c].astype(np.float64) for c in feats])
    _check_finite(X, feats, path)
    y: np.ndarray | None = None
    if tgt is not None:
        y = cols[tgt]
        if y.dtype.kind in "biuf":
            if y.dtype.kind == "f" and not np.isfinite(y).all():
                raise ValueError(
                    f"{str(path)!r}: target column {tgt!r} has NaN/inf values; drop those rows."
                )
            if y.dtype.kind == "b":
                y = y.astype(np.int64)
        else:
            y = y.astype(str)
            if np.isin(y, ["", "nan", "None", "NaN"]).any():
                raise ValueError(
                    f"{str(path)!r}: target column {tgt!r} has missing values; drop those rows."
                )
    return X, y, feats


def _csv_columns_numpy(path: Path) -> dict[str, np.ndarray]:
    with path.open(newline="") as fh:
        header = next(csv.reader(fh), None)
    if not header:
        raise ValueError(f"{str(path)!r} is empty (expected a header row of column names).")
    header = [h.strip() for h in header]
    with path.open() as fh:
        has_rows = any(line.strip() for line in list(fh)[1:])
    if not has_rows:
        return {h: np.empty(0) for h in header}
    raw = np.genfromtxt(  # type: ignore[call-overload]
        path, delimiter=",", skip_header=1, dtype=str, ndmin=2, autostrip=True, comments=None
    )
    if raw.shape[1] != len(header):
        raise ValueError(
            f"{str(path)!r}: header has {len(header)} columns but the rows have {raw.shape[1]}."
        )
    cols: dict[str, np.ndarray] = {}
    for j, h in enumerate(header):
        col = raw[:, j]
        try:
            cols[h] = np.array([float(v) if v != "" else np.nan for v in col])
        except ValueError:
            cols[h] = col.astype(object)
    return cols


def _frame_columns(df: Any) -> dict[str, np.ndarray]:
    pd = _import_pandas()
    cols: dict[str, np.ndarray] = {}
    for c in df.columns:
        s = df[c]
        if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
            cols[str(c)] = s.to_numpy(dtype=np.float64 if s.isna().any() else None)
        else:
            cols[str(c)] = s.to_numpy(dtype=object)
    return cols


def load_table(
    path: str | os.PathLike[str], *, target: str | None = None
) -> tuple[np.ndarray, np.ndarray | None, list[str]]:
    """Read a feature table from CSV, NPZ or Parquet.

    Parameters
    ----------
    path : path-like
        * ``.csv``: comma-separated with a header row. Read with pandas when it is installed
          (``pip install convexnn[io]``), else with :func:`numpy.genfromtxt`.
        * ``.npz``: array ``X`` (2-D) and optionally ``y`` (or the key named by ``target``);
          an optional ``feature_names`` array names the columns.
        * ``.parquet`` / ``.pq``: needs pandas and pyarrow.
    target : str, optional
        Name of the target column (CSV/Parquet) or array (NPZ). If omitted, a column named
        ``"target"`` or ``"y"`` is used when present, otherwise no target is returned.

    Returns
    -------
    X : ndarray of shape (n, d), float64
    y : ndarray of shape (n,) or None
        Numeric targets as given, or string labels (dtype ``str``) for a text column.
    feature_names : list of str

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        Unknown extension, missing target column, non-numeric feature columns, NaN/inf values,
        or no data.
    ImportError
        Parquet without pandas/pyarrow.
    """
    p = Path(path).expanduser()
    if not p.is_file():
        raise FileNotFoundError(f"Data file {str(p)!r} does not exist; check the path.")
    suffix = p.suffix.lower()
    if suffix not in _TABLE_SUFFIXES:
        raise ValueError(
            f"Unsupported file extension {p.suffix!r} for {str(p)!r}; use one of "
            f"{list(_TABLE_SUFFIXES)} (CSV with a header row, NPZ with 'X'/'y', or Parquet)."
        )
    if suffix == ".npz":
        return _load_npz(p, target)
    pd = _import_pandas()
    if suffix in (".parquet", ".pq"):
        if pd is None:
            raise ImportError(
                f"Reading {str(p)!r} needs pandas and pyarrow: pip install 'convexnn[io]' pyarrow."
            )
        try:
            df = pd.read_parquet(p)
        except ImportError as exc:
            raise ImportError(
                f"Reading {str(p)!r} needs a Parquet engine: pip install pyarrow ({exc})."
            ) from exc
        return _finish_table(_frame_columns(df), target, p)
    # CSV
    if pd is None:
        return _finish_table(_csv_columns_numpy(p), target, p)
    try:
        df = pd.read_csv(p, skipinitialspace=True)
    except pd.errors.EmptyDataError as exc:
        raise ValueError(f"{str(p)!r} is empty (expected a header row of column names).") from exc
    return _finish_table(_frame_columns(df), target, p)


def _load_npz(p: Path, target: str | None) -> tuple[np.ndarray, np.ndarray | None, list[str]]:
    with np.load(p, allow_pickle=False) as z:
        keys = list(z.files)
        if "X" not in keys:
            raise ValueError(f"{str(p)!r} has no array 'X' (found {keys}); save it with X=...")
        X = np.asarray(z["X"])
        if target is not None and target not in keys:
            raise ValueError(
                f"{str(p)!r}: target array {target!r} not found; available arrays: {keys}."
            )
        ykey = target if target is not None else ("y" if "y" in keys else None)
        y = None if ykey is None else np.asarray(z[ykey])
        names = [str(s) for s in z["feature_names"]] if "feature_names" in keys else None
    if X.ndim != 2:
        raise ValueError(f"{str(p)!r}: 'X' must be 2-D (n, d), got shape {X.shape}.")
    if X.size == 0:
        raise ValueError(f"{str(p)!r}: 'X' is empty (shape {X.shape}).")
    if names is None or len(names) != X.shape[1]:
        names = [f"x{j}" for j in range(X.shape[1])]
    if X.dtype.kind not in "biuf":
        raise ValueError(
            f"{str(p)!r}: 'X' has non-numeric dtype {X.dtype}; encode the features as numbers "
            "first."
        )
    X = X.astype(np.float64)
    _check_finite(X, names, p)
    if y is not None:
        y = y.ravel() if y.ndim == 2 and 1 in y.shape else y
        if y.ndim != 1 or len(y) != len(X):
            raise ValueError(
                f"{str(p)!r}: {ykey!r} has shape {y.shape}; expected ({len(X)},) to match 'X'."
            )
        if y.dtype.kind == "f" and not np.isfinite(y).all():
            raise ValueError(f"{str(p)!r}: target {ykey!r} has NaN/inf values; drop those rows.")
    return X, y, names


# --------------------------------------------------------------------------------------------
# labels and dispatch
# --------------------------------------------------------------------------------------------


def binary_labels(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Map two-class labels to -1/+1.

    Parameters
    ----------
    y : array-like of shape (n,)
        Labels with exactly two distinct values (numbers or strings).

    Returns
    -------
    y_pm : ndarray of shape (n,), float64
        ``-1.0`` for ``classes[0]`` and ``+1.0`` for ``classes[1]``.
    classes : ndarray of shape (2,)
        The sorted distinct labels.
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D, got shape {y.shape}.")
    classes = np.unique(y)
    if len(classes) != 2:
        shown = classes[:10].tolist()
        raise ValueError(
            f"binary_labels needs exactly 2 classes, got {len(classes)} ({shown}). "
            "Use a multiclass loss or map the labels to two groups first."
        )
    return np.where(y == classes[1], 1.0, -1.0), classes


def _infer_task(y: np.ndarray) -> str:
    if y.dtype.kind not in "biuf":
        return "classification"
    if y.dtype.kind in "biu":
        return "classification" if len(np.unique(y)) <= 20 else "regression"
    integral = bool(np.all(y == np.round(y)))
    return "classification" if integral and len(np.unique(y)) <= 20 else "regression"


def load(
    name_or_path: str | os.PathLike[str],
    *,
    data_dir: str | os.PathLike[str] | None = None,
    split: int = 0,
    target: str | None = None,
) -> Dataset:
    """Load a dataset by name or path (the entry point used by the CLI).

    Parameters
    ----------
    name_or_path : str or path-like
        * a bundled name (:data:`BUNDLED`); ``split`` is then the split's ``random_state``;
        * ``"uci:NAME"`` (uci121, :func:`load_uci`) or ``"uci-reg:NAME"``
          (:func:`load_uci_regression`);
        * ``"mnist"`` or ``"fashion_mnist"`` (:func:`load_mnist`);
        * a path to a ``.csv``, ``.npz`` or ``.parquet`` file (:func:`load_table`); the whole
          file becomes the training part (``X_test`` is ``None``).
    data_dir : path-like, optional
        The shared ``datasets`` folder, needed for the uci/mnist collections. Defaults to the
        ``CONVEXNN_DATA_DIR`` environment variable.
    split : int, default 0
        Split number for the uci collections (or random_state for bundled sets).
    target : str, optional
        Target column for tables (see :func:`load_table`).

    Returns
    -------
    Dataset
        For tables the task is inferred: classification when ``y`` is text, or integer-valued
        with at most 20 distinct values; text labels are encoded as ``0..K-1`` (sorted order).
    """
    spec = os.fspath(name_or_path)
    if data_dir is None:
        data_dir = os.environ.get(_DATA_DIR_ENV) or None

    def need_dir() -> str | os.PathLike[str]:
        if data_dir is None:
            raise ValueError(
                f"{spec!r} needs the data folder: pass data_dir (CLI: --data-dir) or set "
                f"{_DATA_DIR_ENV} to the 'datasets' folder."
            )
        return data_dir

    if spec in BUNDLED:
        return load_bundled(spec, random_state=split)
    if spec.startswith("uci:"):
        return load_uci(need_dir(), spec[4:], split=split)
    if spec.startswith("uci-reg:"):
        return load_uci_regression(need_dir(), spec[8:], split=split)
    if spec in MNIST_KINDS:
        return load_mnist(need_dir(), kind=spec)
    p = Path(spec).expanduser()
    if not p.exists() and p.suffix.lower() not in _TABLE_SUFFIXES:
        raise ValueError(
            f"Unknown dataset {spec!r}. Use a bundled name {list(BUNDLED)}, 'uci:NAME', "
            "'uci-reg:NAME', 'mnist', 'fashion_mnist', or a path to a .csv/.npz/.parquet file."
        )
    X, y, names = load_table(p, target=target)
    if y is None:
        raise ValueError(
            f"{spec!r} has no target: name the target column with target=... (CLI: --target), "
            "or call it 'target' or 'y'."
        )
    task = _infer_task(y)
    desc = f"Table {p.name}"
    n_classes: int | None = None
    if task == "classification":
        classes, codes = np.unique(y, return_inverse=True)
        n_classes = len(classes)
        if y.dtype.kind in "biuf":
            y = y.astype(np.int64)
        else:
            y = codes.astype(np.int64)
            desc += f"; labels {classes.tolist()} encoded as 0..{n_classes - 1}"
    else:
        y = y.astype(np.float64)
    return Dataset(
        name=p.stem,
        X_train=X,
        y_train=y,
        X_test=None,
        y_test=None,
        task=task,
        feature_names=names,
        n_classes=n_classes,
        description=desc + ".",
    )
