import numpy as np
import pytest

from convexnn import TwoLayerReLUNetwork
from convexnn.network import recover_network


def random_net(seed=0, m=5, d=3, bias=True):
    rng = np.random.default_rng(seed)
    return TwoLayerReLUNetwork(rng.standard_normal((m, d)),
                               rng.standard_normal(m) if bias else None,
                               rng.standard_normal(m))


def test_objective_matches_the_formula():
    net = random_net()
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((10, 3)), rng.standard_normal(10)
    f = np.maximum(X @ net.hidden_weights.T + net.hidden_bias, 0) @ net.output_weights
    beta = 0.1
    F = 0.5 * np.mean((f - y) ** 2) + beta / 2 * (np.sum(net.hidden_weights**2)
                                                  + np.sum(net.hidden_bias**2)
                                                  + np.sum(net.output_weights**2))
    assert net.objective(X, y, beta) == pytest.approx(F, rel=1e-14)
    yl = np.sign(y)
    Fl = np.mean(np.log1p(np.exp(-yl * f))) + beta * net.penalty()
    assert net.objective(X, yl, beta, loss="logistic") == pytest.approx(Fl, rel=1e-12)


def test_balanced_keeps_function_and_minimizes_decay():
    net = random_net(2)
    X = np.random.default_rng(3).standard_normal((20, 3))
    b = net.balanced()
    np.testing.assert_allclose(b.predict(X), net.predict(X), rtol=1e-12, atol=1e-12)
    assert b.penalty() <= net.penalty() + 1e-12
    nin = np.sqrt(np.sum(b.hidden_weights**2, axis=1) + b.hidden_bias**2)
    np.testing.assert_allclose(nin, np.abs(b.output_weights))


@pytest.mark.parametrize("bias", [True, False])
def test_torch_round_trip(bias):
    torch = pytest.importorskip("torch")
    net = random_net(4, bias=bias)
    X = np.random.default_rng(5).standard_normal((30, 3))
    mod = net.to_torch()
    out = mod(torch.as_tensor(X)).detach().numpy().ravel()
    np.testing.assert_allclose(out, net.predict(X), rtol=0, atol=1e-13)
    back = TwoLayerReLUNetwork.from_torch(mod)
    np.testing.assert_array_equal(back.hidden_weights, net.hidden_weights)
    assert TwoLayerReLUNetwork.from_weights(mod).n_neurons == net.n_neurons


def test_from_weights_and_errors():
    W, b, a = np.ones((2, 3)), np.zeros(2), np.ones(2)
    assert TwoLayerReLUNetwork.from_weights((W, a)).hidden_bias is None
    assert TwoLayerReLUNetwork.from_weights((W, b, a)).n_neurons == 2
    with pytest.raises(ValueError, match="neurons"):
        TwoLayerReLUNetwork(W, None, np.ones(3))
    with pytest.raises(ValueError, match="NaN"):
        TwoLayerReLUNetwork(W * np.nan, None, a)
    with pytest.raises(TypeError, match="network must be"):
        TwoLayerReLUNetwork.from_weights("nope")
    with pytest.raises(ValueError, match="shape"):
        random_net().predict(np.ones((2, 5)))


def test_recovery_is_balanced_and_prunes():
    rng = np.random.default_rng(6)
    V, W = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    V[1] *= 1e-12
    net, info = recover_network(V, W, fit_intercept=True, prune_tol=1e-8)
    assert net.n_neurons == 7 and info["n_pruned"] == 1
    # Weight decay of the recovered network equals the group-l1 penalty (SPEC §2).
    kept = np.concatenate([np.delete(V, 1, axis=0), W])
    assert net.penalty() == pytest.approx(np.linalg.norm(kept, axis=1).sum(), rel=1e-12)
