"""Safe writing of artefacts and exports.

- Atomic writes: a file is written to a temporary name in the same folder, then renamed
  over the target, so an interrupted run leaves the previous good file in place.
- No silent overwrite of user files: :func:`check_can_write` refuses to replace a file that
  exists unless ``overwrite=True``.
- CSV exports neutralise spreadsheet formula injection (cells starting with ``=``, ``+``,
  ``-``, ``@``, tab or carriage return get a leading apostrophe).
- Checksums (SHA-256) side by side with processed artefacts detect corrupt files.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from .errors import OverwriteRefusedError

_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def check_can_write(path: str | os.PathLike[str], *, overwrite: bool) -> Path:
    """Refuse to overwrite an existing file unless allowed.

    Parameters
    ----------
    path
        Target file.
    overwrite
        Whether replacing an existing file is allowed.

    Returns
    -------
    pathlib.Path
        The target path.

    Raises
    ------
    OverwriteRefusedError
        If the file exists and ``overwrite`` is false.
    """
    p = Path(path)
    if p.exists() and not overwrite:
        raise OverwriteRefusedError(
            f"{p} already exists; pass --overwrite (or overwrite=True) to replace it, "
            "or choose another output folder"
        )
    return p


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path that replaces ``path`` atomically on success.

    Parameters
    ----------
    path
        The final file.

    Yields
    ------
    pathlib.Path
        A temporary file in the same folder; write to it. It is renamed over ``path`` when
        the block ends without error, and deleted otherwise.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    # keep the extension: some writers (GDAL) pick the format or warn by it
    fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=target.suffix, dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    # Some writers (GDAL) refuse to write into an existing empty file.
    tmp_path.unlink()
    try:
        yield tmp_path
        if tmp_path.is_file():  # on disk before the rename: a crash leaves old or new, whole
            with open(tmp_path, "rb") as f:
                os.fsync(f.fileno())
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def neutralise_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """Return a copy whose text cells cannot run as spreadsheet formulas.

    Parameters
    ----------
    df
        Any table.

    Returns
    -------
    pandas.DataFrame
        Text cells starting with ``=``, ``+``, ``-``, ``@``, tab or CR get a leading ``'``.
    """
    out = df.copy()
    for col in out.columns:
        s = out[col]
        if s.dtype == object or pd.api.types.is_string_dtype(s):
            mask = s.astype("string").str.startswith(_FORMULA_PREFIXES, na=False)
            if mask.any():
                out[col] = s.astype(object).where(~mask, "'" + s.astype("string").astype(object))
    return out


def write_csv(df: pd.DataFrame, path: str | os.PathLike[str], *, overwrite: bool = True) -> Path:
    """Write a CSV export atomically, with formula injection neutralised.

    Parameters
    ----------
    df
        The table (a GeoDataFrame's geometry column is dropped).
    path
        Target file.
    overwrite
        Whether an existing file may be replaced.

    Returns
    -------
    pathlib.Path
    """
    p = check_can_write(path, overwrite=overwrite)
    table = pd.DataFrame(df.drop(columns="geometry", errors="ignore"))
    with atomic_path(p) as tmp:
        neutralise_formulas(table).to_csv(tmp, index=False)
    return p


def write_gpkg(
    gdf: Any, path: str | os.PathLike[str], *, layer: str, overwrite: bool = True
) -> Path:
    """Write one layer to a new GeoPackage atomically.

    Parameters
    ----------
    gdf
        A GeoDataFrame.
    path
        Target ``.gpkg`` file (replaced as a whole).
    layer
        Layer name.
    overwrite
        Whether an existing file may be replaced.

    Returns
    -------
    pathlib.Path
    """
    p = check_can_write(path, overwrite=overwrite)
    with atomic_path(p) as tmp:
        gdf.to_file(tmp, layer=layer, driver="GPKG", engine="pyogrio")
    return p


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Return the SHA-256 hex digest of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_json(obj: Any, path: str | os.PathLike[str]) -> Path:
    """Write JSON atomically."""
    p = Path(path)
    with atomic_path(p) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    return p


def write_with_checksum(path: str | os.PathLike[str], writer: Any) -> Path:
    """Write an artefact atomically and record its SHA-256 in ``<path>.sha256``.

    Parameters
    ----------
    path
        The artefact.
    writer
        Callable taking the temporary path to write to.

    Returns
    -------
    pathlib.Path
    """
    p = Path(path)
    with atomic_path(p) as tmp:
        writer(tmp)
        digest = sha256_file(tmp)
    sidecar = p.with_name(p.name + ".sha256")
    with atomic_path(sidecar) as tmp:
        tmp.write_text(digest + "\n", encoding="ascii")
    return p


def verify_checksum(path: str | os.PathLike[str]) -> bool:
    """Return whether an artefact exists and matches its recorded checksum."""
    p = Path(path)
    sidecar = p.with_name(p.name + ".sha256")
    if not p.is_file() or not sidecar.is_file():
        return False
    try:
        recorded = sidecar.read_bytes().decode("ascii").strip()
        return recorded == sha256_file(p)
    except (OSError, UnicodeDecodeError):  # an unreadable or garbled sidecar: not verified
        return False
