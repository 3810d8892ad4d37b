"""The manifest of inputs (``data/raw/MANIFEST.toml``) and the check of the mirror against it.

Every file the tool reads from the local mirror of the open data
(:data:`analysis.settings.shared_data_dir`) that the manifest lists with a ``sha256`` is
verified before use by :func:`verify_input`: a truncated, edited or replaced file stops the
run with a :class:`~analysis.errors.ValidationError` naming the file, the expected and the
found digest, and the fix. Digests are cached by ``(path, size, mtime_ns)`` in
``<processed_data_dir>/input_digests.json``, so a second run costs a ``stat``, not a hash.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from . import settings
from .errors import DataMissingError, ValidationError
from .io import sha256_file, write_json

logger = logging.getLogger(__name__)

#: Name of the manifest in :data:`analysis.settings.raw_data_dir`.
MANIFEST_NAME = "MANIFEST.toml"

#: Name of the digest cache in :data:`analysis.settings.processed_data_dir`.
DIGEST_CACHE_NAME = "input_digests.json"

_lock = threading.Lock()
_manifest_cache: dict[tuple[str, int], dict[str, str]] = {}


def manifest_path() -> Path:
    """Return the path of ``MANIFEST.toml`` (in :data:`analysis.settings.raw_data_dir`)."""
    return Path(settings.raw_data_dir) / MANIFEST_NAME


def _walk(table: Mapping[str, object], out: dict[str, str]) -> None:
    if table.get("location") == "shared" and "file" in table and "sha256" in table:
        out[str(table["file"])] = str(table["sha256"]).lower()
    for value in table.values():
        if isinstance(value, Mapping):
            _walk(value, out)


def shared_digests() -> dict[str, str]:
    """Return ``{path relative to the mirror: sha256}`` for the mirror files of the manifest.

    Returns
    -------
    dict of str to str
        Empty if the manifest is missing (nothing can then be checked; logged).
    """
    p = manifest_path()
    try:
        key = (str(p), p.stat().st_mtime_ns)
    except OSError:
        logger.warning("no manifest at %s: the mirror files cannot be verified", p)
        return {}
    with _lock:
        if key not in _manifest_cache:
            out: dict[str, str] = {}
            _walk(tomllib.loads(p.read_text(encoding="utf-8")), out)
            _manifest_cache.clear()
            _manifest_cache[key] = out
        return _manifest_cache[key]


def _cache_path() -> Path:
    return Path(settings.processed_data_dir) / DIGEST_CACHE_NAME


def _read_cache() -> dict[str, list[object]]:
    try:
        data = json.loads(_cache_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):  # missing or garbled: every digest is recomputed
        return {}
    return data if isinstance(data, dict) else {}


def file_digest(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file, cached by ``(path, size, mtime_ns)``.

    Parameters
    ----------
    path
        The file.

    Returns
    -------
    str
        The hex digest; computed only when the file's size or modification time changed
        since the last call (in this or an earlier run).
    """
    p = Path(os.path.abspath(path))
    st = p.stat()
    stamp = [st.st_size, st.st_mtime_ns]
    with _lock:
        cache = _read_cache()
        hit = cache.get(str(p))
        if isinstance(hit, list) and len(hit) == 3 and hit[:2] == stamp:
            return str(hit[2])
    digest = sha256_file(p)
    with _lock:
        cache = _read_cache()
        cache[str(p)] = [*stamp, digest]
        try:
            write_json(cache, _cache_path())
        except OSError as exc:  # read-only checkout: hash again next time
            logger.info("could not cache the digest of %s (%s)", p, exc)
    return digest


def _relative(path: Path, root: Path) -> str | None:
    for a, b in ((Path(os.path.abspath(path)), Path(os.path.abspath(root))),
                 (path.resolve(), root.resolve())):  # fmt: skip
        try:
            return a.relative_to(b).as_posix()
        except ValueError:
            continue
    return None


def verify_input(
    path: str | os.PathLike[str], *, mirror: str | os.PathLike[str] | None = None
) -> str | None:
    """Check a file read from the mirror against the SHA-256 the manifest records.

    Parameters
    ----------
    path
        The file about to be read.
    mirror
        The mirror it belongs to (default :data:`analysis.settings.shared_data_dir`).

    Returns
    -------
    str or None
        The file's digest when the manifest lists it; ``None`` for a file outside the
        mirror or not in the manifest (nothing to check).

    Raises
    ------
    ValidationError
        If the file's digest differs from the manifest's: the message names the file, both
        digests and the fix.
    """
    p = Path(path)
    root = Path(settings.shared_data_dir if mirror is None else mirror)
    rel = _relative(p, root)
    if rel is None:
        return None
    expected = shared_digests().get(rel)
    if expected is None:
        logger.debug("%s is not in %s: not verified", p, MANIFEST_NAME)
        return None
    found = file_digest(p)
    if found != expected:
        raise ValidationError(
            f"this mirror file is not the one data/raw/{MANIFEST_NAME} records (SHA-256 expected "
            f"{expected}, found {found}): it is truncated, edited or replaced; restore the "
            "file from its official source, see docs/data.md",
            source=str(p),
        )
    return found


def mirror_file(
    subdir: str,
    name: str,
    *,
    shared_dir: str | os.PathLike[str] | None = None,
    kind: str,
    origin: str,
    docs_section: str,
) -> Path:
    """Return a file of the mirror, checked against the manifest (:func:`verify_input`).

    Parameters
    ----------
    subdir, name
        Where it lies in the mirror (``"territory"``, ``"demand"``...).
    shared_dir
        The mirror (default :data:`analysis.settings.shared_data_dir`).
    kind, origin, docs_section
        For the message when it is missing: "the <kind> file … is <origin> open data (see
        docs/data.md, '<docs_section>')".

    Raises
    ------
    DataMissingError
        If the file is not in the mirror.
    ValidationError
        If its digest differs from the manifest's.
    """
    path = Path(shared_dir or settings.shared_data_dir) / subdir / name
    if not path.is_file():
        raise DataMissingError(
            f"the {kind} file {path} is missing; it is {origin} open data (see "
            f"docs/data.md, '{docs_section}'), expected in the local mirror"
        )
    verify_input(path, mirror=shared_dir)
    return path


def read_mirror_csv(path: Path, columns: Sequence[str]) -> pd.DataFrame:
    """Read a CSV of the mirror as text (no NA guessing), with the columns it must have.

    Raises
    ------
    ValidationError
        If the file is not a readable CSV or lacks one of ``columns``; the fix is to
        restore it from the mirror.
    """
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise ValidationError(
            f"not a readable CSV ({exc}); restore the file from the mirror", source=path
        ) from exc
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValidationError(
            f"columns {missing} are missing (found {list(df.columns)[:12]}); restore the "
            "file from the mirror",
            source=path,
        )
    return df
