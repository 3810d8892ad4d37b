"""Reading OpenStreetMap road data: offline files and online downloads.

- ``.osm.pbf`` extracts (e.g. Geofabrik's ``rhone-alpes-latest.osm.pbf``) through pyrosm,
  simplified as osmnx does, drive ways filtered as osmnx's ``network_type="drive"``.
- ``.osm`` (or ``.osm.bz2`` / ``.osm.gz``) XML files through :func:`osmnx.graph_from_xml`
  (which reads every way), filtered here with osmnx's way filter.
- Online, by place name or polygon, through :func:`osmnx.graph_from_place` /
  :func:`osmnx.graph_from_polygon` (needs internet and ``settings.use_network``).

Every reader returns an osmnx-style ``MultiDiGraph`` and an :class:`OsmSource` describing
where it came from (the file and its extract timestamp, or the query and download date),
which becomes the road graph's label.
"""

from __future__ import annotations

import bz2
import datetime as dt
import gzip
import io
import logging
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import settings
from ..errors import DataMissingError, ValidationError
from ..io import sha256_file
from .convert import check_network, filter_tags

logger = logging.getLogger(__name__)

#: pyrosm's names of the networks.
_PYROSM_NETWORK = {"drive": "driving", "walk": "walking"}

#: Where to get a regional extract (shown in error messages).
EXTRACT_HINT = (
    "get an extract of the region from https://download.geofabrik.de/europe/france/ "
    "(rhone-alpes-latest.osm.pbf and auvergne-latest.osm.pbf, merged with `osmium merge`), "
    "or keep the estimated network"
)


@dataclass
class OsmSource:
    """Where an OSM road graph comes from.

    Attributes
    ----------
    kind
        ``"file"``, ``"place"`` or ``"polygon"``.
    name
        The file name, the place name, or a short description of the polygon.
    identity
        What identifies the data for the cache: the file's SHA-256, or the query.
    path
        The file (for ``kind == "file"``).
    file_format
        ``"pbf"`` or ``"xml"`` for files.
    timestamp
        The data's date (ISO 8601, UTC), if known.
    timestamp_kind
        What ``timestamp`` is: ``"extract timestamp"`` (file header), ``"latest edit"``
        (newest element in the file), ``"file modified"`` or ``"downloaded"``.
    coverage_wkb
        Area the data covers (WKB, EPSG:4326): the query polygon, or the file's
        bounding box; ``None`` if unknown.
    """

    kind: str
    name: str
    identity: str
    path: Path | None = None
    file_format: str | None = None
    timestamp: str | None = None
    timestamp_kind: str | None = None
    coverage_wkb: bytes | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def file_path(self) -> Path:
        """Return the file of a ``kind == "file"`` source (a programming error otherwise)."""
        if self.path is None:
            raise ValueError(f"the OSM source {self.name!r} is not a file")
        return self.path

    def cache_identity(self) -> dict[str, str]:
        """Return the part of the cache key that identifies the input data."""
        return {"kind": self.kind, "identity": self.identity}

    def describe(self) -> str:
        """Short provenance, e.g. ``file X, extract timestamp Y``."""
        if self.kind == "file":
            what = f"file {self.name}"
        elif self.kind == "place":
            what = f"place '{self.name}'"
        else:
            what = f"polygon {self.name}"
        if self.timestamp:
            what += f", {self.timestamp_kind} {self.timestamp}"
        return what

    def to_meta(self) -> dict[str, Any]:
        """JSON-ready description (for the graph's meta and the active-model record)."""
        return {
            "kind": self.kind,
            "name": self.name,
            "identity": self.identity,
            "path": str(self.path) if self.path is not None else None,
            "file_format": self.file_format,
            "timestamp": self.timestamp,
            "timestamp_kind": self.timestamp_kind,
            **self.extra,
        }


