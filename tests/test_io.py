"""Model files: exact round trips and clear errors for bad files (convexnn.io)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from convexnn import io
from convexnn.estimators import ConvexReLUClassifier, ConvexReLURegressor


def _data(kind: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((40, 3))
    if kind == "reg":
        return X, np.sin(X[:, 0]) + 0.5 * X[:, 1]
    return X, (X[:, 0] + 0.3 * X[:, 2] > 0).astype(np.int64)


@pytest.fixture(scope="module", params=[("reg", "relu"), ("reg", "gated"), ("clf", "relu"),
                                        ("clf", "gated")], ids=lambda p: "-".join(p))
def fitted(request: pytest.FixtureRequest):
    kind, model = request.param
    X, y = _data(kind)
    cls = ConvexReLURegressor if kind == "reg" else ConvexReLUClassifier
    est = cls(1e-2, model=model, arrangements=20, tol=1e-4, random_state=0).fit(X, y)
    return est, X


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_roundtrip_predictions_bit_identical(fitted, tmp_path):
    est, X = fitted
    Xnew = np.random.default_rng(1).standard_normal((25, X.shape[1]))
    path = io.save(est, tmp_path / "m.npz")
    est2 = io.load(path)
    assert type(est2) is type(est)
    assert np.array_equal(est2.predict(Xnew), est.predict(Xnew))
    assert np.array_equal(est2.predict(X), est.predict(X))
    if hasattr(est, "classes_"):
        assert np.array_equal(est2.decision_function(Xnew), est.decision_function(Xnew))
        assert np.array_equal(est2.predict_proba(Xnew), est.predict_proba(Xnew))
        assert est2.classes_.dtype == est.classes_.dtype
    for attr in ("objective_", "lower_bound_", "relative_gap_", "n_neurons_", "n_arrangements_",
                 "n_iter_", "converged_", "status_", "fit_time_", "n_features_in_"):
        assert getattr(est2, attr) == getattr(est, attr), attr
    assert est2.get_params() == est.get_params()
    assert est2.pruning_ == est.pruning_
    assert len(est2.history_) == len(est.history_)
    assert np.array_equal(est2.arrangements_.gates, est.arrangements_.gates)
    assert np.array_equal(est2.arrangements_.masks(), est.arrangements_.masks())
    # The reloaded estimator can be refitted.
    est2.set_params(max_iter=50).fit(X, est.predict(X))


def test_bundle_scaler_metadata_and_certificate(tmp_path):
    X, y = _data("clf")
    labels = np.where(y == 1, "yes", "no")
    est = ConvexReLUClassifier(1e-2, model="gated", arrangements=10, tol=1e-4,
                               random_state=0).fit(X, labels)

    class FakeCert:
        def to_dict(self):
            return {"primal": 1.0, "lower_bound": 0.5, "dual": [1, 2], "worst": np.ones(2)}

    est.certificate_ = FakeCert()
    scaler = {"mean": np.array([0.1, 0.2, 0.3]), "scale": np.array([1.0, 2.0, 3.0])}
    path = io.save(est, tmp_path / "m.npz", scaler=scaler,
                   metadata={"dataset": "toy", "feature_names": ["a", "b", "c"]})
    est2, sc, md = io.load_bundle(path)
    assert list(est2.classes_) == ["no", "yes"]
    assert np.array_equal(est2.predict(X), est.predict(X))
    assert np.array_equal(sc["mean"], scaler["mean"]) and np.array_equal(sc["scale"],
                                                                         scaler["scale"])
    assert md["dataset"] == "toy" and md["feature_names"] == ["a", "b", "c"]
    assert md["certificate"] == {"primal": 1.0, "lower_bound": 0.5, "worst": [1.0, 1.0]}
    assert md["library_version"]


def test_custom_arrangements_param_stored_as_custom(tmp_path):
    X, y = _data("reg")
    gates = np.random.default_rng(2).standard_normal((4, 6))
    est = ConvexReLURegressor(1e-2, model="gated", arrangements=gates, tol=1e-4).fit(X, y)
    path = io.save(est, tmp_path / "m.npz")
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["__meta__"]))
    assert meta["params"]["arrangements"] == "custom"
    est2 = io.load(path)
    assert np.array_equal(est2.arrangements, gates)
    assert np.array_equal(est2.predict(X), est.predict(X))


def test_save_rejects_foreign_and_unfitted(tmp_path):
    from sklearn.linear_model import LinearRegression

    with pytest.raises(TypeError, match="ConvexReLURegressor"):
        io.save(LinearRegression().fit([[0.0], [1.0]], [0.0, 1.0]), tmp_path / "x.npz")
    with pytest.raises(ValueError, match="not fitted"):
        io.save(ConvexReLURegressor(), tmp_path / "x.npz")


@pytest.fixture()
def model_file(tmp_path):
    X, y = _data("reg")
    est = ConvexReLURegressor(1e-2, model="gated", arrangements=10, tol=1e-4,
                              random_state=0).fit(X, y)
    return io.save(est, tmp_path / "model.npz")


def test_truncated_file(model_file, tmp_path):
    data = model_file.read_bytes()
    for cut in (10, len(data) // 2, len(data) - 30):
        bad = tmp_path / f"trunc{cut}.npz"
        bad.write_bytes(data[:cut])
        with pytest.raises(io.ModelFileError, match="corrupted or truncated|not a convexnn"):
            io.load(bad)


def test_random_bytes_and_empty_file(tmp_path):
    bad = tmp_path / "noise.npz"
    bad.write_bytes(np.random.default_rng(0).bytes(2000))
    with pytest.raises(io.ModelFileError, match="not a convexnn model file"):
        io.load(bad)
    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")
    with pytest.raises(io.ModelFileError, match="empty"):
        io.load(empty)
    with pytest.raises(FileNotFoundError):
        io.load(tmp_path / "missing.npz")
    assert issubclass(io.ModelFileError, ValueError)


def test_corrupted_member(model_file, tmp_path):
    data = bytearray(model_file.read_bytes())
    needle = "convexnn-model".encode("utf-32-le")  # numpy stores unicode as UTF-32
    i = data.find(needle)
    assert i > 0
    data[i:i + len(needle)] = "XXXXXXXXXXXXXX".encode("utf-32-le")
    bad = tmp_path / "flipped.npz"
    bad.write_bytes(bytes(data))
    with pytest.raises(io.ModelFileError):
        io.load(bad)


def test_foreign_npz(tmp_path):
    p = tmp_path / "foreign.npz"
    np.savez(p, X=np.ones((3, 2)), y=np.zeros(3))
    with pytest.raises(io.ModelFileError, match="not a convexnn model file"):
        io.load(p)
    p2 = tmp_path / "other_format.npz"
    np.savez(p2, __meta__=np.array(json.dumps({"format": "something-else"})))
    with pytest.raises(io.ModelFileError, match="not a convexnn model file"):
        io.load(p2)


def test_pickled_object_array_is_refused(tmp_path):
    p = tmp_path / "pickled.npz"
    np.savez(p, __meta__=np.array([{"format": "convexnn-model"}, None], dtype=object))
    with pytest.raises(io.ModelFileError, match="pickled"):
        io.load(p)


def test_newer_format_version(model_file, tmp_path):
    with np.load(model_file, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays["__meta__"]))
    meta["format_version"] = io.FORMAT_VERSION + 1
    arrays["__meta__"] = np.array(json.dumps(meta))
    p = tmp_path / "newer.npz"
    np.savez(p, **arrays)
    with pytest.raises(io.ModelFileError, match="upgrade"):
        io.load(p)
    meta["format_version"] = io.FORMAT_VERSION
    meta["estimator"] = "os.system"
    arrays["__meta__"] = np.array(json.dumps(meta))
    np.savez(p, **arrays)
    with pytest.raises(io.ModelFileError, match="unknown estimator"):
        io.load(p)


def test_missing_array(model_file, tmp_path):
    with np.load(model_file, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files if k != "gated_weights"}
    p = tmp_path / "missing.npz"
    np.savez(p, **arrays)
    with pytest.raises(io.ModelFileError, match="missing"):
        io.load(p)


def test_atomic_write_leaves_no_temp_files(model_file, tmp_path, monkeypatch):
    est = io.load(model_file)
    target = tmp_path / "atomic.npz"
    io.save(est, target)
    assert sorted(os.listdir(tmp_path)) == ["atomic.npz", "model.npz"]
    before = target.read_bytes()

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(np, "savez", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        io.save(est, target)
    assert target.read_bytes() == before  # old file intact
    assert sorted(os.listdir(tmp_path)) == ["atomic.npz", "model.npz"]
    with pytest.raises(FileNotFoundError):
        io.save(est, tmp_path / "no_such_dir" / "m.npz")
