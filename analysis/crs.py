"""Coordinate transformations, with the pyproj transformers built once per CRS pair."""

from __future__ import annotations

from functools import lru_cache

from pyproj import Transformer


@lru_cache(maxsize=16)
def transformer(src: str, dst: str) -> Transformer:
    """Return the (cached) ``always_xy`` transformer from ``src`` to ``dst``.

    Building a :class:`pyproj.Transformer` costs a few milliseconds; analyses that project
    a handful of points many times (what-if candidates, snapping) reuse this one.

    Parameters
    ----------
    src, dst
        CRS identifiers, e.g. ``"EPSG:4326"`` and ``"EPSG:2154"``.

    Returns
    -------
    pyproj.Transformer
    """
    return Transformer.from_crs(src, dst, always_xy=True)
