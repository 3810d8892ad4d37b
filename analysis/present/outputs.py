"""The one export writer: a result's output set, written as a whole.

Every result (a coverage run, a what-if, a siting, a caravane) becomes an
:class:`OutputSet` — tables, map layers, an optional map, metadata — and
:func:`write_output_set` writes it the same way whichever path asked (command line, planner
command, app download):

- every table as ``<table>.csv`` (spreadsheet formulas neutralised), every layer in one
  GeoPackage ``<kind>.gpkg`` (one layer per name), the map as ``map.html`` (Leaflet
  inlined), and ``metadata.json`` listing every file with its SHA-256;
- every table and layer carries ``times_are`` and ``run_provenance`` (which models produced
  the times, which sites are real or modelled); a per-row ``provenance`` (a site's origin)
  is left as it is;
- the set is written **as a whole**: into a private folder first, then swapped in under a
  lock. Another run writing into the same folder at the same time is refused (never a mix
  of two runs); an interruption (Ctrl-C, a full disk) restores the previous set, so a
  reader sees the old set or the new one, never a mix;
- nothing is overwritten without ``overwrite=True``, and files of the folder that are not
  part of the set are never touched.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from .. import __version__
from ..errors import OverwriteRefusedError, ValidationError
from ..io import check_can_write, neutralise_formulas, sha256_file

logger = logging.getLogger(__name__)

#: Name of the lock file held while a set is swapped in.
LOCK_NAME = ".spro-output.lock"
#: Prefix of the private folders a set is written into, then swapped from.
STAGING_PREFIX = ".spro-staging-"
#: Prefix of the folders holding the previous set until the new one is in place.
BACKUP_PREFIX = ".spro-previous-"
#: Journal of a swap (the new files' names) and its completion mark, in the backup folder.
JOURNAL = ".journal.json"
OLD_MOVED = ".old-moved"
DONE = ".done"
#: Staging folders older than this (seconds) are left-overs of killed runs.
STALE_STAGING_S = 3600.0


@dataclass
class OutputSet:
    """What one result writes.

    Attributes
    ----------
    kind
        ``coverage``, ``whatif``, ``siting``, ``caravane``... (names the GeoPackage).
    tables
        Name → table, each written to ``<name>.csv``.
    layers
        Name → GeoDataFrame, each a layer of ``<kind>.gpkg``.
    metadata
        Written to ``metadata.json`` (with the tool version and the files' digests).
    provenance
        The run's provenance line (column ``run_provenance`` of every table and layer).
    times_are
        ``"estimated"``, ``"modelled"`` or ``"measured"`` (column ``times_are`` where a
        table has none).
    map_builder
        Returns the folium map written to ``map.html`` (``None``: no map).
    documents
        Name → function returning a printable HTML page, written to ``<name>.html`` (the
        caravane's programme, labelling reports).
    binary_documents
        File name (with its extension, e.g. ``report_C1.pdf``) → function returning the
        file's bytes, written by the same whole-set export (the reports' PDFs).
    """

    kind: str
    tables: Mapping[str, pd.DataFrame]
    layers: Mapping[str, gpd.GeoDataFrame]
    metadata: Mapping[str, Any]
    provenance: str
    times_are: str
    map_builder: Callable[[], Any] | None = field(default=None, repr=False)
    documents: Mapping[str, Callable[[], str]] = field(default_factory=dict, repr=False)
    binary_documents: Mapping[str, Callable[[], bytes]] = field(default_factory=dict, repr=False)

    def files(self, out_dir: str | os.PathLike[str]) -> dict[str, Path]:
        """Return the files the set writes in ``out_dir``, by key.

        Keys: ``<table>_csv``, ``gpkg`` (when there are layers), ``map_html`` (when there is
        a map) and ``metadata``.
        """
        out = Path(out_dir)
        files = {f"{k}_csv": out / f"{k}.csv" for k in self.tables}
        if self.layers:
            files["gpkg"] = out / f"{self.kind}.gpkg"
        if self.map_builder is not None:
            files["map_html"] = out / "map.html"
        for k in self.documents:
            files[f"{k}_html"] = out / f"{k}.html"
        for name in self.binary_documents:
            files[f"{name}_bin"] = out / name
        files["metadata"] = out / "metadata.json"
        return files

    def stamped_table(self, name: str) -> pd.DataFrame:
        """Return table ``name`` as written: labels added, no geometry, formulas neutralised."""
        return neutralise_formulas(_stamp(_plain(self.tables[name]), self))

    def stamped_layer(self, name: str) -> gpd.GeoDataFrame:
        """Return layer ``name`` as written: labels added, plain column types."""
        gdf = self.layers[name]
        geo = gdf.geometry
        table = neutralise_formulas(_stamp(pd.DataFrame(gdf.drop(columns=geo.name)), self))
        for col in table.columns:  # GeoPackage columns must be plain types
            if table[col].dtype == object:
                table[col] = table[col].map(lambda v: None if v is None else str(v))
        return gpd.GeoDataFrame(table, geometry=geo.to_numpy(), crs=gdf.crs)


def _plain(df: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(df.drop(columns="geometry", errors="ignore"))


def _stamp(df: pd.DataFrame, s: OutputSet) -> pd.DataFrame:
    out = df.copy()
    if "times_are" not in out.columns:
        out["times_are"] = s.times_are
    out["run_provenance"] = s.provenance
    return out


def check_output_set(
    out_dir: str | os.PathLike[str], s: OutputSet, *, overwrite: bool
) -> dict[str, Path]:
    """Check that ``s`` may be written in ``out_dir``, before any work.

    Raises
    ------
    ValidationError
        If ``out_dir`` is an existing file.
    OverwriteRefusedError
        If a file of the set exists and ``overwrite`` is false.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValidationError(f"{out} is a file, not a folder; give an output folder with --out")
    files = s.files(out)
    for p in files.values():
        check_can_write(p, overwrite=overwrite)
    return files


def write_output_set(
    out_dir: str | os.PathLike[str], s: OutputSet, *, overwrite: bool = False
) -> dict[str, Path]:
    """Write an output set into ``out_dir`` as a whole.

    Parameters
    ----------
    out_dir
        The output folder (created if needed).
    s
        The set.
    overwrite
        Replace the files of a previous set; otherwise refuse before writing anything.

    Returns
    -------
    dict of str to pathlib.Path
        Every file written, by key (see :meth:`OutputSet.files`).

    Raises
    ------
    OverwriteRefusedError
        If a file exists and ``overwrite`` is false, or another run is writing into the
        same folder.
    """
    out = Path(out_dir)
    if out.is_dir() and any(out.glob(f"{BACKUP_PREFIX}*")):  # a killed run's swap: undo it
        with output_lock(out):
            recover_interrupted(out)
    files = check_output_set(out, s, overwrite=overwrite)  # up front: nothing half-written
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=out))
    try:
        staged = _write_staged(staging, s)
        with output_lock(out):
            recover_interrupted(out)
            check_output_set(out, s, overwrite=overwrite)  # a run may have finished meanwhile
            _swap_in(out, staging, staged)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    logger.info("%s outputs written to %s", s.kind, out)
    return files


