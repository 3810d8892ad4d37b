import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.stats import weighted_quantile


def naive_weighted_quantile(values, weights, q):
    # expand integer weights into repeated values
    rep = np.repeat(values, weights)
    if len(rep) == 0:
        return float("nan")
    rep = np.sort(rep)
    k = int(np.ceil(q * len(rep))) - 1
    return float(rep[max(k, 0)])


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 100), st.integers(0, 5)), min_size=1, max_size=30),
    st.sampled_from([0.0, 0.1, 0.5, 0.9, 1.0]),
)
def test_weighted_quantile_matches_expanded_reference(pairs, q):
    values = np.array([float(v) for v, _ in pairs])
    weights = np.array([w for _, w in pairs])
    got = weighted_quantile(values, weights.astype(float), q)
    want = naive_weighted_quantile(values, weights, q)
    if np.isnan(want):
        assert np.isnan(got)
    else:
        assert got == want


def test_infinite_values_count_as_the_largest():
    v = np.array([5.0, np.inf, 10.0])
    w = np.array([1.0, 8.0, 1.0])
    assert weighted_quantile(v, w, 0.5) == np.inf
    assert weighted_quantile(v, w, 0.1) == 5.0


def test_bad_quantile():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        weighted_quantile(np.array([1.0]), np.array([1.0]), 1.5)
