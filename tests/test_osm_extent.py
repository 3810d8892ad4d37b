"""The area an OSM graph covers: footprint grid with holes filled, and the cut area."""

import numpy as np
import shapely

from analysis.osm.extent import NetworkExtent


def ring(cx, cy, r, n=400):
    a = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return cx + r * np.cos(a), cy + r * np.sin(a)


def test_footprint_fills_holes_and_keeps_a_margin():
    x, y = ring(800_000.0, 6_500_000.0, 20_000.0)
    ext = NetworkExtent.from_nodes(x, y)
    # the empty middle of the ring (a lake, a massif) is inside
    assert ext.contains(np.array([800_000.0]), np.array([6_500_000.0]))[0]
    # a point 1 km outside the ring is inside the margin, 10 km is not
    assert ext.contains(np.array([821_000.0]), np.array([6_500_000.0]))[0]
    assert not ext.contains(np.array([830_000.0]), np.array([6_500_000.0]))[0]
    # off the grid, and NaN
    assert not ext.contains(np.array([0.0, np.nan]), np.array([0.0, 6_500_000.0])).any()


def test_cut_area_restricts_the_footprint_and_round_trips():
    x, y = ring(800_000.0, 6_500_000.0, 20_000.0)
    # a lon/lat box covering only the western half of the ring (about 4.8 E at this place)
    from pyproj import Transformer

    tr = Transformer.from_crs("EPSG:2154", "EPSG:4326", always_xy=True)
    lon_c, lat_c = tr.transform(800_000.0, 6_500_000.0)
    box = shapely.box(lon_c - 1.0, lat_c - 1.0, lon_c, lat_c + 1.0)
    ext = NetworkExtent.from_nodes(x, y, area_lonlat_wkb=shapely.to_wkb(box))
    pts_x = np.array([790_000.0, 810_000.0])
    pts_y = np.array([6_500_000.0, 6_500_000.0])
    assert ext.contains(pts_x, pts_y).tolist() == [True, False]
    again = NetworkExtent.from_arrays(ext.to_arrays())
    assert again.contains(pts_x, pts_y).tolist() == [True, False]
    np.testing.assert_array_equal(again.mask, ext.mask)
