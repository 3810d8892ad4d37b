"""Reading and validating GTFS feeds.

:func:`read_gtfs` reads a GTFS feed (a ``.zip`` archive or a folder of ``.txt`` files),
checks it, and returns a :class:`GtfsFeed` whose tables are ready for compiling a
timetable (:mod:`analysis.transit.timetable`):

- required files (``agency``, ``stops``, ``routes``, ``trips``, ``stop_times`` and at least
  one of ``calendar`` / ``calendar_dates``) and their required columns;
- times as seconds after midnight of the *service day* (GTFS times past ``24:00:00`` are
  kept as they are: a trip of Monday at ``25:10:00`` runs at 01:10 on Tuesday); negative,
  malformed and unordered times are errors naming the file and the row;
- stops without coordinates inherit their parent station's; stops still without
  coordinates cannot be placed, so their stop times are left out (riding through them is
  unaffected) and the feed records a note;
- optional clipping to a polygon (Lambert-93): stop times at stops outside are dropped
  early, which keeps a national feed small. Seated journeys through the dropped stops are
  unchanged (the remaining consecutive stops of a trip still form connections), only
  boarding, alighting and transferring there are lost;
- ``frequencies.txt`` trips are expanded into one trip per departure.

Every problem a user can fix is an :class:`analysis.errors.ValidationError` with
``source`` = the file (``feed.zip:stop_times.txt``) and ``rows`` = the 1-based data rows.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import logging
import os
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataMissingError, ValidationError
from ..io import decode_text
from ..manifest import file_digest, verify_input

logger = logging.getLogger(__name__)

#: Files every feed must have.
REQUIRED_FILES: tuple[str, ...] = (
    "agency.txt",
    "stops.txt",
    "routes.txt",
    "trips.txt",
    "stop_times.txt",
)

#: At least one of these must be present.
CALENDAR_FILES: tuple[str, ...] = ("calendar.txt", "calendar_dates.txt")

_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

#: Required columns of each file read.
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "stops.txt": ("stop_id", "stop_lat", "stop_lon"),
    "routes.txt": ("route_id",),
    "trips.txt": ("route_id", "service_id", "trip_id"),
    "stop_times.txt": ("trip_id", "arrival_time", "departure_time", "stop_id", "stop_sequence"),
    "calendar.txt": ("service_id", *_WEEKDAYS, "start_date", "end_date"),
    "calendar_dates.txt": ("service_id", "date", "exception_type"),
    "transfers.txt": ("from_stop_id", "to_stop_id", "transfer_type"),
    "frequencies.txt": ("trip_id", "start_time", "end_time", "headway_secs"),
}

#: Optional columns read when present (others are ignored).
OPTIONAL_COLUMNS: dict[str, tuple[str, ...]] = {
    "stops.txt": ("stop_name", "location_type", "parent_station"),
    "routes.txt": ("agency_id", "route_short_name", "route_long_name", "route_type"),
    "trips.txt": (),
    "stop_times.txt": ("pickup_type", "drop_off_type"),
    "calendar.txt": (),
    "calendar_dates.txt": (),
    "transfers.txt": ("min_transfer_time",),
    "frequencies.txt": ("exact_times",),
}

#: Marker for a missing time in parsed time arrays.
NO_TIME = -1

#: Largest uncompressed size of a feed file read from a zip archive (bytes). The largest
#: member of the regional TER feed (``stop_times.txt``) is about 29 MB; a member announcing
#: more than this is refused before it is decompressed (a "zip bomb" would exhaust memory).
MAX_MEMBER_BYTES = 2 * 1024**3

#: Memory needed to parse a feed file, as a multiple of its uncompressed size (measured
#: 13-18x on the TER ``stop_times.txt``): a feed whose largest file would need more than
#: the memory available is refused before anything is read.
PARSE_MEMORY_FACTOR = 15

#: Compression methods :mod:`zipfile` can decompress (stored, deflate, bzip2, lzma).
_ZIP_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "Deflate",
                zipfile.ZIP_BZIP2: "bzip2", zipfile.ZIP_LZMA: "LZMA"}  # fmt: skip

#: Names of the other methods, for the message (APPNOTE 4.4.5).
_OTHER_METHODS = {9: "Deflate64 (Windows' 'enhanced deflate')", 6: "Implode", 93: "Zstandard",
                  95: "XZ", 98: "PPMd", 99: "AES encryption"}  # fmt: skip


def available_memory() -> int:
    """Bytes of memory available to this process now (``psutil``)."""
    import psutil

    return int(psutil.virtual_memory().available)


#: Times (seconds after midnight) from here on are not times: an absurd hour field would
#: otherwise overflow the int64 arrays.
_TIME_LIMIT_S = 2**31

_SLOW_TIME = re.compile(r"^(-?)(\d+):(\d{1,2}):(\d{1,2})$")


# ---------------------------------------------------------------------------------- helpers
def parse_gtfs_date(value: str) -> dt.date:
    """Parse a date given as ``YYYYMMDD`` or ``YYYY-MM-DD``.

    Parameters
    ----------
    value
        The date text.

    Returns
    -------
    datetime.date

    Raises
    ------
    ValidationError
        If the text is not a valid date.
    """
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    for fmt in ("%Y%m%d", "%Y-%m-%d"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValidationError(f"{value!r} is not a date; write it as YYYY-MM-DD (e.g. 2025-02-04)")


def parse_clock(value: str | int | float, *, what: str = "time") -> int:
    """Parse ``HH:MM`` or ``HH:MM:SS`` (hours may exceed 23) into seconds.

    Parameters
    ----------
    value
        The time text, or a number of seconds.
    what
        Name of the argument, for the error message.

    Returns
    -------
    int
        Seconds after midnight.

    Raises
    ------
    ValidationError
        If the text is not a non-negative clock time.
    """
    if isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool):
        # A plain comparison: NaN fails it, and unlike np.isfinite it takes any Python int.
        if not 0 <= value < _TIME_LIMIT_S:
            raise ValidationError(f"{what} must be a non-negative number of seconds below 2**31")
        return int(value)
    m = re.fullmatch(r"\s*(\d{1,2}):(\d{2})(?::(\d{2}))?\s*", str(value))
    if not m or int(m.group(2)) >= 60 or int(m.group(3) or 0) >= 60:
        raise ValidationError(f"{what} {value!r} is not a clock time; write it as HH:MM")
    return int(m.group(1)) * 3600 + int(m.group(2)) * 60 + int(m.group(3) or 0)


def format_clock(seconds: float) -> str:
    """Format seconds after midnight as ``HH:MM`` (hours may exceed 23)."""
    s = round(seconds)
    return f"{s // 3600:02d}:{(s % 3600) // 60:02d}"


def parse_time_column(values: Any, *, source: str, column: str) -> np.ndarray:
    """Parse a GTFS time column (``H:MM:SS``, hours may exceed 23) into seconds.

    Parameters
    ----------
    values
        The column as text; empty strings are missing times.
    source
        File name for error messages.
    column
        Column name for error messages.

    Returns
    -------
    numpy.ndarray
        ``int64`` seconds after midnight of the service day, :data:`NO_TIME` where empty.

    Raises
    ------
    ValidationError
        For negative or malformed times (or beyond 2**31 seconds), naming the rows.
    """
    s = np.char.strip(np.asarray(values, dtype=str))
    n = len(s)
    out = np.full(n, NO_TIME, dtype=np.int64)
    if n == 0:
        return out
    lens = np.char.str_len(s)
    fast = np.flatnonzero(lens == 8)
    slow = lens > 0
    if len(fast):
        codes = s[fast].astype("U8").view(np.uint32).reshape(-1, 8).astype(np.int64)
        d = codes - 48
        digit_pos = [0, 1, 3, 4, 6, 7]
        ok = (codes[:, 2] == 58) & (codes[:, 5] == 58)
        ok &= np.all((d[:, digit_pos] >= 0) & (d[:, digit_pos] <= 9), axis=1)
        mm = d[:, 3] * 10 + d[:, 4]
        ss = d[:, 6] * 10 + d[:, 7]
        ok &= (mm < 60) & (ss < 60)
        secs = (d[:, 0] * 10 + d[:, 1]) * 3600 + mm * 60 + ss
        out[fast[ok]] = secs[ok]
        slow[fast[ok]] = False
    bad: list[int] = []
    negative: list[int] = []
    for i in np.flatnonzero(slow):
        m = _SLOW_TIME.match(s[i])
        if not m or int(m.group(3)) >= 60 or int(m.group(4)) >= 60:
            bad.append(int(i) + 1)
            continue
        secs = int(m.group(2)) * 3600 + int(m.group(3)) * 60 + int(m.group(4))
        if secs >= _TIME_LIMIT_S:  # an absurd hour field: it would overflow int64
            bad.append(int(i) + 1)
            continue
        if m.group(1) == "-" and secs > 0:
            negative.append(int(i) + 1)
            continue
        out[i] = secs
    if negative:
        raise ValidationError(
            f"negative {column} (e.g. {str(s[negative[0] - 1])!r}); GTFS times count from "
            "midnight of the service day and are never negative",
            source=source,
            rows=negative,
        )
    if bad:
        raise ValidationError(
            f"{column} {str(s[bad[0] - 1])!r} is not a time; GTFS times are H:MM:SS or "
            "HH:MM:SS (hours may exceed 23 for trips running past midnight)",
            source=source,
            rows=bad,
        )
    return out


def _int_column(
    values: pd.Series, *, source: str, column: str, default: int | None = None, minimum: int = 0
) -> np.ndarray:
    """Parse an integer column; empty cells take ``default`` (an error if ``None``)."""
    s = values.astype(str).str.strip()
    empty = s == ""
    if default is not None:
        s = s.where(~empty, str(default))
    num = pd.to_numeric(s, errors="coerce")
    bad = num.isna() | (num != np.floor(num)) | (num < minimum)
    if bad.any():
        rows = (np.flatnonzero(bad.to_numpy()) + 1).tolist()
        raise ValidationError(
            f"{column} {values.iloc[rows[0] - 1]!r} is not an integer >= {minimum}",
            source=source,
            rows=rows,
        )
    return num.to_numpy(dtype=np.int64)


def _date_column(values: pd.Series, *, source: str, column: str) -> np.ndarray:
    """Parse a ``YYYYMMDD`` column into ``datetime64[D]``."""
    s = values.astype(str).str.strip()
    parsed = pd.to_datetime(s, format="%Y%m%d", errors="coerce")
    bad = parsed.isna().to_numpy()
    if bad.any():
        rows = (np.flatnonzero(bad) + 1).tolist()
        raise ValidationError(
            f"{column} {values.iloc[rows[0] - 1]!r} is not a date written YYYYMMDD",
            source=source,
            rows=rows,
        )
    return parsed.to_numpy().astype("datetime64[D]")


def _feed_name(path: Path) -> str:
    name = path.name
    for suffix in (".zip", ".gtfs"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    return name or "feed"


# ---------------------------------------------------------------------------------- source
class _FeedSource:
    """Uniform access to the files of a zip archive or a folder."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._zip: zipfile.ZipFile | None = None
        self.members: dict[str, str] = {}
        if path.is_dir():
            for p in path.iterdir():
                if p.is_file() and p.suffix.lower() == ".txt":
                    self.members[p.name.lower()] = str(p)
        else:
            verify_input(path)  # a feed of the mirror is checked against the manifest
            try:
                self._zip = zipfile.ZipFile(path)
            except zipfile.BadZipFile as exc:
                raise ValidationError(
                    "not a GTFS feed: the file is not a zip archive (a GTFS feed is a .zip of "
                    "CSV .txt files, or a folder of them)",
                    source=str(path),
                ) from exc
            names = [n for n in self._zip.namelist() if not n.endswith("/")]
            # Files at the top level, or inside a single folder of the archive.
            for n in names:
                base = n.rsplit("/", 1)[-1].lower()
                if base.endswith(".txt") and (n.count("/") == 0 or base not in self.members):
                    self.members.setdefault(base, n)
            try:
                self._check_members()
            except ValidationError:
                self._zip.close()
                raise
        if path.is_dir():
            self._check_memory({n: Path(m).stat().st_size for n, m in self.members.items()})

    def _check_members(self) -> None:
        """Refuse, before any read, members that cannot be decompressed or parsed here."""
        assert self._zip is not None
        sizes = {}
        for base, member in sorted(self.members.items()):
            info = self._zip.getinfo(member)
            if info.flag_bits & 0x1 or info.compress_type == 99:
                raise ValidationError(
                    "the archive is password-protected (encrypted members cannot be read); "
                    "unzip it with its password and give the folder, or re-zip it without one",
                    source=self.label(base),
                )
            if info.compress_type not in _ZIP_METHODS:
                method = _OTHER_METHODS.get(info.compress_type, f"method {info.compress_type}")
                raise ValidationError(
                    f"the file is compressed with {method}, which cannot be decompressed "
                    "here; unzip the archive and give the folder, or re-zip it with ordinary "
                    "Deflate (e.g. `zip -r feed.zip *.txt`)",
                    source=self.label(base),
                )
            sizes[base] = info.file_size
        self._check_memory(sizes)

    def _check_memory(self, sizes: dict[str, int]) -> None:
        """Refuse a feed whose largest file needs more memory to parse than is available."""
        if not sizes:
            return
        base = max(sizes, key=lambda b: sizes[b])
        size = sizes[base]
        if size > MAX_MEMBER_BYTES:
            return  # refused with its own message when read (GTFS-17)
        need, have = size * PARSE_MEMORY_FACTOR, available_memory()
        if need > have:
            raise ValidationError(
                f"the file is {size:,} bytes once decompressed; parsing it needs about "
                f"{need / 1e9:.1f} GB of memory ({PARSE_MEMORY_FACTOR}x its size) and "
                f"{have / 1e9:.1f} GB is available: run on a machine with more memory, or "
                "cut the feed to the region first",
                source=self.label(base),
            )

    def has(self, name: str) -> bool:
        return name in self.members

    def label(self, name: str) -> str:
        return f"{self.path.name}:{name}"

    def read(self, name: str) -> pd.DataFrame:
        """Read one file as text columns (names stripped and lower-cased)."""
        source = self.label(name)
        wanted = set(REQUIRED_COLUMNS.get(name, ())) | set(OPTIONAL_COLUMNS.get(name, ()))
        try:
            if self._zip is not None:
                info = self._zip.getinfo(self.members[name])
                if info.file_size > MAX_MEMBER_BYTES:
                    raise ValidationError(
                        f"the file is {info.file_size:,} bytes once decompressed, larger than "
                        f"the {MAX_MEMBER_BYTES:,} bytes accepted for a GTFS file; too large "
                        "(a damaged or hostile archive?): download the feed again",
                        source=source,
                    )
                raw = self._zip.read(self.members[name])
            else:
                raw = Path(self.members[name]).read_bytes()
        except (OSError, zipfile.BadZipFile, KeyError) as exc:
            raise ValidationError(f"cannot read the file: {exc}", source=source) from exc
        if not raw.strip():
            raise ValidationError("the file is empty (no header row)", source=source)
        if raw.startswith(_WIDE_BOMS) or b"\x00" in raw[:4096]:
            # UTF-16/32 (with a mark: decoded; without: refused), the user-text rule
            try:
                raw = decode_text(raw, source=source, legacy=False).encode("utf-8")
            except ValidationError as exc:
                raise ValidationError(
                    f"not a readable CSV file: {exc.detail}", source=source
                ) from None
        try:
            df = pd.read_csv(
                io.BytesIO(raw),
                dtype=str,
                keep_default_na=False,
                encoding="utf-8-sig",
                usecols=lambda c: str(c).strip().lower() in wanted,
                skipinitialspace=True,
            )
        except UnicodeDecodeError as exc:
            line = raw.count(b"\n", 0, exc.start) + 1
            raise ValidationError(
                f"not a readable CSV file: not UTF-8 text (line {line} has the byte "
                f"0x{raw[exc.start]:02X}: Windows-1252 or Latin-1?); GTFS files are UTF-8: "
                "save it as UTF-8",
                source=source,
            ) from exc
        except (pd.errors.ParserError, ValueError) as exc:
            raise ValidationError(f"not a readable CSV file: {exc}", source=source) from exc
        df.columns = [str(c).strip().lower() for c in df.columns]
        missing = [c for c in REQUIRED_COLUMNS.get(name, ()) if c not in df.columns]
        if missing:
            raise ValidationError(
                f"missing required column(s): {', '.join(missing)}", source=source
            )
        for c in OPTIONAL_COLUMNS.get(name, ()):
            if c not in df.columns:
                df[c] = ""
        return df

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()


