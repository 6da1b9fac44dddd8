"""Tests for convexnn.certificates: soundness of the dual bound against the CVXPY optimum."""

import numpy as np
import pytest

from convexnn.arrangements import enumerate_arrangements, sample_arrangements
from convexnn.certificates import certify, dual_lower_bound
from convexnn.network import TwoLayerReLUNetwork, recover_network

pytest.importorskip("cvxpy")
from convexnn.solvers.cvxpy_solver import solve_cvxpy  # noqa: E402

BETA = 1e-2


def _problem(loss, n=14, seed=1):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 2))
    y = np.sin(2 * X[:, 0]) + 0.5 * X[:, 1] ** 2
    if loss == "logistic":
        y = np.where(y > np.median(y), 1.0, -1.0)
    return X, y


_CACHE = {}


def _optimum(loss):
    """Global optimum F* over all patterns of [X, 1] (exact enumeration) and the network."""
    if loss not in _CACHE:
        X, y = _problem(loss)
        Xa = np.column_stack([X, np.ones(len(y))])
        arr = enumerate_arrangements(Xa)
        res = solve_cvxpy(Xa, y, arr.masks(), BETA, loss=loss, tol=1e-10)
        assert res.status.converged
        net, _ = recover_network(res.V, res.W, fit_intercept=True)
        _CACHE[loss] = (X, y, res.objective, net)
    return _CACHE[loss]


def _assert_sound(cert, Fstar):
    assert cert.lower_bound <= Fstar * (1 + 1e-8) + 1e-10
    assert Fstar <= cert.primal * (1 + 1e-8)
    assert cert.gap >= -1e-10
    assert cert.sound_lower_bound == cert.lower_bound


@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_optimal_network_is_certified(loss):
    X, y, Fstar, net = _optimum(loss)
    cert = certify(net, X, y, BETA, loss=loss)
    assert cert.exact and cert.method == "exact"
    assert cert.optimal
    assert cert.relative_gap <= 1e-6
    assert cert.worst_value == pytest.approx(1.0, abs=1e-5)
    assert cert.primal == pytest.approx(Fstar, rel=1e-7)
    _assert_sound(cert, Fstar)
    assert cert.worst_neuron.shape == (3,)
    assert "globally optimal" in cert.summary()
    d = cert.to_dict()
    assert isinstance(d["worst_neuron"], list) and d["exact"] is True


@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_random_and_perturbed_networks_are_sound(loss):
    X, y, Fstar, net = _optimum(loss)
    rng = np.random.default_rng(0)
    nets = []
    for m in (1, 4, 10):
        scale = rng.uniform(0.1, 2)
        nets.append(
            TwoLayerReLUNetwork(
                scale * rng.standard_normal((m, 2)), scale * rng.standard_normal(m),
                scale * rng.standard_normal(m),
            )
        )
    for eps in (1e-4, 1e-2, 1e-1):
        nets.append(
            TwoLayerReLUNetwork(
                net.hidden_weights + eps * rng.standard_normal(net.hidden_weights.shape),
                net.hidden_bias + eps * rng.standard_normal(net.hidden_bias.shape),
                net.output_weights + eps * rng.standard_normal(net.output_weights.shape),
            )
        )
    for nt in nets:
        cert = certify(nt, X, y, BETA, loss=loss)
        assert cert.exact
        _assert_sound(cert, Fstar)
        # the search-based certificate is sound too, and its estimate is not better than exact
        cs = certify(nt, X, y, BETA, loss=loss, arrangements="search", random_state=0)
        assert not cs.exact and not cs.optimal
        _assert_sound(cs, Fstar)
        assert cs.lower_bound <= cert.lower_bound + 1e-12
        assert cs.g <= cert.g_upper * (1 + 1e-12)
    # A perturbed optimum: its suboptimality is second order in the perturbation but the
    # certified gap is first order (g moves by O(eps ||X||), relative to beta).
    cert = certify(nets[3], X, y, BETA, loss=loss)
    assert cert.primal - Fstar < 1e-4 * Fstar
    assert 0 < cert.relative_gap < 0.1


@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_gradient_descent_networks_are_sound(loss):
    torch = pytest.importorskip("torch")
    X, y, Fstar, _ = _optimum(loss)
    Xt = torch.as_tensor(X)
    yt = torch.as_tensor(y)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny model: threads only add overhead
    try:
        _train_and_certify(torch, X, y, Xt, yt, Fstar, loss)
    finally:
        torch.set_num_threads(threads)


def _train_and_certify(torch, X, y, Xt, yt, Fstar, loss):
    for seed, m in ((0, 3), (1, 20)):
        torch.manual_seed(seed)
        model = torch.nn.Sequential(
            torch.nn.Linear(2, m), torch.nn.ReLU(), torch.nn.Linear(m, 1, bias=False)
        ).double()
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for _ in range(600):
            opt.zero_grad()
            f = model(Xt)[:, 0]
            if loss == "squared":
                data = 0.5 * ((f - yt) ** 2).mean()
            else:
                data = torch.nn.functional.softplus(-yt * f).mean()
            reg = sum((p**2).sum() for p in model.parameters())
            (data + 0.5 * BETA * reg).backward()
            opt.step()
        cert = certify(model, X, y, BETA, loss=loss)
        assert cert.exact
        _assert_sound(cert, Fstar)
        assert cert.primal == pytest.approx((data + 0.5 * BETA * reg).item(), rel=1e-2)


