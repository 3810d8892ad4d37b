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
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from . import settings
from .errors import OverwriteRefusedError, ValidationError

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


def _recorded_digests(sidecar: Path) -> list[str]:
    """Return the SHA-256 digests a sidecar accepts (one per line); none if unreadable."""
    try:
        lines = sidecar.read_bytes().decode("ascii").split()
    except (OSError, UnicodeDecodeError):  # missing, unreadable or garbled: accepts nothing
        return []
    return [d for d in lines if len(d) == 64 and all(c in "0123456789abcdef" for c in d)]


def _write_sidecar(sidecar: Path, digests: list[str]) -> None:
    with atomic_path(sidecar) as tmp:
        tmp.write_text("".join(f"{d}\n" for d in dict.fromkeys(digests)), encoding="ascii")


def write_with_checksum(path: str | os.PathLike[str], writer: Any) -> Path:
    """Write an artefact atomically and record its SHA-256 in ``<path>.sha256``.

    The artefact and its sidecar are two files, so they cannot change in one step; the
    order below keeps the pair valid after a crash at any point:

    1. the new content is written to a temporary file and hashed;
    2. the sidecar is replaced by one accepting both the current digest and the new one;
    3. the temporary file is renamed over the artefact;
    4. the sidecar is replaced by one accepting the new digest only.

    Interrupted before 3, the previous artefact is still in place and verifies; after 3,
    the new one does. A half-written file is never renamed into place.

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
    sidecar = p.with_name(p.name + ".sha256")
    with atomic_path(p) as tmp:
        writer(tmp)
        digest = sha256_file(tmp)
        _write_sidecar(sidecar, [*_recorded_digests(sidecar)[:1], digest])
    _write_sidecar(sidecar, [digest])
    return p


def verify_checksum(path: str | os.PathLike[str]) -> bool:
    """Return whether an artefact exists and matches (one of) its recorded checksum(s)."""
    p = Path(path)
    sidecar = p.with_name(p.name + ".sha256")
    if not p.is_file() or not sidecar.is_file():
        return False
    accepted = _recorded_digests(sidecar)
    if not accepted:
        return False
    try:
        return sha256_file(p) in accepted
    except OSError:  # unreadable: not verified
        return False


def stale_temp_files(folder: str | os.PathLike[str], *, older_than_s: float = 3600.0) -> list[Path]:
    """Temporary files left by writes that were killed (see :func:`atomic_path`).

    Parameters
    ----------
    folder
        Where to look (not recursive).
    older_than_s
        Only files not modified for this long (a write in progress is never listed).

    Returns
    -------
    list of pathlib.Path
        Files named like :func:`atomic_path`'s temporary files (``.<stem>.<8 random
        characters><suffix>``) whose target's name they carry.
    """
    d = Path(folder)
    if not d.is_dir():
        return []
    pattern = re.compile(r"^\.(?P<stem>.+)\.[a-z0-9_]{8}(?P<suffix>\.[^.]*)?$")
    now = time.time()
    out = []
    for f in d.iterdir():
        m = pattern.match(f.name)
        if m is None or not f.is_file():
            continue
        try:
            if now - f.stat().st_mtime >= older_than_s:
                out.append(f)
        except OSError:
            continue
    return sorted(out)


def _stamp(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns


@contextlib.contextmanager
def unchanged_while_read(path: str | os.PathLike[str], *, what: str = "file") -> Iterator[None]:
    """Refuse a file that is rewritten while it is read (size or modification time moved).

    Parameters
    ----------
    path
        The file the block reads.
    what
        What the file is, for the message (e.g. ``"directory file"``).

    Raises
    ------
    ValidationError
        If the file's size or modification time differs after the block: a half-written
        file would load as a shorter, wrong table.
    """
    p = Path(path)
    before = _stamp(p)
    yield
    after = _stamp(p) if p.exists() else (-1, -1)
    if after != before:
        raise ValidationError(
            f"the {what} changed while it was read (size {before[0]:,} → {after[0]:,} bytes): "
            "another program is writing it; wait until it is saved, then run again",
            source=str(p),
        )


#: Byte-order marks, longest first (UTF-32 LE starts like UTF-16 LE).
_BOMS: tuple[tuple[bytes, str, str], ...] = (
    (b"\xff\xfe\x00\x00", "utf-32-le", "UTF-32"),
    (b"\x00\x00\xfe\xff", "utf-32-be", "UTF-32"),
    (b"\xef\xbb\xbf", "utf-8", "UTF-8"),
    (b"\xff\xfe", "utf-16-le", "UTF-16"),
    (b"\xfe\xff", "utf-16-be", "UTF-16"),
)

#: Characters a Windows-1252 reading gives for the accented letters of other 8-bit
#: encodings, and that French text does not hold: ISO-8859-15 (Latin-9) œ Œ € Ÿ read as
#: ½ ¼ ¤ ¾; Mac Roman é à â É ô read as Ž ˆ ‰ ƒ ™. (Latin-9's Š š Ž ž read as ¦ ¨ ´ ¸, left
#: out: ´ stands for an apostrophe in real Windows-1252 files, "L´Arbresle".)
_LATIN9_AS_CP1252 = "¤¼½¾"
_MAC_ROMAN_AS_CP1252 = "ƒˆ‰Ž™"
_CONTROL_BYTES = bytes(b for b in range(32) if b not in b"\t\n\r\f")


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def decode_text(data: bytes, *, source: str, legacy: bool = True) -> str:
    """Decode the bytes of a text file a user gives: the one rule of every user text reader.

    - A byte-order mark decides: UTF-8, UTF-16 (LE/BE) or UTF-32 (LE/BE); the mark is
      dropped.
    - Without one, text with many NUL bytes is UTF-16 or UTF-32 that lost its mark: refused
      (its bytes cannot be told apart reliably), "save it as UTF-8".
    - Otherwise UTF-8; then, when ``legacy``, Windows-1252 (an Excel "CSV" export). A
      Windows-1252 reading that yields characters French text does not hold (``½`` for
      Latin-9's ``œ``, ``Ž`` for Mac Roman's ``é``) is refused with the likely encoding,
      never loaded as garbled names.

    Parameters
    ----------
    data
        The file's bytes.
    source
        The file, for the messages.
    legacy
        Whether Windows-1252 is accepted after UTF-8 (directories, demand files); formats
        that are UTF-8 by definition (TOML, the candidates upload) pass ``False``.

    Returns
    -------
    str
        The text, without a byte-order mark.

    Raises
    ------
    ValidationError
        For text in another encoding (the likely one named) or bytes that are not text;
        the message ends with the fix, "save it as UTF-8".
    """
    expected = "neither UTF-8 nor Windows-1252" if legacy else "not UTF-8"
    for bom, codec, label in _BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom) :].decode(codec)
            except UnicodeDecodeError as exc:
                raise ValidationError(
                    f"the file starts with a {label} byte-order mark but is not valid {label} "
                    f"text (byte {exc.start + len(bom)}); save it again as UTF-8",
                    source=source,
                ) from None
    nul = data.count(0)
    if nul and nul >= 0.25 * len(data):
        kind = "UTF-32" if nul >= 0.6 * len(data) else "UTF-16"
        raise ValidationError(
            f"the file looks like {kind} text without a byte-order mark ({nul:,} of its "
            f"{len(data):,} bytes are NUL), which cannot be read reliably; save it as UTF-8",
            source=source,
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        utf8_error = exc
    controls = len(data) - len(data.translate(None, _CONTROL_BYTES))
    binary = bool(nul) or controls > len(data) // 100
    if binary:
        raise ValidationError(
            f"cannot read the file as text ({expected}): is it really a text file? Save it "
            "as CSV (UTF-8)",
            source=source,
        )
    if not legacy:
        pos = utf8_error.start
        raise ValidationError(
            f"not UTF-8 text (line {_line_of(data, pos)} has the byte 0x{data[pos]:02X}, "
            "which UTF-8 does not allow there: Windows-1252, Latin-9 or Mac Roman?); save it "
            "as UTF-8",
            source=source,
        )
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError as exc:
        pos = exc.start
        raise ValidationError(
            f"the file is text in an encoding other than UTF-8 and Windows-1252 (line "
            f"{_line_of(data, pos)} has the byte 0x{data[pos]:02X}, which Windows-1252 does "
            "not use: Mac Roman, or an old DOS code page?); save it as CSV (UTF-8)",
            source=source,
        ) from None
    for chars, label, letters in (
        (_MAC_ROMAN_AS_CP1252, "Mac Roman", "é, à, â, É, ô"),
        (_LATIN9_AS_CP1252, "ISO-8859-15 (Latin-9)", "œ, Œ, €"),
    ):
        hit = next((k for k, ch in enumerate(text) if ch in chars), None)
        if hit is not None:
            line = text.count("\n", 0, hit) + 1
            raise ValidationError(
                f"the file is not UTF-8, and read as Windows-1252 line {line} holds "
                f"{text[hit]!r}, which is how the {label} letters {letters} read: the file is "
                f"probably {label}; save it as CSV (UTF-8)",
                source=source,
            )
    return text


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def out_folder_problem(text: str) -> str | None:
    """Say why ``text`` cannot be an output folder, or ``None``: the one rule of ``--out``.

    Refused: an empty name, a control character (tab, NUL, line break), the root of the
    file system, the user's home folder, the project's own folder (its files would mix with
    the outputs) and its source, the shared data mirror and ``data/raw`` (never written), an
    existing file, and a folder that cannot be written in (the nearest existing one).
    """
    if not text.strip():
        return "the output folder is empty; give a folder name (or leave --out out for the default)"
    if any(ch < " " or ch == "\x7f" for ch in text):
        return (
            f"{text!r} holds a control character (a tab, a line break…), which GDAL drops "
            "from paths (the GeoPackage would go elsewhere); give a folder name without one"
        )
    own = "give a folder of its own, e.g. --out outputs/my_run (or leave --out out for the default)"
    path = Path(text).expanduser().resolve()
    project = Path(settings.project_dir).resolve()
    if path == Path(path.anchor):
        return f"{text!r} is the root of the file system; {own}"
    if path == Path.home().resolve():
        return f"{text!r} is your home folder; {own}"
    if path == project:
        return (
            f"{text!r} is the project's own folder ({project}), whose files would mix with "
            f"the outputs; {own}"
        )
    for folder, what in (
        (project / "analysis", "the tool's source"),
        (project / "app", "the app's source"),
        (Path(settings.raw_data_dir).resolve(), "the raw data folder"),
        (Path(settings.shared_data_dir).resolve(), "the shared data mirror"),
    ):
        if _inside(path, folder):
            return f"{text!r} lies in {what} ({folder}), which the tool never writes; {own}"
    if path.exists() and not path.is_dir():
        return f"{text!r} is a file, not a folder; give an output folder with --out"
    existing = next((p for p in (path, *path.parents) if p.exists()), None)
    if existing is not None and not os.access(existing, os.W_OK | os.X_OK):
        return f"{text!r}: {existing} cannot be written in (permission denied); {own}"
    return None
