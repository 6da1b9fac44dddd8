"""scikit-learn's own estimator checks (every check applies; none is skipped)."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from convexnn import ConvexReLUClassifier, ConvexReLURegressor


# Small settings keep the ~100 checks fast; the checks test the API contract, not accuracy.
@parametrize_with_checks([
    ConvexReLURegressor(arrangements=10, random_state=0, tol=1e-3),
    ConvexReLUClassifier(arrangements=10, random_state=0, tol=1e-3),
])
def test_sklearn_compatible(estimator, check):
    check(estimator)
