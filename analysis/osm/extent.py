"""The area an OSM road graph covers, to tell communes outside it from those inside.

An extract may cover only part of the region (a department, a city). A commune outside it
must get the status ``outside_network``, never the time to the extract's edge. The
snap distance alone cannot tell: at the edge of an extract, a commune a kilometre outside
is as close to a node as a mountain commune inside. So the extent is:

- the area the data was cut to, when known: the query polygon of a download, or the
  bounding box in the header of a PBF file (``<bounds>`` of an XML file);
- and always the *footprint* of the graph: the cells of a grid (2 km by default) holding a
  node, with enclosed holes filled (a lake, a mountain without roads) and one cell of
  margin.

A point is inside when it lies in both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import shapely
from pyproj import Transformer
from scipy import ndimage

from .. import settings

#: Side of the footprint grid's cells, metres.
DEFAULT_CELL_M = 2_000.0


@dataclass(frozen=True)
class NetworkExtent:
    """The area covered by a road graph, in Lambert-93.

    Attributes
    ----------
    x0, y0
        Lower-left corner of the footprint grid, metres.
    cell_m
        Side of a grid cell, metres.
    mask
        Footprint: ``mask[i, j]`` covers ``x0 + j*cell .. x0 + (j+1)*cell`` and likewise
        ``y`` with ``i``.
    area_wkb
        The area the data was cut to (Lambert-93 WKB), or ``None`` if unknown.
    """

    x0: float
    y0: float
    cell_m: float
    mask: np.ndarray
    area_wkb: bytes | None = None

    @classmethod
    def from_nodes(
        cls,
        x: np.ndarray,
        y: np.ndarray,
        *,
        area_lonlat_wkb: bytes | None = None,
        cell_m: float = DEFAULT_CELL_M,
    ) -> NetworkExtent:
        """Build the extent of a graph from its node coordinates.

        Parameters
        ----------
        x, y
            Node coordinates, Lambert-93 metres.
        area_lonlat_wkb
            The area the data was cut to, EPSG:4326 WKB, if known.
        cell_m
            Grid cell side.

        Returns
        -------
        NetworkExtent
        """
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        x0 = float(np.floor(x.min() / cell_m) * cell_m - 2 * cell_m)
        y0 = float(np.floor(y.min() / cell_m) * cell_m - 2 * cell_m)
        nx_ = int(np.ceil((x.max() - x0) / cell_m)) + 3
        ny_ = int(np.ceil((y.max() - y0) / cell_m)) + 3
        occ = np.zeros((ny_, nx_), dtype=bool)
        occ[((y - y0) // cell_m).astype(np.int64), ((x - x0) // cell_m).astype(np.int64)] = True
        mask = ndimage.binary_fill_holes(occ)
        mask = ndimage.binary_dilation(mask, structure=np.ones((3, 3), dtype=bool))
        area = None
        if area_lonlat_wkb is not None:
            geom = shapely.from_wkb(area_lonlat_wkb)
            # Densify before projecting so that straight lon/lat edges stay faithful.
            geom = shapely.segmentize(geom, 0.02)
            tr = Transformer.from_crs(
                settings.geographic_crs, settings.projected_crs, always_xy=True
            )
            geom = shapely.transform(
                geom, lambda c: np.column_stack(tr.transform(c[:, 0], c[:, 1]))
            )
            area = shapely.to_wkb(shapely.make_valid(geom))
        return cls(x0=x0, y0=y0, cell_m=float(cell_m), mask=mask, area_wkb=area)

    def contains(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Which points (Lambert-93) lie inside the extent.

        Parameters
        ----------
        x, y
            Point coordinates, metres.

        Returns
        -------
        numpy.ndarray
            Boolean, one per point.
        """
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        finite = np.isfinite(x) & np.isfinite(y)
        j = np.floor((np.where(finite, x, self.x0) - self.x0) / self.cell_m).astype(np.int64)
        i = np.floor((np.where(finite, y, self.y0) - self.y0) / self.cell_m).astype(np.int64)
        ny_, nx_ = self.mask.shape
        inside = finite & (i >= 0) & (i < ny_) & (j >= 0) & (j < nx_)
        out = np.zeros(len(x), dtype=bool)
        out[inside] = self.mask[i[inside], j[inside]]
        if self.area_wkb is not None and out.any():
            area = shapely.from_wkb(self.area_wkb)
            shapely.prepare(area)
            idx = np.flatnonzero(out)
            out[idx] = shapely.contains_xy(area, x[idx], y[idx]) | shapely.touches(
                area, shapely.points(x[idx], y[idx])
            )
        return out

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Arrays to store in an ``.npz`` file (see :meth:`from_arrays`)."""
        return {
            "extent_origin": np.array([self.x0, self.y0, self.cell_m]),
            "extent_mask": self.mask,
            "extent_area_wkb": np.frombuffer(self.area_wkb or b"", dtype=np.uint8),
        }

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> NetworkExtent:
        """Rebuild an extent from :meth:`to_arrays`' arrays."""
        x0, y0, cell = (float(v) for v in arrays["extent_origin"])
        wkb = bytes(np.asarray(arrays["extent_area_wkb"], dtype=np.uint8))
        return cls(
            x0=x0, y0=y0, cell_m=cell, mask=np.asarray(arrays["extent_mask"], dtype=bool),
            area_wkb=wkb or None,
        )  # fmt: skip