def _write_staged(staging: Path, s: OutputSet) -> list[str]:
    """Write every file of the set into ``staging``; return their names."""
    files = s.files(staging)
    for k in s.tables:
        s.stamped_table(k).to_csv(files[f"{k}_csv"], index=False)
    for k in s.layers:
        layer = s.stamped_layer(k)
        if layer.empty:
            continue  # GeoPackage cannot hold an empty layer; its CSV still says so
        layer.to_file(files["gpkg"], layer=k, driver="GPKG", engine="pyogrio")
    if "gpkg" in files and not files["gpkg"].exists():
        del files["gpkg"]
    if s.map_builder is not None:
        from .leaflet import map_html

        files["map_html"].write_text(map_html(s.map_builder()), encoding="utf-8")
    for k, build in s.documents.items():
        files[f"{k}_html"].write_text(build(), encoding="utf-8")
    for name, build_bytes in s.binary_documents.items():
        files[f"{name}_bin"].write_bytes(build_bytes())
    digests = {p.name: sha256_file(p) for k, p in files.items() if k != "metadata"}
    rest = {k: v for k, v in s.metadata.items() if k != "tool"}
    meta = {
        "tool": f"spro-access {__version__}",
        "result": s.metadata.get("tool", s.kind),
        **rest,
        "files": digests,
    }
    files["metadata"].write_text(
        json.dumps(meta, indent=2, ensure_ascii=False, default=str), encoding="utf-8"
    )
    return [p.name for p in files.values()]