#: Byte-order marks of UTF-16 and UTF-32 (a GTFS file saved as "Unicode text").
_WIDE_BOMS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")


def feed_checksum(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a feed (the zip file, or the ``.txt`` files of a folder in name order)."""
    p = Path(path)
    if not p.is_dir():  # a zip: the digest is cached by size and mtime
        return file_digest(p)
    h = hashlib.sha256()
    files = sorted(q for q in p.iterdir() if q.suffix.lower() == ".txt")
    for q in files:
        h.update(q.name.encode())
        with open(q, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


# ---------------------------------------------------------------------------------- feed
@dataclass(eq=False)
class GtfsFeed:
    """A validated GTFS feed, tables indexed by position.

    Attributes
    ----------
    name
        Short name (the file name without ``.zip``); prefixes ids when feeds are combined.
    path
        Where it was read from.
    sha256
        Checksum of the source, for caches.
    stops
        One row per stop: ``stop_id, stop_name, location_type, parent_station, lon, lat,
        x_l93, y_l93`` (coordinates ``NaN`` when unknown), and ``inside`` (within the clip).
    routes
        ``route_id, agency_id, route_short_name, route_long_name, route_type``.
    trips
        ``trip_id, route_id, service_id`` and ``route`` (row position in ``routes``).
    stop_times
        Timed stop events inside the clip, sorted by trip then ``stop_sequence``: ``trip``
        (row in ``trips``), ``stop`` (row in ``stops``), ``seq``, ``arr``, ``dep`` (seconds
        after midnight of the service day), ``pickup``, ``dropoff`` (booleans).
    calendar, calendar_dates
        Service calendars (``None`` when the file is absent).
    transfers
        ``from_stop, to_stop`` (rows in ``stops``), ``transfer_type``, ``min_transfer_time``
        (seconds, ``-1`` if not given); ``None`` when absent.
    notes
        What was fixed or left out while reading, for the user.
    """

    name: str
    path: Path
    sha256: str
    stops: pd.DataFrame
    routes: pd.DataFrame
    trips: pd.DataFrame
    stop_times: pd.DataFrame
    calendar: pd.DataFrame | None
    calendar_dates: pd.DataFrame | None
    transfers: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)

    @cached_property
    def service_ids(self) -> np.ndarray:
        """Every service id used by trips or calendars."""
        parts = [self.trips["service_id"].to_numpy(str)]
        if self.calendar is not None:
            parts.append(self.calendar["service_id"].to_numpy(str))
        if self.calendar_dates is not None:
            parts.append(self.calendar_dates["service_id"].to_numpy(str))
        return np.unique(np.concatenate(parts))

    @cached_property
    def date_range(self) -> tuple[dt.date, dt.date]:
        """First and last day of the feed's calendar (``calendar`` and ``calendar_dates``)."""
        return calendar_range(self.calendar, self.calendar_dates, source=self.path.name)

    def active_services(self, date: dt.date) -> set[str]:
        """Service ids running on ``date`` (calendar weekdays, then exceptions).

        Parameters
        ----------
        date
            The service day.

        Returns
        -------
        set of str
        """
        day = np.datetime64(date, "D")
        active: set[str] = set()
        if self.calendar is not None and len(self.calendar):
            c = self.calendar
            weekday = _WEEKDAYS[date.weekday()]
            on = (c["start_date"] <= day) & (c["end_date"] >= day) & (c[weekday] == 1)
            active.update(c.loc[on, "service_id"].tolist())
        if self.calendar_dates is not None and len(self.calendar_dates):
            cd = self.calendar_dates[self.calendar_dates["date"] == day]
            active.update(cd.loc[cd["exception_type"] == 1, "service_id"].tolist())
            active.difference_update(cd.loc[cd["exception_type"] == 2, "service_id"].tolist())
        return active

    def active_trips(self, date: dt.date) -> np.ndarray:
        """Boolean mask of the trips running on service day ``date``."""
        return self.trips["service_id"].isin(self.active_services(date)).to_numpy()

    def summary(self) -> dict[str, Any]:
        """Return the counts and calendar of the feed, for reports."""
        lo, hi = self.date_range
        return {
            "name": self.name,
            "path": str(self.path),
            "sha256": self.sha256,
            "stops": len(self.stops),
            "stops_inside": int(self.stops["inside"].sum()),
            "routes": len(self.routes),
            "trips": len(self.trips),
            "stop_times_inside": len(self.stop_times),
            "start_date": lo.isoformat(),
            "end_date": hi.isoformat(),
            "notes": list(self.notes),
        }


def check_date(feeds: Iterable[GtfsFeed], date: str | dt.date) -> dt.date:
    """Check that a date lies inside the calendar of every feed.

    Parameters
    ----------
    feeds
        The feeds.
    date
        The service day (``YYYY-MM-DD``, ``YYYYMMDD`` or a date).

    Returns
    -------
    datetime.date

    Raises
    ------
    ValidationError
        If the date is outside a feed's calendar; the message names the valid range.
    """
    day = parse_gtfs_date(date)  # type: ignore[arg-type]
    for feed in feeds:
        lo, hi = feed.date_range
        if not lo <= day <= hi:
            raise ValidationError(
                f"the date {day.isoformat()} is outside the calendar of feed {feed.name!r}, "
                f"valid from {lo.isoformat()} to {hi.isoformat()}; choose a date in that range",
                source=str(feed.path),
            )
    return day


def calendar_range(
    calendar: pd.DataFrame | None, calendar_dates: pd.DataFrame | None, *, source: str
) -> tuple[dt.date, dt.date]:
    """First and last service day defined by the calendar tables.

    Parameters
    ----------
    calendar, calendar_dates
        Parsed calendar tables (``None`` when absent).
    source
        Feed name for the error message.

    Returns
    -------
    (datetime.date, datetime.date)

    Raises
    ------
    ValidationError
        If the calendar defines no service day.
    """
    lows, highs = [], []
    if calendar is not None and len(calendar):
        lows.append(calendar["start_date"].min())
        highs.append(calendar["end_date"].max())
    if calendar_dates is not None and len(calendar_dates):
        added = calendar_dates[calendar_dates["exception_type"] == 1]
        if len(added):
            lows.append(added["date"].min())
            highs.append(added["date"].max())
    if not lows:
        raise ValidationError(
            "the feed's calendar defines no service day at all",
            source=f"{source}:calendar.txt / calendar_dates.txt",
        )
    return pd.Timestamp(min(lows)).date(), pd.Timestamp(max(highs)).date()


def read_calendar_range(path: str | os.PathLike[str]) -> tuple[str, dt.date, dt.date]:
    """Read only the calendar files of a feed and return its name and date range.

    Parameters
    ----------
    path
        A GTFS zip or folder.

    Returns
    -------
    name : str
    start, end : datetime.date

    Raises
    ------
    DataMissingError
        If the path does not exist.
    ValidationError
        If the feed is not GTFS or its calendar is invalid or empty.
    """
    p = Path(path)
    if not p.exists():
        raise DataMissingError(f"GTFS feed not found: {p}")
    src = _FeedSource(p)
    try:
        if not any(src.has(f) for f in CALENDAR_FILES):
            raise ValidationError(
                "not a valid GTFS feed: missing required file(s) calendar.txt or "
                "calendar_dates.txt",
                source=str(p),
            )
        calendar, calendar_dates = _read_calendars(src)
    finally:
        src.close()
    lo, hi = calendar_range(calendar, calendar_dates, source=p.name)
    return _feed_name(p), lo, hi


# ---------------------------------------------------------------------------------- reading
def read_gtfs(
    path: str | os.PathLike[str],
    *,
    name: str | None = None,
    clip_l93: Any | None = None,
) -> GtfsFeed:
    """Read and validate one GTFS feed.

    Parameters
    ----------
    path
        A GTFS ``.zip`` archive or a folder holding the ``.txt`` files.
    name
        Short name of the feed (default: the file name without ``.zip``).
    clip_l93
        Optional shapely polygon in Lambert-93 (EPSG:2154); stop times at stops outside it
        are left out.

    Returns
    -------
    GtfsFeed

    Raises
    ------
    DataMissingError
        If the path does not exist.
    ValidationError
        If the feed is not GTFS, misses required files or columns, has bad references,
        malformed, negative or unordered times; the message names the file and rows.
    """
    p = Path(path)
    if not p.exists():
        raise DataMissingError(f"GTFS feed not found: {p}")
    src = _FeedSource(p)
    try:
        missing = [f for f in REQUIRED_FILES if not src.has(f)]
        if not any(src.has(f) for f in CALENDAR_FILES):
            missing.append("calendar.txt or calendar_dates.txt")
        if missing:
            raise ValidationError(
                f"not a valid GTFS feed: missing required file(s) {', '.join(missing)}",
                source=str(p),
            )
        feed = _read(src, name=name or _feed_name(p), clip_l93=clip_l93)
    finally:
        src.close()
    logger.info(
        "read GTFS %s: %d stops (%d inside the clip), %d trips, %d stop times kept",
        feed.name, len(feed.stops), int(feed.stops["inside"].sum()), len(feed.trips),
        len(feed.stop_times),
    )  # fmt: skip
    return feed


def _read(src: _FeedSource, *, name: str, clip_l93: Any | None) -> GtfsFeed:
    notes: list[str] = []
    stops = _read_stops(src, notes)
    # Clip: keep stops inside the polygon (stops without coordinates are outside). A feed
    # with no stop inside is not a timetable of the region: refused before the heavy part.
    placed = np.isfinite(stops["x_l93"].to_numpy())
    inside = placed.copy()
    if clip_l93 is not None:
        import shapely

        inside[placed] = shapely.contains_xy(
            clip_l93, stops["x_l93"].to_numpy()[placed], stops["y_l93"].to_numpy()[placed]
        )
        if not inside.any():
            where = (
                f"; its stops lie around lon {np.nanmedian(stops['lon']):.2f}, lat "
                f"{np.nanmedian(stops['lat']):.2f}"
                if placed.any()
                else " (no stop has coordinates)"
            )
            raise ValidationError(
                f"none of the {len(stops):,} stops of this feed lies in the region (or the "
                f"buffer around it){where}: it is not a timetable of the region; leave it "
                "out of --gtfs",
                source=src.label("stops.txt"),
            )
    routes = src.read("routes.txt")
    _check_unique(routes["route_id"], source=src.label("routes.txt"), column="route_id")
    routes["route_type"] = routes["route_type"].astype(str).str.strip()
    trips = src.read("trips.txt")
    _check_unique(trips["trip_id"], source=src.label("trips.txt"), column="trip_id")
    route_pos = pd.Index(routes["route_id"]).get_indexer(trips["route_id"])
    if (route_pos < 0).any():
        rows = (np.flatnonzero(route_pos < 0) + 1).tolist()
        raise ValidationError(
            f"route_id {trips['route_id'].iloc[rows[0] - 1]!r} is not in routes.txt",
            source=src.label("trips.txt"),
            rows=rows,
        )
    trips["route"] = route_pos

    calendar, calendar_dates = _read_calendars(src)
    services: set[str] = set()
    for table in (calendar, calendar_dates):
        if table is not None:
            services.update(table["service_id"])
    unknown = ~trips["service_id"].isin(services).to_numpy()
    if unknown.any():
        rows = (np.flatnonzero(unknown) + 1).tolist()
        raise ValidationError(
            f"service_id {trips['service_id'].iloc[rows[0] - 1]!r} is in neither calendar.txt "
            "nor calendar_dates.txt, so the trip would never run; add the service to a "
            "calendar or remove the trip",
            source=src.label("trips.txt"),
            rows=rows,
        )

    stop_times = _read_stop_times(src, stops, trips, notes)
    if src.has("frequencies.txt"):
        stop_times, trips = _expand_frequencies(src, stop_times, trips, notes)

    stops["inside"] = inside
    used_unplaced = np.unique(stop_times["stop"].to_numpy()[~placed[stop_times["stop"].to_numpy()]])
    if len(used_unplaced):
        ids = stops["stop_id"].to_numpy()[used_unplaced]
        msg = (
            f"{len(ids)} stop(s) used by trips have no coordinates (nor a parent station "
            f"with coordinates) and were left out: {', '.join(map(str, ids[:10]))}"
        )
        logger.warning("%s: %s", src.label("stops.txt"), msg)
        notes.append(msg)
    stop_times = stop_times[inside[stop_times["stop"].to_numpy()]].reset_index(drop=True)

    transfers = _read_transfers(src, stops) if src.has("transfers.txt") else None
    feed = GtfsFeed(
        name=name,
        path=src.path,
        sha256=feed_checksum(src.path),
        stops=stops,
        routes=routes,
        trips=trips,
        stop_times=stop_times,
        calendar=calendar,
        calendar_dates=calendar_dates,
        transfers=transfers,
        notes=notes,
    )
    feed.date_range  # noqa: B018 - validate that the calendar defines service days
    return feed


def _read_calendars(src: _FeedSource) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    calendar = None
    if src.has("calendar.txt"):
        calendar = src.read("calendar.txt")
        label = src.label("calendar.txt")
        for d in _WEEKDAYS:
            calendar[d] = _int_column(calendar[d], source=label, column=d)
            if (calendar[d] > 1).any():
                rows = (np.flatnonzero(calendar[d].to_numpy() > 1) + 1).tolist()
                raise ValidationError(f"{d} must be 0 or 1", source=label, rows=rows)
        for col in ("start_date", "end_date"):
            calendar[col] = _date_column(calendar[col], source=label, column=col)
        bad = calendar["end_date"] < calendar["start_date"]
        if bad.any():
            raise ValidationError(
                "end_date is before start_date",
                source=label,
                rows=(np.flatnonzero(bad.to_numpy()) + 1).tolist(),
            )
    calendar_dates = None
    if src.has("calendar_dates.txt"):
        calendar_dates = src.read("calendar_dates.txt")
        label = src.label("calendar_dates.txt")
        calendar_dates["date"] = _date_column(calendar_dates["date"], source=label, column="date")
        et = _int_column(calendar_dates["exception_type"], source=label, column="exception_type")
        bad = (et != 1) & (et != 2)
        if bad.any():
            raise ValidationError(
                "exception_type must be 1 (service added) or 2 (service removed)",
                source=label,
                rows=(np.flatnonzero(bad) + 1).tolist(),
            )
        calendar_dates["exception_type"] = et
    return calendar, calendar_dates


def _check_unique(values: pd.Series, *, source: str, column: str) -> None:
    dup = values.duplicated(keep="first").to_numpy()
    if dup.any():
        rows = (np.flatnonzero(dup) + 1).tolist()
        raise ValidationError(
            f"{column} {values.iloc[rows[0] - 1]!r} appears more than once",
            source=source,
            rows=rows,
        )


def _read_stops(src: _FeedSource, notes: list[str]) -> pd.DataFrame:
    from pyproj import Transformer

    label = src.label("stops.txt")
    stops = src.read("stops.txt")
    _check_unique(stops["stop_id"], source=label, column="stop_id")
    lat = pd.to_numeric(stops["stop_lat"].str.strip(), errors="coerce")  # "" -> NaN
    lon = pd.to_numeric(stops["stop_lon"].str.strip(), errors="coerce")
    garbage = (lat.isna() & (stops["stop_lat"].str.strip() != "")) | (
        lon.isna() & (stops["stop_lon"].str.strip() != "")
    )
    out_of_range = (lat.abs() > 90) | (lon.abs() > 180)
    bad = (garbage | out_of_range).to_numpy()
    if bad.any():
        rows = (np.flatnonzero(bad) + 1).tolist()
        raise ValidationError(
            "stop_lat/stop_lon must be decimal degrees (latitude within ±90, longitude ±180)",
            source=label,
            rows=rows,
        )
    lat_a = lat.to_numpy(dtype=float, copy=True)
    lon_a = lon.to_numpy(dtype=float, copy=True)
    # (0, 0) is a common placeholder for "unknown".
    zero = (lat_a == 0) & (lon_a == 0)
    lat_a[zero] = np.nan
    lon_a[zero] = np.nan
    # Stops without coordinates inherit their parent station's.
    missing = np.isnan(lat_a) | np.isnan(lon_a)
    if missing.any():
        pos = pd.Index(stops["stop_id"]).get_indexer(stops["parent_station"].str.strip())
        fix = missing & (pos >= 0)
        fix[fix] &= ~(np.isnan(lat_a[pos[fix]]) | np.isnan(lon_a[pos[fix]]))
        if fix.any():
            lat_a[fix] = lat_a[pos[fix]]
            lon_a[fix] = lon_a[pos[fix]]
            notes.append(f"{int(fix.sum())} stop(s) without coordinates placed at their station")
    lt = stops["location_type"].str.strip().replace("", "0")
    loc_type = pd.to_numeric(lt, errors="coerce").fillna(0).astype(np.int64).to_numpy()
    x = np.full(len(stops), np.nan)
    y = np.full(len(stops), np.nan)
    ok = ~(np.isnan(lat_a) | np.isnan(lon_a))
    if ok.any():
        tr = Transformer.from_crs("EPSG:4326", "EPSG:2154", always_xy=True)
        x[ok], y[ok] = tr.transform(lon_a[ok], lat_a[ok])
    return pd.DataFrame(
        {
            "stop_id": stops["stop_id"].astype(str).to_numpy(),
            "stop_name": stops["stop_name"].astype(str).to_numpy(),
            "location_type": loc_type,
            "parent_station": stops["parent_station"].astype(str).str.strip().to_numpy(),
            "lon": lon_a,
            "lat": lat_a,
            "x_l93": x,
            "y_l93": y,
        }
    )


def _read_stop_times(
    src: _FeedSource, stops: pd.DataFrame, trips: pd.DataFrame, notes: list[str]
) -> pd.DataFrame:
    label = src.label("stop_times.txt")
    st = src.read("stop_times.txt")
    n = len(st)
    if n == 0:
        raise ValidationError(
            "stop_times.txt has no stop time (a header and no row): the feed has no timetable",
            source=label,
        )
    row = np.arange(1, n + 1)
    trip = pd.Index(trips["trip_id"]).get_indexer(st["trip_id"])
    if (trip < 0).any():
        rows = row[trip < 0].tolist()
        raise ValidationError(
            f"trip_id {st['trip_id'].iloc[rows[0] - 1]!r} is not in trips.txt",
            source=label,
            rows=rows,
        )
    stop = pd.Index(stops["stop_id"]).get_indexer(st["stop_id"])
    if (stop < 0).any():
        rows = row[stop < 0].tolist()
        raise ValidationError(
            f"stop_id {st['stop_id'].iloc[rows[0] - 1]!r} is not in stops.txt",
            source=label,
            rows=rows,
        )
    seq = _int_column(st["stop_sequence"], source=label, column="stop_sequence")
    arr = parse_time_column(st["arrival_time"].to_numpy(), source=label, column="arrival_time")
    dep = parse_time_column(st["departure_time"].to_numpy(), source=label, column="departure_time")
    pickup = _int_column(st["pickup_type"], source=label, column="pickup_type", default=0)
    dropoff = _int_column(st["drop_off_type"], source=label, column="drop_off_type", default=0)
    # Only one of the two times given: the stop is instantaneous.
    arr = np.where(arr == NO_TIME, dep, arr)
    dep = np.where(dep == NO_TIME, arr, dep)

    order = np.lexsort((seq, trip))
    t_o, s_o = trip[order], seq[order]
    first = np.ones(n, dtype=bool)
    first[1:] = t_o[1:] != t_o[:-1]
    last = np.ones(n, dtype=bool)
    last[:-1] = t_o[1:] != t_o[:-1]
    dup = np.zeros(n, dtype=bool)
    dup[1:] = (t_o[1:] == t_o[:-1]) & (s_o[1:] == s_o[:-1])
    if dup.any():
        rows = np.sort(np.concatenate([row[order][dup], row[order][np.roll(dup, -1)]])).tolist()
        raise ValidationError(
            "the same stop_sequence appears twice in one trip", source=label, rows=rows
        )
    # A trip needs times at its first and last stop; untimed intermediate stops are left out
    # (riding through them is unaffected; boarding there is not offered).
    untimed = arr[order] == NO_TIME
    ends = untimed & (first | last)
    if ends.any():
        rows = np.sort(row[order][ends]).tolist()
        raise ValidationError(
            "the first and last stop of a trip must have an arrival or departure time",
            source=label,
            rows=rows,
        )
    single = first & last
    if single.any():
        notes.append(f"{int(single.sum())} trip(s) with a single stop were left out")
    keep = ~untimed & ~single
    if untimed.any():
        notes.append(f"{int(untimed.sum())} untimed intermediate stop time(s) left out")
    order = order[keep]
    t_o = trip[order]
    a_o, d_o = arr[order], dep[order]
    r_o = row[order]
    bad_dwell = d_o < a_o
    if bad_dwell.any():
        raise ValidationError(
            "departure_time is before arrival_time at the same stop",
            source=label,
            rows=np.sort(r_o[bad_dwell]).tolist(),
        )
    same = t_o[1:] == t_o[:-1]
    backwards = same & (a_o[1:] < d_o[:-1])
    if backwards.any():
        i = np.flatnonzero(backwards)
        rows = np.unique(np.concatenate([r_o[i], r_o[i + 1]])).tolist()
        raise ValidationError(
            "stop times go back in time along the trip (ordered by stop_sequence, each "
            "arrival must be at or after the previous departure)",
            source=label,
            rows=rows,
        )
    return pd.DataFrame(
        {
            "trip": t_o.astype(np.int64),
            "stop": stop[order].astype(np.int64),
            "seq": seq[order],
            "arr": a_o,
            "dep": d_o,
            "pickup": pickup[order] != 1,
            "dropoff": dropoff[order] != 1,
        }
    )


def _expand_frequencies(
    src: _FeedSource, stop_times: pd.DataFrame, trips: pd.DataFrame, notes: list[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Replace each frequency-based trip by one trip per departure."""
    label = src.label("frequencies.txt")
    fr = src.read("frequencies.txt")
    if not len(fr):
        return stop_times, trips
    trip = pd.Index(trips["trip_id"]).get_indexer(fr["trip_id"])
    if (trip < 0).any():
        rows = (np.flatnonzero(trip < 0) + 1).tolist()
        raise ValidationError("trip_id is not in trips.txt", source=label, rows=rows)
    start = parse_time_column(fr["start_time"].to_numpy(), source=label, column="start_time")
    end = parse_time_column(fr["end_time"].to_numpy(), source=label, column="end_time")
    headway = _int_column(fr["headway_secs"], source=label, column="headway_secs", minimum=1)
    bad = (start == NO_TIME) | (end == NO_TIME) | (end < start)
    if bad.any():
        raise ValidationError(
            "start_time and end_time are required and end_time may not precede start_time",
            source=label,
            rows=(np.flatnonzero(bad) + 1).tolist(),
        )
    base = stop_times.groupby("trip", sort=False)
    new_trips = [trips]
    new_st = [stop_times[~stop_times["trip"].isin(np.unique(trip))]]
    next_id = len(trips)
    n_made = 0
    for k in range(len(fr)):
        t = int(trip[k])
        if t not in base.groups:
            continue
        tmpl = base.get_group(t)
        t0 = int(tmpl["dep"].iloc[0])
        for start_s in range(int(start[k]), int(end[k]), int(headway[k])):
            block = tmpl.copy()
            shift = start_s - t0
            block["arr"] += shift
            block["dep"] += shift
            block["trip"] = next_id
            new_st.append(block)
            row = trips.iloc[[t]].copy()
            row["trip_id"] = f"{trips['trip_id'].iloc[t]}#{start_s}"
            new_trips.append(row)
            next_id += 1
            n_made += 1
    notes.append(f"frequencies.txt: {len(fr)} row(s) expanded into {n_made} trips")
    trips_out = pd.concat(new_trips, ignore_index=True)
    st_out = pd.concat(new_st, ignore_index=True).sort_values(["trip", "seq"], kind="stable")
    return st_out.reset_index(drop=True), trips_out


def _read_transfers(src: _FeedSource, stops: pd.DataFrame) -> pd.DataFrame:
    label = src.label("transfers.txt")
    tr = src.read("transfers.txt")
    idx = pd.Index(stops["stop_id"])
    fs = idx.get_indexer(tr["from_stop_id"])
    ts = idx.get_indexer(tr["to_stop_id"])
    bad = (fs < 0) | (ts < 0)
    if bad.any():
        raise ValidationError(
            "from_stop_id / to_stop_id is not in stops.txt",
            source=label,
            rows=(np.flatnonzero(bad) + 1).tolist(),
        )
    ttype = _int_column(tr["transfer_type"], source=label, column="transfer_type", default=0)
    mtt = _int_column(
        tr["min_transfer_time"], source=label, column="min_transfer_time", default=-1, minimum=-1
    )
    return pd.DataFrame(
        {"from_stop": fs, "to_stop": ts, "transfer_type": ttype, "min_transfer_time": mtt}
    )
