"""Tests for convexnn.datasets (bundled sets, shared collections, tables, dispatch)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from convexnn import datasets as ds
from convexnn.datasets import (
    BUNDLED,
    Dataset,
    binary_labels,
    list_uci,
    list_uci_regression,
    load,
    load_bundled,
    load_mnist,
    load_table,
    load_uci,
    load_uci_regression,
)

_REPO_ROOT = Path(__file__).resolve().parents[1]


def _data_dir() -> Path:
    env = os.environ.get("CONVEXNN_DATA_DIR")
    return Path(env) if env else (_REPO_ROOT / ".." / "shared" / "datasets").resolve()


@pytest.fixture(scope="module")
def data_dir() -> Path:
    d = _data_dir()
    if not d.is_dir():
        pytest.skip(f"shared datasets folder not found at {d} (set CONVEXNN_DATA_DIR)")
    return d


def _need(d: Path, sub: str) -> Path:
    if not (d / sub).is_dir():
        pytest.skip(f"{sub}/ not in {d}")
    return d / sub


def _name_txt(folder: Path, name: str) -> dict[str, str]:
    toks = (folder / name / f"{name}.txt").read_text().split()
    return {t[:-1]: toks[i + 1] for i, t in enumerate(toks) if t.endswith("=")}


# ------------------------------------------------------------------ bundled


@pytest.mark.parametrize("name", BUNDLED)
def test_load_bundled(name: str) -> None:
    d = load_bundled(name)
    assert isinstance(d, Dataset)
    info = d.describe()
    assert (
        info["n_train"] + info["n_test"]
        == {
            "breast_cancer": 569,
            "diabetes": 442,
            "wine_binary": 178,
            "spline1d": 60,
        }[name]
    )
    assert d.X_test is not None and d.y_test is not None
    assert d.X_train.dtype == np.float64
    assert d.feature_names is not None and len(d.feature_names) == d.n_features
    if d.task == "classification":
        assert d.n_classes == 2
        assert set(np.unique(d.y_train)) == {0, 1}
        assert set(np.unique(d.y_test)) == {0, 1}
    else:
        assert d.n_classes is None
    if name != "spline1d":
        np.testing.assert_allclose(d.X_train.mean(axis=0), 0.0, atol=1e-10)


def test_bundled_spline1d_fixed_and_split_seed() -> None:
    a = load_bundled("spline1d")
    b = load_bundled("spline1d", random_state=1)
    all_a = np.sort(np.concatenate([a.X_train, a.X_test]).ravel())
    all_b = np.sort(np.concatenate([b.X_train, b.X_test]).ravel())
    np.testing.assert_array_equal(all_a, all_b)
    assert all_a.min() >= -2 and all_a.max() <= 2
    assert a.n_features == 1 and a.describe()["n_test"] == 15
    resid = np.concatenate([a.y_train, a.y_test]) - np.sin(
        2 * np.concatenate([a.X_train, a.X_test]).ravel()
    )
    assert np.abs(resid).max() < 0.5
    assert not np.array_equal(a.X_train, b.X_train)


def test_bundled_wine_binary_is_class0_vs_rest() -> None:
    d = load_bundled("wine_binary", test_size=0.5)
    assert int(np.concatenate([d.y_train, d.y_test]).sum()) == 59  # class 0 of sklearn wine


def test_bundled_errors() -> None:
    with pytest.raises(ValueError, match="breast_cancer"):
        load_bundled("nope")
    with pytest.raises(ValueError, match="test_size"):
        load_bundled("diabetes", test_size=1.5)


# ------------------------------------------------------------------ uci121


@pytest.mark.parametrize("name", ["monks-1", "statlog-heart", "abalone", "iris"])
def test_load_uci_shapes(data_dir: Path, name: str) -> None:
    uci = _need(data_dir, "uci121")
    meta = _name_txt(uci, name)
    d_feat, k = int(meta["n_entradas"]), int(meta["n_clases"])
    d = load_uci(data_dir, name)
    assert d.task == "classification" and d.n_classes == k and d.n_features == d_feat
    assert d.X_test is not None and d.y_test is not None
    if meta["n_arquivos"] == "2":
        assert len(d.X_train) == int(meta["n_patrons1"])
        assert len(d.X_test) == int(meta["n_patrons2"])
    else:
        # each conxuntos_kfold pair covers all rows of fich1
        assert len(d.X_train) + len(d.X_test) == int(meta["n_patrons1"])
        assert 0.2 < len(d.X_test) / int(meta["n_patrons1"]) < 0.3
    for y in (d.y_train, d.y_test):
        assert y.dtype.kind == "i" and y.min() >= 0 and y.max() <= k - 1
    assert len(np.unique(d.y_train)) == k
    np.testing.assert_allclose(d.X_train.mean(axis=0), 0.0, atol=1e-8)
    std = d.X_train.std(axis=0)
    assert np.all((np.abs(std - 1) < 1e-8) | (std == 0))
    assert np.isfinite(d.X_test).all()


def test_load_uci_accepts_collection_dir_and_splits(data_dir: Path) -> None:
    uci = _need(data_dir, "uci121")
    a = load_uci(uci, "statlog-heart", split=0)
    b = load_uci(data_dir, "statlog-heart", split=0)
    np.testing.assert_array_equal(a.X_train, b.X_train)
    c = load_uci(data_dir, "statlog-heart", split=3)
    assert not np.array_equal(a.y_test, c.y_test) or not np.array_equal(a.X_test, c.X_test)
    with pytest.raises(ValueError, match="0..3"):
        load_uci(data_dir, "statlog-heart", split=4)
    with pytest.raises(FileNotFoundError, match="list_uci"):
        load_uci(data_dir, "no-such-set")


def test_load_uci_raw_test_file_is_rescaled(data_dir: Path) -> None:
    # hayes-roth's upstream test file is raw while its train file is z-scored
    from sklearn.neighbors import KNeighborsClassifier

    _need(data_dir, "uci121")
    d = load_uci(data_dir, "hayes-roth")
    assert d.X_test is not None and d.y_test is not None
    np.testing.assert_allclose(d.X_test.mean(axis=0), 0.0, atol=1e-8)
    acc = KNeighborsClassifier(1).fit(d.X_train, d.y_train).score(d.X_test, d.y_test)
    assert acc > 0.6
    raw = load_uci(data_dir, "hayes-roth", per_file_scaling=False)
    assert raw.X_test is not None and raw.X_test.mean() > 1.5


def test_list_uci(data_dir: Path) -> None:
    _need(data_dir, "uci121")
    rows = list_uci(data_dir)
    assert len(rows) == 117
    by = {r["name"]: r for r in rows}
    assert by["monks-1"] == {
        "name": "monks-1",
        "n": 124 + 432,
        "d": 6,
        "n_classes": 2,
        "has_test_file": True,
    }
    assert by["abalone"]["n"] == 4177 and not by["abalone"]["has_test_file"]
    assert sum(r["has_test_file"] for r in rows) == 18


# ------------------------------------------------------------------ uci_regression


def test_load_uci_regression_yacht(data_dir: Path) -> None:
    reg = _need(data_dir, "uci_regression")
    d = load_uci_regression(data_dir, "yacht", split=0)
    assert d.task == "regression" and d.n_classes is None
    assert d.n_features == 6
    n = len(d.X_train) + len(d.X_test)
    assert n == 308
    assert len(d.X_test) == len((reg / "yacht" / "index_test_0.txt").read_text().split())
    assert abs(len(d.X_test) / n - 0.1) < 0.02
    np.testing.assert_allclose(d.X_train.mean(axis=0), 0.0, atol=1e-8)
    assert d.y_train.std() > 1.0  # y left raw (yacht resistance spans ~0..60)
    d2 = load_uci_regression(reg, "yacht", split=19)
    assert not np.array_equal(d.y_test, d2.y_test)
    with pytest.raises(ValueError, match="0..19"):
        load_uci_regression(data_dir, "yacht", split=20)
    with pytest.raises(FileNotFoundError, match="list_uci_regression"):
        load_uci_regression(data_dir, "nope")


def test_list_uci_regression(data_dir: Path) -> None:
    _need(data_dir, "uci_regression")
    rows = {r["name"]: r for r in list_uci_regression(data_dir)}
    assert rows["yacht"] == {"name": "yacht", "n": 308, "d": 6, "n_splits": 20}
    assert rows["bostonHousing"]["d"] == 13


# ------------------------------------------------------------------ mnist


@pytest.mark.parametrize("kind", ["mnist", "fashion_mnist"])
def test_load_mnist(data_dir: Path, kind: str) -> None:
    _need(data_dir, kind)
    d = load_mnist(data_dir, kind=kind, n_train=100, n_test=50)
    assert d.X_train.shape == (100, 784) and d.X_test.shape == (50, 784)
    assert d.X_train.min() >= 0.0 and d.X_train.max() <= 1.0 and d.X_train.max() > 0.9
    assert d.n_classes == 10 and d.y_train.max() <= 9
    first = [5, 0, 4, 1, 9, 2] if kind == "mnist" else [9, 0, 0, 3, 0, 2]
    assert d.y_train[:6].tolist() == first


def test_load_mnist_errors(data_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="kind"):
        load_mnist(data_dir, kind="cifar")
    with pytest.raises(ValueError, match="n_train"):
        load_mnist(data_dir, n_train=0)
    with pytest.raises(FileNotFoundError, match="train-images"):
        load_mnist(tmp_path)


# ------------------------------------------------------------------ tables


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


@pytest.fixture(params=["pandas", "numpy"])
def csv_backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "numpy":
        monkeypatch.setattr(ds, "_import_pandas", lambda: None)
    else:
        pytest.importorskip("pandas")
    return request.param


def test_load_table_csv_good(tmp_path: Path, csv_backend: str) -> None:
    p = _write(tmp_path, "t.csv", "a,b,target\n1,2,0\n3,4.5,1\n5,6,1\n")
    X, y, names = load_table(p)
    assert names == ["a", "b"]
    np.testing.assert_allclose(X, [[1, 2], [3, 4.5], [5, 6]])
    np.testing.assert_array_equal(y, [0, 1, 1])
    X, y, names = load_table(p, target="a")
    assert names == ["b", "target"] and y.tolist() == [1, 3, 5]
    p2 = _write(tmp_path, "noy.csv", "a,b\n1,2\n3,4\n")
    X, y, names = load_table(p2)
    assert y is None and X.shape == (2, 2)
    p3 = _write(tmp_path, "lab.csv", "a,y\n1,cat\n2,dog\n")
    X, y, _ = load_table(p3)
    assert y.tolist() == ["cat", "dog"]


def test_load_table_csv_bad(tmp_path: Path, csv_backend: str) -> None:
    p = _write(tmp_path, "t.csv", "a,b,target\n1,2,0\n3,4,1\n")
    with pytest.raises(ValueError, match=r"'label' not found.*'a', 'b', 'target'"):
        load_table(p, target="label")
    p = _write(tmp_path, "s.csv", "a,color,y\n1,red,0\n2,blue,1\n")
    with pytest.raises(ValueError, match=r"non-numeric.*'color'.*[Ee]ncode"):
        load_table(p)
    p = _write(tmp_path, "n.csv", "a,b,y\n1,,0\n2,3,1\n")
    with pytest.raises(ValueError, match=r"column 'b'.*NaN"):
        load_table(p)
    p = _write(tmp_path, "i.csv", "a,b,y\n1,inf,0\n2,3,1\n")
    with pytest.raises(ValueError, match=r"column 'b'.*infinite"):
        load_table(p)
    p = _write(tmp_path, "ny.csv", "a,y\n1,0\n2,\n")
    with pytest.raises(ValueError, match=r"target column 'y'"):
        load_table(p)
    p = _write(tmp_path, "h.csv", "a,b,y\n")
    with pytest.raises(ValueError, match="no data rows"):
        load_table(p)
    p = _write(tmp_path, "e.csv", "")
    with pytest.raises(ValueError, match="empty"):
        load_table(p)


def test_load_table_file_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_table(tmp_path / "missing.csv")
    p = _write(tmp_path, "t.xlsx", "x")
    with pytest.raises(ValueError, match=r"extension '.xlsx'"):
        load_table(p)


def test_load_table_npz(tmp_path: Path) -> None:
    p = tmp_path / "d.npz"
    X0 = np.arange(12.0).reshape(4, 3)
    np.savez(p, X=X0, y=np.array([0, 1, 0, 1]), lbl=np.array([1.0, 2, 3, 4]))
    X, y, names = load_table(p)
    np.testing.assert_array_equal(X, X0)
    assert y.tolist() == [0, 1, 0, 1] and names == ["x0", "x1", "x2"]
    _, y, _ = load_table(p, target="lbl")
    assert y.tolist() == [1, 2, 3, 4]
    with pytest.raises(ValueError, match=r"'nope' not found.*'X'"):
        load_table(p, target="nope")
    np.savez(p, X=X0)
    assert load_table(p)[1] is None
    np.savez(p, Z=X0)
    with pytest.raises(ValueError, match="no array 'X'"):
        load_table(p)
    bad = X0.copy()
    bad[2, 1] = np.nan
    np.savez(p, X=bad, y=np.zeros(4))
    with pytest.raises(ValueError, match=r"column 'x1'.*NaN"):
        load_table(p)
    np.savez(p, X=np.zeros((0, 3)))
    with pytest.raises(ValueError, match="empty"):
        load_table(p)
    np.savez(p, X=X0, y=np.zeros(3))
    with pytest.raises(ValueError, match="shape"):
        load_table(p)


def test_load_table_parquet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = tmp_path / "d.parquet"
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [4, 5, 6], "y": [0, 1, 0]}).to_parquet(p)
    X, y, names = load_table(p)
    assert names == ["a", "b"] and X.shape == (3, 2) and y.tolist() == [0, 1, 0]
    monkeypatch.setattr(ds, "_import_pandas", lambda: None)
    with pytest.raises(ImportError, match="pandas"):
        load_table(p)


# ------------------------------------------------------------------ labels, dispatch


def test_binary_labels() -> None:
    ypm, classes = binary_labels(np.array(["b", "a", "b"]))
    assert ypm.tolist() == [1.0, -1.0, 1.0] and classes.tolist() == ["a", "b"]
    ypm, classes = binary_labels(np.array([3, 7, 7]))
    assert ypm.tolist() == [-1.0, 1.0, 1.0]
    with pytest.raises(ValueError, match="exactly 2 classes, got 3"):
        binary_labels(np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="exactly 2 classes, got 1"):
        binary_labels(np.zeros(4))


def test_load_dispatch_bundled_and_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONVEXNN_DATA_DIR", raising=False)
    assert load("diabetes").name == "diabetes"
    p = _write(tmp_path, "clf.csv", "a,b,label\n1,2,yes\n3,4,no\n5,6,yes\n")
    d = load(p, target="label")
    assert d.task == "classification" and d.n_classes == 2 and d.X_test is None
    assert d.y_train.tolist() == [1, 0, 1] and "'no', 'yes'" in d.description
    assert d.describe()["n_test"] == 0
    p = _write(tmp_path, "reg.csv", "a,y\n1,0.5\n2,1.5\n3,2.25\n")
    d = load(str(p))
    assert d.task == "regression" and d.y_train.dtype == np.float64
    p = _write(tmp_path, "noy.csv", "a,b\n1,2\n")
    with pytest.raises(ValueError, match="no target"):
        load(p)
    with pytest.raises(ValueError, match="Unknown dataset"):
        load("not-a-dataset")
    with pytest.raises(ValueError, match="data_dir"):
        load("uci:iris")
    with pytest.raises(ValueError, match="data_dir"):
        load("mnist")


def test_load_dispatch_collections(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _need(data_dir, "uci121")
    _need(data_dir, "uci_regression")
    d = load("uci:iris", data_dir=data_dir, split=1)
    assert d.name == "uci:iris" and d.n_classes == 3
    d = load("uci-reg:yacht", data_dir=data_dir)
    assert d.task == "regression" and d.n_features == 6
    monkeypatch.setenv("CONVEXNN_DATA_DIR", str(data_dir))
    assert load("uci:iris").n_features == 4


def test_dataset_validation() -> None:
    with pytest.raises(ValueError, match="task"):
        Dataset("x", np.zeros((2, 1)), np.zeros(2), None, None, "clustering", None, None, "")
    with pytest.raises(ValueError, match="rows"):
        Dataset("x", np.zeros((2, 1)), np.zeros(3), None, None, "regression", None, None, "")
