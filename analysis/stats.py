"""Small statistics used by the analyses."""

from __future__ import annotations

import numpy as np


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """Weighted quantile: the smallest value whose cumulative weight reaches ``q``.

    Parameters
    ----------
    values
        Values (``inf`` allowed, e.g. unreachable communes).
    weights
        Non-negative weights (population).
    q
        Quantile in ``[0, 1]``.

    Returns
    -------
    float
        The quantile, ``nan`` when the total weight is zero.

    Examples
    --------
    >>> weighted_quantile(np.array([10.0, 20.0, 30.0]), np.array([1.0, 1.0, 2.0]), 0.5)
    20.0
    """
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile must lie in [0, 1], not {q}")
    v = np.asarray(values, dtype=float)
    w = np.asarray(weights, dtype=float)
    keep = (w > 0) & ~np.isnan(v)
    v, w = v[keep], w[keep]
    if len(v) == 0 or w.sum() <= 0:
        return float("nan")
    order = np.argsort(v, kind="stable")
    v, w = v[order], w[order]
    cum = np.cumsum(w)
    pos = int(np.searchsorted(cum, q * cum[-1] - 1e-9 * cum[-1], side="left"))
    return float(v[min(pos, len(v) - 1)])