@contextlib.contextmanager
def output_lock(out: Path) -> Iterator[None]:
    """Hold the folder's output lock, refusing at once if another live run holds it.

    A lock left by a run that no longer exists (killed) is taken over.
    """
    lock = out / LOCK_NAME
    for attempt in (1, 2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            break
        except FileExistsError:
            if attempt == 1 and not _holder_alive(lock):
                with contextlib.suppress(FileNotFoundError):
                    lock.unlink()
                continue
            raise OverwriteRefusedError(
                f"another run is writing its outputs into {out} right now (lock {lock}); wait "
                "for it to finish or choose another --out"
            ) from None
    try:
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            lock.unlink()


def _holder_alive(lock: Path) -> bool:
    """Whether the process named in a lock file still runs (unreadable: assume it does)."""
    try:
        pid = int(lock.read_text().strip() or "0")
    except (OSError, ValueError):
        return True
    if pid <= 0:
        return True  # being written by its holder right now
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _swap_in(out: Path, staging: Path, names: list[str]) -> None:
    """Move the staged files into ``out``, keeping the previous ones until all are in.

    A journal in the backup folder names the new files; a run killed half-way is rolled
    back by :func:`recover_interrupted` (the previous set put back whole).
    """
    backup = out / f"{BACKUP_PREFIX}{uuid.uuid4().hex[:8]}"
    backup.mkdir()
    (backup / JOURNAL).write_text(json.dumps({"new": names}), encoding="utf-8")
    moved_old: list[str] = []
    moved_new: list[str] = []
    old_set = _previous_set(out)
    try:
        for name in sorted(set(names) | old_set):
            if (out / name).exists():
                os.replace(out / name, backup / name)
                moved_old.append(name)
        (backup / OLD_MOVED).touch()
        for name in names:
            os.replace(staging / name, out / name)
            moved_new.append(name)
        (backup / DONE).touch()
    except BaseException:  # Ctrl-C or a full disk: put the previous set back as it was
        for name in moved_new:
            with contextlib.suppress(OSError):
                (out / name).unlink()
        for name in moved_old:
            with contextlib.suppress(OSError):
                os.replace(backup / name, out / name)
        shutil.rmtree(backup, ignore_errors=True)
        raise
    shutil.rmtree(backup, ignore_errors=True)


def _previous_set(out: Path) -> set[str]:
    """Files of the set already in ``out`` (from its metadata), so none is left stale."""
    meta = out / "metadata.json"
    try:
        files = json.loads(meta.read_text(encoding="utf-8")).get("files", {})
    except (OSError, ValueError, AttributeError):
        return set()
    if not isinstance(files, dict):
        return set()
    return {n for n in files if isinstance(n, str) and "/" not in n and not n.startswith(".")}


def recover_interrupted(out: Path) -> list[str]:
    """Put back a previous set a killed run left in a backup folder; drop stale staging.

    Called under the folder's lock (no other run is swapping).

    Returns
    -------
    list of str
        What was done, for the log.
    """
    done = []
    for backup in sorted(out.glob(f"{BACKUP_PREFIX}*")):
        if not (backup / DONE).exists():  # killed half-way: roll back to the previous set
            new: list[str] = []
            if (backup / OLD_MOVED).exists():  # new files were moving in: take them out
                with contextlib.suppress(OSError, ValueError, KeyError):
                    new = json.loads((backup / JOURNAL).read_text(encoding="utf-8"))["new"]
            for name in new:
                with contextlib.suppress(OSError):
                    (out / name).unlink()
            for f in backup.iterdir():
                if f.name not in (JOURNAL, OLD_MOVED, DONE):
                    os.replace(f, out / f.name)
                    done.append(f"restored {f.name}")
        shutil.rmtree(backup, ignore_errors=True)
    now = time.time()
    for staging in out.glob(f"{STAGING_PREFIX}*"):  # other runs may be staging: only old ones
        with contextlib.suppress(OSError):
            if now - staging.stat().st_mtime > STALE_STAGING_S:
                shutil.rmtree(staging, ignore_errors=True)
                done.append(f"removed {staging.name}")
    if done:
        logger.warning("recovered an interrupted export in %s: %s", out, "; ".join(done))
    return done


def verify_output_set(out_dir: str | os.PathLike[str]) -> bool:
    """Whether the folder holds one whole set: every file listed in metadata, digest equal."""
    out = Path(out_dir)
    try:
        files = json.loads((out / "metadata.json").read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return all((out / n).is_file() and sha256_file(out / n) == d for n, d in files.items())


# --------------------------------------------------------------------- downloads (app)
def csv_bytes(df: pd.DataFrame, *, provenance: str | None = None) -> bytes:
    """Return a display table as CSV bytes, formulas neutralised, geometry dropped.

    For the tables a page shows (a view's summary, a planner's picks); a result's own
    tables come from :func:`table_csv_bytes`, identical to the files the writer writes.
    """
    table = _plain(df)
    if provenance is not None:
        table["run_provenance"] = provenance
    return neutralise_formulas(table).to_csv(index=False).encode("utf-8")


def table_csv_bytes(s: OutputSet, name: str) -> bytes:
    """Return table ``name`` of the set as the CSV bytes the writer would write."""
    return s.stamped_table(name).to_csv(index=False).encode("utf-8")


def gpkg_bytes(s: OutputSet) -> bytes:
    """Return the set's GeoPackage (every layer) as bytes, written in a private folder.

    Raises
    ------
    ValueError
        If every layer is empty.
    """
    with tempfile.TemporaryDirectory(prefix="spro-gpkg-") as tmp:
        path = Path(tmp) / f"{s.kind}.gpkg"
        written = 0
        for k in s.layers:
            layer = s.stamped_layer(k)
            if layer.empty:
                continue
            layer.to_file(path, layer=k, driver="GPKG", engine="pyogrio")
            written += 1
        if not written:
            raise ValueError("no layer to write")
        return path.read_bytes()
