"""MCLP: lazy greedy vs plain greedy vs brute force; exact integer program vs brute force."""

import itertools

import numpy as np
import pytest
import scipy.sparse as sp

from analysis.errors import ValidationError
from analysis.planning.siting import MCLP


def random_problem(rng, n_c, n_p, density=0.3):
    cost = rng.uniform(0, 60, (n_c, n_p))
    cost[rng.random((n_c, n_p)) > density] = np.inf
    w = rng.integers(0, 100, n_p).astype(float)
    covered = rng.random(n_p) < 0.2
    return cost, w, covered


def brute_force(prob: MCLP, k: int) -> float:
    best = 0.0
    for combo in itertools.combinations(range(prob.n_candidates), min(k, prob.n_candidates)):
        best = max(best, prob.objective(combo))
    return best


def test_hand_built_instance():
    # points weights 10, 20, 30, 40; candidate 0 covers {0,1}, 1 covers {1,2}, 2 covers {3}
    cost = np.array(
        [
            [5.0, 5.0, np.inf, np.inf],
            [np.inf, 9.0, 10.0, np.inf],
            [np.inf, np.inf, np.inf, 1.0],
        ]
    )
    prob = MCLP.from_cost_matrix(cost, np.array([10.0, 20, 30, 40]), 10.0)
    g = prob.greedy(2)
    assert g.picks == [1, 2] and g.gains == [50.0, 40.0] and g.objective == 90.0
    # point 1 already covered by an existing site: candidate 0 is worth 10 only
    prob = MCLP.from_cost_matrix(
        cost, np.array([10.0, 20, 30, 40]), 10.0, already_covered=np.array([0, 1, 0, 0], bool)
    )
    assert prob.greedy(3).gains == [40.0, 30.0, 10.0]
    # a radius of 9 drops candidate 1's coverage of point 2
    prob = MCLP.from_cost_matrix(cost, np.array([10.0, 20, 30, 40]), 9.0)
    assert prob.greedy(1).picks == [2]


def test_greedy_stops_when_nothing_is_left_to_cover():
    cost = np.array([[1.0, np.inf], [1.0, np.inf], [np.inf, np.inf]])
    prob = MCLP.from_cost_matrix(cost, np.array([5.0, 7.0]), 2.0)
    g = prob.greedy(3)
    assert g.picks == [0] and g.objective == 5.0
    assert len(prob.greedy(3, stop_at_zero=False).picks) == 3


def test_sparse_cost_matrix_keeps_explicit_zeros():
    m = sp.csr_matrix((np.array([0.0, 3.0]), (np.array([0, 1]), np.array([0, 1]))), shape=(2, 2))
    prob = MCLP.from_cost_matrix(m, np.array([1.0, 2.0]), 2.0)
    assert prob.coverage.toarray().tolist() == [[True, False], [False, False]]


def test_bad_inputs():
    prob = MCLP.from_cost_matrix(np.zeros((2, 3)), np.ones(3), 1.0)
    with pytest.raises(ValidationError, match="larger than the number of candidate"):
        prob.greedy(3)
    with pytest.raises(ValidationError, match="positive whole"):
        prob.greedy(0)
    with pytest.raises(ValidationError, match="weights"):
        MCLP.from_cost_matrix(np.zeros((2, 3)), np.ones(4), 1.0)
    with pytest.raises(ValidationError, match="non-negative"):
        MCLP.from_cost_matrix(np.zeros((2, 3)), -np.ones(3), 1.0)


@pytest.mark.parametrize("seed", range(30))
def test_lazy_greedy_equals_plain_greedy(seed):
    rng = np.random.default_rng(seed)
    cost, w, covered = random_problem(rng, int(rng.integers(2, 25)), int(rng.integers(1, 40)))
    if seed % 3 == 0:
        w = np.round(w / 50)  # many ties
    prob = MCLP.from_cost_matrix(cost, w, 30.0, already_covered=covered)
    k = int(rng.integers(1, prob.n_candidates + 1))
    lazy = prob.greedy(k, lazy=True, stop_at_zero=seed % 2 == 0)
    plain = prob.greedy(k, lazy=False, stop_at_zero=seed % 2 == 0)
    assert lazy.picks == plain.picks
    assert lazy.gains == plain.gains
    assert lazy.objective == pytest.approx(prob.objective(lazy.picks))


@pytest.mark.parametrize("seed", range(25))
def test_greedy_and_exact_against_brute_force(seed):
    rng = np.random.default_rng(1000 + seed)
    n_c = int(rng.integers(2, 9))
    cost, w, covered = random_problem(rng, n_c, int(rng.integers(2, 14)), density=0.35)
    prob = MCLP.from_cost_matrix(cost, w, 30.0, already_covered=covered)
    k = int(rng.integers(1, n_c + 1))
    opt = brute_force(prob, k)
    g = prob.greedy(k)
    assert g.objective <= opt + 1e-9
    assert g.objective >= (1 - 1 / np.e) * opt - 1e-9  # the greedy's guarantee
    solver = "highs" if seed % 2 == 0 else "cbc"
    ex = prob.solve_exact(k, solver=solver)
    assert ex.objective == pytest.approx(opt)
    assert len(ex.picks) <= k
    assert ex.status == "Optimal"


def test_exact_finds_what_greedy_misses():
    # greedy takes the big middle candidate first; the optimum pairs the two sides
    cost = np.array(
        [
            [1.0, 1.0, 1.0, np.inf, np.inf, np.inf],
            [1.0, 1.0, np.inf, np.inf, np.inf, np.inf],
            [np.inf, np.inf, np.inf, 1.0, 1.0, 1.0],
            [np.inf, 1.0, 1.0, 1.0, 1.0, np.inf],
        ]
    )
    w = np.array([10.0, 10, 10, 10, 10, 10])
    cost[3, :] = [np.inf, 1.0, 1.0, 1.0, 1.0, np.inf]
    w = np.array([10.0, 11, 11, 11, 11, 10])
    prob = MCLP.from_cost_matrix(cost, w, 5.0)
    g = prob.greedy(2)
    assert g.picks[0] == 3 and g.objective == 54.0
    ex = prob.solve_exact(2)
    assert ex.objective == 64.0 and ex.picks == [0, 2]
