"""Read Travel Mapping waypoint files (the ``HighwayData`` repository, ``hwy_data/``).

Travel Mapping (https://travelmapping.net) files every road of a *system* (French
autoroutes ``fraa``, routes nationales ``fran``, routes départementales ``fraarad01`` …) as
one ``.wpt`` file per route: one line per waypoint, ``LABEL [ALTLABELS…] URL`` with the
position in the URL (``http://www.openstreetmap.org/?lat=45.69&lon=4.83``). Labels that
start with ``+`` are hidden shaping points. Routes that meet share the exact coordinates of
a waypoint, which gives the network its topology. ``hwy_data/_systems/<system>.csv`` lists
the routes of each system (semicolon separated, UTF-8 with a BOM; the 7th column is the
file root).

This module only reads and checks the files; :mod:`analysis.mainroads.network` builds the
graph. It reads the tarball as shipped in ``../shared/data/roads/travelmapping`` or an
unpacked ``hwy_data`` folder (what a user who clones the repository has).

**Licence**: the repository states none (volunteer-placed points). The tool reads the files
where they are and never copies or redistributes them.
"""

from __future__ import annotations

import logging
import re
import tarfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ValidationError

logger = logging.getLogger(__name__)

#: Road classes, in the order of the fitted speeds.
ROAD_CLASSES = ("autoroute", "nationale", "departementale", "metropole")

#: Systems that duplicate others (E-roads, tourist routes): never read.
DUPLICATE_SYSTEMS = frozenset({"eure", "eure2", "eursf", "fratr"})

#: Routes filed in one system that drive like another class: Lyon's M6/M7 (the former A6/A7,
#: declassified to métropole roads in 2017), the TEO ring road, and former N7 sections
#: handed to the departments of Loire and Rhône.
CLASS_OVERRIDES: dict[str, str] = {
    "fraara.m000669": "autoroute",
    "fraara.m000769": "autoroute",
    "fraara.teo": "autoroute",
    "fraara.n000742": "nationale",
    "fraara.n000769": "nationale",
}

#: Metropolitan France with a margin (lon, lat): a waypoint outside is a broken line.
FRANCE_BBOX = (-5.8, 41.2, 10.0, 51.2)

_URL = re.compile(r"[?&]lat=(-?\d+(?:\.\d+)?)&lon=(-?\d+(?:\.\d+)?)\s*$")
_SYSTEM_D = re.compile(r"^fra[a-z]{3}d\d\d[a-z]?$")
_SYSTEM_M = re.compile(r"^fra[a-z]{3}(d\d\dm|m\d\d)$")


def system_class(system: str) -> str | None:
    """Return the road class of a Travel Mapping system, ``None`` if not read.

    Parameters
    ----------
    system
        System code, e.g. ``"fraa"``, ``"fran"``, ``"fraarad38"``, ``"fraarad69m"``.

    Returns
    -------
    str or None
        One of :data:`ROAD_CLASSES`, or ``None`` for a duplicate or unknown system.
    """
    if system in DUPLICATE_SYSTEMS:
        return None
    if system in ("fraa", "frasf"):
        return "autoroute"
    if system == "fran":
        return "nationale"
    if _SYSTEM_M.match(system):
        return "metropole"
    if _SYSTEM_D.match(system):
        return "departementale"
    return None


@dataclass(frozen=True)
class Waypoints:
    """Every waypoint read, route after route (arrays of equal length).

    Attributes
    ----------
    lon, lat
        Position, degrees (WGS84).
    route
        Index of the waypoint's route in :attr:`routes`.
    hidden
        Shaping point (label starting with ``+``), not an intersection.
    routes
        File root of each route (``fraara.a007``).
    route_class
        Road class of each route (:data:`ROAD_CLASSES`).
    route_region
        Region folder of each route (``FRA-ARA``).
    skipped
        Reported problems that left something out (a listed route without a file, an
        identical duplicate file, an empty file), one sentence each.
    source
        The tarball or folder read.
    """

    lon: np.ndarray
    lat: np.ndarray
    route: np.ndarray
    hidden: np.ndarray
    routes: list[str]
    route_class: list[str]
    route_region: list[str]
    skipped: list[str] = field(default_factory=list)
    source: str = ""

    @property
    def n(self) -> int:
        """Number of waypoints."""
        return len(self.lon)


def _parse_wpt(text: str, where: str) -> tuple[list[float], list[float], list[bool]]:
    """Parse one ``.wpt`` file; raise on a malformed line (file and line named)."""
    lons: list[float] = []
    lats: list[float] = []
    hidden: list[bool] = []
    west, south, east, north = FRANCE_BBOX
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        parts = line.split()
        m = _URL.search(parts[-1]) if len(parts) >= 2 else None
        if m is None:
            raise ValidationError(
                f"{where}, line {lineno}: not a waypoint line ({line[:80]!r}); expected "
                "'LABEL [ALTLABELS] http://www.openstreetmap.org/?lat=..&lon=..'. The file is "
                "damaged: take it again from the Travel Mapping HighwayData repository",
                source=where,
                rows=[lineno],
            )
        lat, lon = float(m.group(1)), float(m.group(2))
        if not (west <= lon <= east and south <= lat <= north):
            raise ValidationError(
                f"{where}, line {lineno}: waypoint at lat={lat}, lon={lon} lies outside "
                "metropolitan France; fix the coordinates (lat then lon, degrees) or take the "
                "file again from the HighwayData repository",
                source=where,
                rows=[lineno],
            )
        lats.append(lat)
        lons.append(lon)
        hidden.append(parts[0].startswith("+"))
    return lons, lats, hidden