def test_labels_and_tuple_networks():
    X, y, Fstar, net = _optimum("logistic")
    y01 = (y > 0).astype(float)
    W, b, a = net.hidden_weights, net.hidden_bias, net.output_weights
    c1 = certify((W, b, a), X, y01, BETA, loss="logistic")
    assert c1.primal == pytest.approx(certify(net, X, y, BETA, loss="logistic").primal)
    assert c1.optimal
    c3 = certify(net, X, np.where(y > 0, 7.0, 3.0), BETA, loss="logistic")
    assert c3.primal == pytest.approx(c1.primal)
    with pytest.raises(ValueError, match="two classes"):
        certify(net, X, np.arange(len(y)), BETA, loss="logistic")


def test_arrangements_options():
    X, y, Fstar, net = _optimum("squared")
    Xa = np.column_stack([X, np.ones(len(y))])
    c_exact = certify(net, X, y, BETA, arrangements="exact")
    c_arr = certify(net, X, y, BETA, arrangements=enumerate_arrangements(Xa))
    assert c_arr.exact and c_arr.lower_bound == pytest.approx(c_exact.lower_bound, rel=1e-12)
    c_samp = certify(net, X, y, BETA, arrangements=sample_arrangements(Xa, 10, random_state=0))
    assert not c_samp.exact and not c_samp.optimal
    _assert_sound(c_samp, Fstar)
    # the estimate (not a proof) is close to the exact one at the optimum
    assert c_samp.estimated_lower_bound <= c_exact.lower_bound * (1 + 1e-9)
    with pytest.raises(ValueError, match="arrangements"):
        certify(net, X, y, BETA, arrangements="bogus")


def test_no_bias_problem_and_search_fallback():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((12, 2))
    y = np.abs(X[:, 0]) - X[:, 1]
    arr = enumerate_arrangements(X)
    res = solve_cvxpy(X, y, arr.masks(), BETA, tol=1e-10)
    net, _ = recover_network(res.V, res.W, fit_intercept=False)
    cert = certify(net, X, y, BETA)
    assert not cert.fit_intercept and cert.worst_neuron.shape == (2,)
    assert cert.optimal
    _assert_sound(cert, res.objective)
    # the same problem seen with fit_intercept=True is a relaxation: the bound stays below F*
    cert_b = certify(net, X, y, BETA, fit_intercept=True)
    assert cert_b.lower_bound <= res.objective * (1 + 1e-8)
    # high-rank data: "auto" switches to the search oracle and says it is no proof
    Xh = rng.standard_normal((40, 12))
    net_h = TwoLayerReLUNetwork(rng.standard_normal((3, 12)), None, rng.standard_normal(3))
    ch = certify(net_h, Xh, rng.standard_normal(40), BETA, random_state=0)
    assert ch.method == "search" and not ch.exact
    assert ch.lower_bound <= ch.estimated_lower_bound <= ch.primal
    assert "NOT a proof" in ch.summary()


def test_output_offset_is_sound():
    cp = pytest.importorskip("cvxpy")
    X, y, _, net = _optimum("squared")
    y = y + 3.0
    n = len(y)
    Xa = np.column_stack([X, np.ones(n)])
    D = enumerate_arrangements(Xa).masks().astype(float)
    P = D.shape[1]
    V, W, c = cp.Variable((3, P)), cp.Variable((3, P)), cp.Variable()
    S = 2 * D - 1
    pred = cp.sum(cp.multiply(D, Xa @ V - Xa @ W), axis=1) + c
    prob = cp.Problem(
        cp.Minimize(cp.sum_squares(pred - y) / (2 * n)
                    + BETA * (cp.sum(cp.norm(V, 2, axis=0)) + cp.sum(cp.norm(W, 2, axis=0)))),
        [cp.multiply(S, Xa @ V) >= 0, cp.multiply(S, Xa @ W) >= 0],
    )
    prob.solve(solver=cp.CLARABEL, tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10)
    Fstar = prob.value
    opt, _ = recover_network(V.value.T, W.value.T, fit_intercept=True)
    opt.output_bias = float(c.value)
    cert = certify(opt, X, y, BETA)
    _assert_sound(cert, Fstar)
    assert cert.relative_gap < 1e-5
    for off in (0.0, 1.0, 5.0):
        cert = certify((net.hidden_weights, net.hidden_bias, net.output_weights, off), X, y, BETA)
        _assert_sound(cert, Fstar)


def test_dual_lower_bound_line_search():
    rng = np.random.default_rng(0)
    y = rng.standard_normal(10)
    mu = rng.standard_normal(10) * 0.1
    v, t = dual_lower_bound(mu, y, 1.0, 2.0, "squared")
    assert 0 <= t <= 0.5
    ts = np.linspace(0, 0.5, 1001)
    vals = [mu @ y * s - 5 * s**2 * mu @ mu for s in ts]
    assert v >= max(vals) - 1e-12