def _iso(ts: float | int) -> str:
    """ISO 8601 UTC text of a UNIX time."""
    return dt.datetime.fromtimestamp(float(ts), tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------- file checks
def _open_binary(p: Path, how: str) -> io.BufferedIOBase:
    """Open ``p`` for reading bytes, through bz2 or gzip when ``how`` says so."""
    if how == "bz2":
        return bz2.open(p, "rb")
    if how == "gz":
        return gzip.open(p, "rb")
    return open(p, "rb")


def detect_osm_format(path: str | Path) -> str:
    """Check that a file is OpenStreetMap data and say which format.

    Parameters
    ----------
    path
        An ``.osm.pbf``, ``.osm``, ``.osm.bz2`` or ``.xml`` file.

    Returns
    -------
    str
        ``"pbf"`` or ``"xml"``.

    Raises
    ------
    DataMissingError
        If the file does not exist.
    ValidationError
        If it is not OSM PBF or OSM XML data.
    """
    p = Path(path)
    if not p.is_file():
        raise DataMissingError(
            f"OSM file {p} not found; give the path of an .osm.pbf or .osm file, or {EXTRACT_HINT}"
        )
    with open(p, "rb") as f:
        head = f.read(4096)
    if b"OSMHeader" in head[:64]:
        return "pbf"
    text = head
    how = {b"BZh": "bz2", b"\x1f\x8b\x08": "gz"}.get(head[:3])
    if how is not None:
        try:
            with _open_binary(p, how) as f:
                text = f.read(4096)
        except (OSError, EOFError, ValueError):
            text = b""
    if re.search(rb"<osm[\s>]", text):
        return "xml"
    raise ValidationError(
        "this file is not OpenStreetMap data (neither OSM PBF nor OSM XML); give an "
        f".osm.pbf or .osm extract; {EXTRACT_HINT}",
        source=str(p),
    )


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    """Decode a protobuf varint at ``buf[i]``; return the value and the next position."""
    shift = value = 0
    while True:
        if i >= len(buf) or shift > 63:
            raise ValueError("bad varint")
        b = buf[i]
        value |= (b & 0x7F) << shift
        i += 1
        if not b & 0x80:
            return value, i
        shift += 7


def _blob_datasize(header: bytes) -> int:
    """Read the ``datasize`` field (3) of a PBF ``BlobHeader`` message."""
    i = 0
    size = None
    while i < len(header):
        key, i = _varint(header, i)
        field_no, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(header, i)
            if field_no == 3:
                size = value
        elif wire == 2:
            n, i = _varint(header, i)
            i += n
        else:
            raise ValueError(f"unexpected wire type {wire}")
    if size is None or i != len(header):
        raise ValueError("BlobHeader without datasize")
    return size


def check_pbf_framing(path: str | Path) -> int:
    """Walk the blocks of an OSM PBF file (headers only) to detect truncated downloads.

    Parameters
    ----------
    path
        The ``.osm.pbf`` file.

    Returns
    -------
    int
        The number of blocks.

    Raises
    ------
    ValidationError
        If the file is truncated or its block structure is broken.
    """
    p = Path(path)
    total = p.stat().st_size
    pos = n = 0
    with open(p, "rb") as f:
        while pos < total:
            raw = f.read(4)
            length = int.from_bytes(raw, "big") if len(raw) == 4 else -1
            header = f.read(length) if 0 < length <= 64 * 1024 else b""
            try:
                if len(header) != length:
                    raise ValueError("short block header")
                size = _blob_datasize(header)
            except ValueError as exc:
                raise ValidationError(
                    f"this OSM PBF file is broken at byte {pos:,} of {total:,} ({exc}); the "
                    f"download may be incomplete: download it again; {EXTRACT_HINT}",
                    source=str(p),
                ) from exc
            pos += 4 + length + size
            if pos > total:
                raise ValidationError(
                    f"this OSM PBF file is truncated ({total:,} bytes, its last block ends at "
                    f"{pos:,}); the download is incomplete: download it again",
                    source=str(p),
                )
            f.seek(pos)
            n += 1
    return n


def pbf_header(path: str | Path) -> dict[str, Any]:
    """Read an OSM PBF file's header: replication timestamp and bounding box.

    Returns
    -------
    dict
        ``timestamp`` (ISO text or ``None``), ``bbox`` (lon_min, lat_min, lon_max, lat_max
        or ``None``), ``writingprogram``.
    """
    from pyrosm.pbf_export import read_header_block

    try:
        h = read_header_block(str(path))
    except Exception as exc:  # pyrosm raises its own error types for broken files
        raise ValidationError(
            f"this file is not a valid OSM PBF extract ({exc}); download it again; {EXTRACT_HINT}",
            source=str(path),
        ) from exc
    ts = None
    if h.HasField("osmosis_replication_timestamp") and h.osmosis_replication_timestamp > 0:
        ts = _iso(h.osmosis_replication_timestamp)
    bbox = None
    if h.HasField("bbox"):
        b = h.bbox
        bbox = (b.left / 1e9, b.bottom / 1e9, b.right / 1e9, b.top / 1e9)
    return {"timestamp": ts, "bbox": bbox, "writingprogram": h.writingprogram}


_XML_BOUNDS = re.compile(
    rb"<bounds\s+[^>]*?minlat=[\"']([-\d.]+)[\"'][^>]*?minlon=[\"']([-\d.]+)[\"']"
    rb"[^>]*?maxlat=[\"']([-\d.]+)[\"'][^>]*?maxlon=[\"']([-\d.]+)[\"']"
)
_XML_OSM_BASE = re.compile(rb"osm_base=[\"']([^\"']+)[\"']")
_XML_TIMESTAMP = re.compile(rb"<osm\s[^>]*?timestamp=[\"']([^\"']+)[\"']")


def xml_header(path: str | Path) -> dict[str, Any]:
    """Read an OSM XML file's head: its data timestamp and ``<bounds>``.

    The timestamp is Overpass's ``osm_base`` or the ``<osm>`` element's ``timestamp``.

    Returns
    -------
    dict
        ``timestamp`` (text or ``None``) and ``bbox`` (or ``None``).
    """
    p = Path(path)
    with _open_binary(p, {".bz2": "bz2", ".gz": "gz"}.get(p.suffix, "plain")) as f:
        head = f.read(8192)
    ts = None
    for pat in (_XML_OSM_BASE, _XML_TIMESTAMP):
        m = pat.search(head)
        if m:
            ts = m.group(1).decode("ascii", "replace")
            break
    bbox = None
    m = _XML_BOUNDS.search(head)
    if m:
        minlat, minlon, maxlat, maxlon = (float(g) for g in m.groups())
        bbox = (minlon, minlat, maxlon, maxlat)
    return {"timestamp": ts, "bbox": bbox}


def _bbox_wkb(bbox: tuple[float, float, float, float] | None) -> bytes | None:
    if bbox is None:
        return None
    import shapely

    return shapely.to_wkb(shapely.box(*bbox))


def file_source(path: str | Path) -> OsmSource:
    """Describe an OSM file: its format, content hash, extract timestamp and extent.

    Parameters
    ----------
    path
        The extract.

    Returns
    -------
    OsmSource
        ``timestamp_kind`` is ``"extract timestamp"`` when the file header has one, else
        ``"file modified"`` (refined to ``"latest edit"`` once the ways are read).
    """
    p = Path(path).resolve()
    fmt = detect_osm_format(p)
    if fmt == "pbf":
        check_pbf_framing(p)
    header = pbf_header(p) if fmt == "pbf" else xml_header(p)
    st = p.stat()
    if header["timestamp"]:
        ts, kind = header["timestamp"], "extract timestamp"
    else:
        ts, kind = _iso(st.st_mtime), "file modified"
    return OsmSource(
        kind="file",
        name=p.name,
        identity=sha256_file(p),
        path=p,
        file_format=fmt,
        timestamp=ts,
        timestamp_kind=kind,
        coverage_wkb=_bbox_wkb(header["bbox"]),
        extra={"size": st.st_size, "mtime_ns": st.st_mtime_ns},
    )


# ---------------------------------------------------------------------- readers
@contextmanager
def _osmnx_way_tags(extra: list[str]) -> Iterator[None]:
    """Temporarily make osmnx keep extra way tags (those the network filter reads)."""
    import osmnx as ox

    kept = list(ox.settings.useful_tags_way)
    ox.settings.useful_tags_way = kept + [t for t in extra if t not in kept]
    try:
        yield
    finally:
        ox.settings.useful_tags_way = kept


def read_pbf_graph(path: str | Path, *, network: str = "drive", verbose: bool = False) -> Any:
    """Read the drive (or walk) network of an ``.osm.pbf`` file as an osmnx-style graph.

    pyrosm selects the ways with filters that follow osmnx's, honours ``oneway`` for
    driving (every way is two-way for walking) and simplifies the graph as osmnx does,
    without splitting ways whose ``highway`` or ``maxspeed`` differ.

    Parameters
    ----------
    path
        The extract.
    network
        ``"drive"`` or ``"walk"``.
    verbose
        Show pyrosm's progress bar.

    Returns
    -------
    networkx.MultiDiGraph

    Raises
    ------
    ValidationError
        If the file is not a valid PBF, or holds no road of the network.
    """
    import pyrosm

    check_network(network)
    try:
        osm = pyrosm.OSM(str(path), progress=bool(verbose))
        with warnings.catch_warnings():
            # pyrosm warns when nothing matches; that case is an error below.
            warnings.filterwarnings(
                "ignore", message="Could not find any edges", category=UserWarning
            )
            G = osm.get_graph(
                network_type=_PYROSM_NETWORK[network],
                graph_type="networkx",
                retain_all=True,
                osmnx_compatible=True,
                simplify=True,
                # 'oneway' also for walking: pyrosm warns when the column is absent.
                tags_to_keep=["highway", "maxspeed", "oneway", "junction"],
            )
    except ValidationError:
        raise
    except Exception as exc:
        if type(exc).__module__.startswith("pyrosm"):
            raise ValidationError(
                f"pyrosm cannot read this OSM PBF file ({exc}); download the extract again; "
                f"{EXTRACT_HINT}",
                source=str(path),
            ) from exc
        raise
    if G is None or G.number_of_edges() == 0:
        raise ValidationError(
            f"this OSM extract holds no {'drivable' if network == 'drive' else 'walkable'} "
            f"road; {EXTRACT_HINT}",
            source=str(path),
        )
    return G


def read_xml_graph(path: str | Path, *, network: str = "drive") -> Any:
    """Read an OSM XML file as an osmnx graph of all its ways (filtered later).

    osmnx's :func:`~osmnx.graph_from_xml` reads every way with a ``highway`` tag...
    whatever its kind (footways too), so the result must go through
    :func:`analysis.osm.convert.network_mask`. Walk graphs are made two-way.

    Parameters
    ----------
    path
        The ``.osm`` (or ``.osm.bz2``) file.
    network
        ``"drive"`` or ``"walk"``.

    Returns
    -------
    networkx.MultiDiGraph
        Unsimplified; every node and way of the file.

    Raises
    ------
    ValidationError
        If osmnx cannot read it as OSM XML, or it holds no way.
    """
    import osmnx as ox

    check_network(network)
    try:
        with _osmnx_way_tags(filter_tags(network)):
            G = ox.graph_from_xml(
                Path(path), bidirectional=(network == "walk"), simplify=False, retain_all=True
            )
    except ox._errors.InsufficientResponseError as exc:
        raise ValidationError(
            f"this OSM XML file holds no road; {EXTRACT_HINT}",
            source=str(path),
        ) from exc
    except Exception as exc:  # XML syntax errors, missing attributes
        if isinstance(exc, (MemoryError, KeyboardInterrupt)):
            raise
        raise ValidationError(
            f"osmnx cannot read this OSM XML file ({type(exc).__name__}: {exc}); check that "
            "it is a complete OSM XML export",
            source=str(path),
        ) from exc
    if G.number_of_edges() == 0:
        raise ValidationError(
            f"this OSM XML file holds no road; {EXTRACT_HINT}",
            source=str(path),
        )
    return G


def read_osm_file(
    path: str | Path, *, network: str = "drive", verbose: bool = False
) -> tuple[Any, OsmSource, bool]:
    """Read an OSM extract (PBF or XML) as an osmnx-style graph.

    Parameters
    ----------
    path
        The extract.
    network
        ``"drive"`` or ``"walk"``.
    verbose
        Show progress.

    Returns
    -------
    G : networkx.MultiDiGraph
        The graph.
    source : OsmSource
        Its provenance.
    needs_filter : bool
        Whether the graph still holds ways of other networks (XML files).
    """
    source = file_source(path)
    if source.file_format == "pbf":
        return read_pbf_graph(source.file_path(), network=network, verbose=verbose), source, False
    return read_xml_graph(source.file_path(), network=network), source, True


def network_available() -> bool:
    """Whether downloads are allowed and a quick probe reaches the internet."""
    if not settings.use_network:
        return False
    import socket

    try:
        with socket.create_connection(("nominatim.openstreetmap.org", 443), timeout=3):
            return True
    except OSError:
        return False


def query_identity(*, place: str | None = None, polygon: Any | None = None) -> OsmSource:
    """Describe an online query before downloading it (its identity keys the cache).

    Parameters
    ----------
    place
        A place name.
    polygon
        Or a shapely (Multi)Polygon in EPSG:4326.

    Returns
    -------
    OsmSource
        Kind ``place`` or ``polygon``; no timestamp yet.

    Raises
    ------
    ValidationError
        If neither or both are given, or the polygon is not a polygon.
    """
    import hashlib

    import shapely

    if (place is None) == (polygon is None):
        raise ValidationError("give either a place name or a polygon, not both or neither")
    if place is not None:
        place = str(place).strip()
        if not place:
            raise ValidationError("the place name is empty; e.g. --place 'Rhône, France'")
        return OsmSource(
            kind="place",
            name=place,
            identity=hashlib.sha256(f"place:{place}".encode()).hexdigest(),
        )
    if not isinstance(polygon, (shapely.Polygon, shapely.MultiPolygon)) or polygon.is_empty:
        raise ValidationError("the polygon must be a non-empty shapely Polygon or MultiPolygon")
    wkb = shapely.to_wkb(shapely.normalize(polygon))
    return OsmSource(
        kind="polygon",
        name=f"bounds {tuple(round(b, 4) for b in polygon.bounds)}",
        identity=hashlib.sha256(b"polygon:" + wkb).hexdigest(),
        coverage_wkb=shapely.to_wkb(polygon),
    )


def download_graph(
    *,
    place: str | None = None,
    polygon: Any | None = None,
    network: str = "drive",
    cache_dir: str | Path | None = None,
) -> tuple[Any, OsmSource]:
    """Download a road graph from OpenStreetMap (Overpass) with osmnx.

    Parameters
    ----------
    place
        A place name Nominatim knows, e.g. ``"Rhône, France"`` or
        ``"Auvergne-Rhône-Alpes, France"``.
    polygon
        Or a shapely (Multi)Polygon in EPSG:4326.
    network
        ``"drive"`` or ``"walk"``.
    cache_dir
        Folder for osmnx's HTTP cache (under ``data/processed`` by default).

    Returns
    -------
    G : networkx.MultiDiGraph
    source : OsmSource
        Kind ``place`` or ``polygon``, timestamped with the download time.

    Raises
    ------
    ValidationError
        If downloads are off (``settings.use_network``), the place cannot be geocoded to a
        polygon, or the query returns no road.
    """
    import osmnx as ox
    import shapely

    check_network(network)
    source = query_identity(place=place, polygon=polygon)
    if not settings.use_network:
        raise ValidationError(
            "downloading OSM roads needs internet access, which is turned off "
            "(SPRO_OFFLINE / settings.use_network); use --osm FILE with a downloaded extract"
        )
    folder = Path(cache_dir) if cache_dir is not None else settings.processed_data_dir
    kept_cache = ox.settings.cache_folder
    ox.settings.cache_folder = str(folder / "osmnx_http_cache")
    try:
        if source.kind == "place":
            try:
                gdf = ox.geocode_to_gdf(source.name)
            except OSError as exc:  # connection errors (requests' are OSError subclasses)
                raise ValidationError(
                    f"geocoding {source.name!r} failed ({exc}); check the connection or use "
                    "--osm FILE with a downloaded extract"
                ) from exc
            except (ox._errors.InsufficientResponseError, TypeError, ValueError) as exc:
                raise ValidationError(
                    f"the place {source.name!r} cannot be geocoded to an area by Nominatim "
                    f"({exc}); check its spelling or make it more precise, e.g. "
                    "'Rhône, France' or 'Auvergne-Rhône-Alpes, France', or use --osm FILE"
                ) from exc
            poly = gdf.geometry.iloc[0]
        else:
            poly = polygon
        try:
            G = ox.graph_from_polygon(poly, network_type=network, simplify=True, retain_all=True)
        except ox._errors.InsufficientResponseError as exc:
            raise ValidationError(
                f"OpenStreetMap returned no {network} road for {source.name!r}; check the area"
            ) from exc
        except OSError as exc:
            raise ValidationError(
                f"downloading OSM roads failed ({exc}); check the connection or use "
                "--osm FILE with a downloaded extract"
            ) from exc
    finally:
        ox.settings.cache_folder = kept_cache
    source.timestamp = dt.datetime.now(tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    source.timestamp_kind = "downloaded"
    source.coverage_wkb = shapely.to_wkb(poly)
    return G, source
