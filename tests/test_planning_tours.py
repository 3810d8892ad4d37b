"""Tour ordering of the caravane against brute force (random, asymmetric matrices)."""

import itertools

import numpy as np
import pytest

from analysis.planning.caravane import order_stops, tour_length


def brute(m, stops, base=0):
    best = (np.inf, None)
    for perm in itertools.permutations(stops):
        c = tour_length(m, perm, base=base)
        if c < best[0]:
            best = (c, list(perm))
    return best


def test_hand_built_square():
    # four corners of a square (side 1), base at corner 0: the tour goes round, length 4
    pts = np.array([[0, 0], [1, 1], [0, 1], [1, 0]], float)
    m = np.hypot(*(pts[:, None, :] - pts[None, :, :]).transpose(2, 0, 1))
    order, total = order_stops(m)
    assert total == pytest.approx(4.0)
    assert order in ([2, 1, 3], [3, 1, 2])


@pytest.mark.parametrize("seed", range(30))
def test_exact_order_equals_brute_force(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 8))
    m = rng.uniform(1, 100, (n + 1, n + 1))
    if seed % 2:
        m = (m + m.T) / 2  # symmetric too
    np.fill_diagonal(m, 0)
    stops = list(range(1, n + 1))
    order, total = order_stops(m, stops)
    ref, _ = brute(m, stops)
    assert sorted(order) == stops
    assert total == pytest.approx(ref)
    assert tour_length(m, order) == pytest.approx(total)


@pytest.mark.parametrize("seed", range(6))
def test_subset_and_other_base(seed):
    rng = np.random.default_rng(50 + seed)
    m = rng.uniform(1, 100, (9, 9))
    np.fill_diagonal(m, 0)
    stops = [1, 4, 6, 8]
    order, total = order_stops(m, stops, base=3)
    assert total == pytest.approx(brute(m, stops, base=3)[0])
    assert sorted(order) == stops


def test_impossible_leg_gives_infinite_length():
    m = np.array([[0, 1, np.inf], [1, 0, np.inf], [np.inf, np.inf, 0]])
    _, total = order_stops(m)
    assert total == np.inf


@pytest.mark.parametrize("seed", range(4))
def test_heuristic_beyond_the_exact_size_is_valid_and_close(seed):
    rng = np.random.default_rng(90 + seed)
    pts = rng.uniform(0, 100, (9, 2))
    m = np.hypot(*(pts[:, None, :] - pts[None, :, :]).transpose(2, 0, 1))
    _, t_exact = order_stops(m, exact_max=11)
    heur, t_heur = order_stops(m, exact_max=3)  # force 2-opt
    assert sorted(heur) == list(range(1, 9))
    assert t_heur >= t_exact - 1e-9
    assert t_heur <= 1.25 * t_exact  # 2-opt + relocation on 8 Euclidean points