def _iter_members(source: Path) -> Iterator[tuple[str, bytes]]:
    """Yield ``(path below hwy_data, bytes)`` of every ``.wpt`` and ``_systems`` CSV."""
    if source.is_dir():
        root = source / "hwy_data" if (source / "hwy_data").is_dir() else source
        for p in sorted(root.rglob("*")):
            if p.suffix in (".wpt", ".csv") and p.is_file():
                yield p.relative_to(root).as_posix(), p.read_bytes()
        return
    try:
        with tarfile.open(source, mode="r:*") as tar:
            for member in tar:
                name = member.name
                if not member.isfile() or not name.endswith((".wpt", ".csv")):
                    continue
                rel = name.split("hwy_data/", 1)[-1]
                fh = tar.extractfile(member)
                if fh is None:
                    continue
                yield rel, fh.read()
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise ValidationError(
            f"{source}: the Travel Mapping archive is truncated or corrupt ({exc}); download "
            "it again (or point to an unpacked hwy_data folder)",
            source=str(source),
        ) from None


def _system_listing(rel: str, data: bytes, listed: dict[str, tuple[str, int]]) -> None:
    """Record the routes a ``_systems/<system>.csv`` lists (root → (file, line))."""
    text = data.decode("utf-8-sig", errors="replace")
    for lineno, line in enumerate(text.splitlines(), start=1):
        cols = line.split(";")
        if lineno == 1 or len(cols) < 7 or not cols[6].strip():
            continue
        listed.setdefault(cols[6].strip().lower(), (rel, lineno))


def read_waypoints(
    source: str | Path,
    *,
    regions: tuple[str, ...] | None = None,
) -> Waypoints:
    """Read the waypoints of every route of the systems the tool uses.

    Parameters
    ----------
    source
        The ``hwy_data`` tarball (``.tar.gz``) or a folder holding ``hwy_data`` (or being it).
    regions
        Region folders to read (``("FRA-ARA", "FRA-BFC")``); all if ``None``.

    Returns
    -------
    Waypoints

    Raises
    ------
    ValidationError
        If the archive is truncated or corrupt, a waypoint line is malformed or outside
        France (file and line named), or two different files hold the same route.
    DataMissingError
        If ``source`` does not exist.
    """
    from ..errors import DataMissingError

    source = Path(source)
    if not source.exists():
        raise DataMissingError(
            f"{source}: no Travel Mapping data there; give the hwy_data tarball or folder "
            "(https://github.com/TravelMapping/HighwayData)"
        )
    listed: dict[str, tuple[str, int]] = {}
    found: dict[str, tuple[str, bytes]] = {}
    skipped: list[str] = []
    lon_parts: list[list[float]] = []
    lat_parts: list[list[float]] = []
    hidden_parts: list[list[bool]] = []
    routes: list[str] = []
    classes: list[str] = []
    route_regions: list[str] = []
    for rel, data in _iter_members(source):
        parts = rel.split("/")
        if parts[0] == "_systems":
            if not rel.endswith("_con.csv") and system_class(Path(rel).stem) is not None:
                _system_listing(rel, data, listed)
            continue
        if len(parts) != 3 or not rel.endswith(".wpt"):
            continue
        region, system, fname = parts
        klass = system_class(system)
        if klass is None or (regions is not None and region not in regions):
            continue
        root = fname[: -len(".wpt")].lower()
        if root in found:
            first, first_data = found[root]
            if first_data == data:
                skipped.append(f"{rel}: identical copy of {first}, read once")
                continue
            raise ValidationError(
                f"{source}: route {root} is filed twice with different waypoints ({first} "
                f"and {rel}); keep one of them",
                source=str(source),
            )
        found[root] = (rel, data)
        lons, lats, hid = _parse_wpt(data.decode("utf-8", errors="replace"), f"{source}:{rel}")
        if len(lons) < 2:
            skipped.append(f"{rel}: fewer than two waypoints, left out")
            continue
        lon_parts.append(lons)
        lat_parts.append(lats)
        hidden_parts.append(hid)
        routes.append(root)
        classes.append(CLASS_OVERRIDES.get(root, klass))
        route_regions.append(region)
    if not routes:
        raise ValidationError(
            f"{source}: no waypoint file of the systems read "
            f"({', '.join(ROAD_CLASSES)}) was found"
            + (f" in regions {', '.join(regions)}" if regions else ""),
            source=str(source),
        )
    # A listed route of a region read (file roots start with the region: ``fraara.``)
    # without its file is a hole in the network: reported, never silent.
    prefixes = {root.split(".", 1)[0] for root in routes}
    for root, (rel, lineno) in sorted(listed.items()):
        if root not in found and root.split(".", 1)[0] in prefixes:
            skipped.append(f"{rel}, line {lineno}: route {root} has no .wpt file")
    for msg in skipped:
        logger.warning("Travel Mapping: %s", msg)
    n = [len(p) for p in lon_parts]
    route_idx = np.repeat(np.arange(len(routes), dtype=np.int32), n)
    return Waypoints(
        lon=np.concatenate([np.asarray(p, dtype=float) for p in lon_parts]),
        lat=np.concatenate([np.asarray(p, dtype=float) for p in lat_parts]),
        route=route_idx,
        hidden=np.concatenate([np.asarray(p, dtype=bool) for p in hidden_parts]),
        routes=routes,
        route_class=classes,
        route_region=route_regions,
        skipped=skipped,
        source=str(source),
    )
