"""Property-based tests of the loaders (hypothesis).

- A user's directory export and a candidate list load the same whatever the order, the
  case and the spacing of their column names, the separator and the encoding.
- Random rows (any text, quotes, separators, line breaks) mixed with good rows never crash
  the loaders with anything but a ``ValidationError``; when the file loads, nothing is
  lost: every data row is either loaded or reported with its row number.
- The user directory round-trips: sites exported by the tool (``analysis.io.write_csv``)
  and read back give the same sites.
- Profile thresholds load exactly when they are positive finite numbers; GTFS clock times
  parse back to the seconds they were written from, and garbage is a ``ValidationError``.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from analysis.errors import SproError, ValidationError

PROPS = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

#: Networks (and aliases) a planner's file may use, all SPRO.
NETWORK_SPELLINGS = (
    "Mission Locale", "mission locale", "CIO", "Info Jeunes", "PIJ", "France Travail",
    "Cap Emploi", "APEC", "CIDFF",
)  # fmt: skip

#: Letters of site names: accents, spaces, apostrophes, commas, quotes, semicolons.
NAME_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZéèêàçôÉÈ0123456789 '-,;\"/()"


@pytest.fixture(scope="module")
def communes():
    from analysis.communes import load_communes

    return load_communes()


@pytest.fixture(scope="module")
def index(communes):
    from analysis.sites.normalise import CommuneIndex

    return CommuneIndex(communes)


@pytest.fixture(autouse=True, scope="module")
def _quiet():
    logging.disable(logging.WARNING)  # dropped rows are logged; the tests read the report
    yield
    logging.disable(logging.NOTSET)


def names():
    return (
        st.text(NAME_CHARS, min_size=1, max_size=30)
        .map(str.strip)
        .filter(lambda s: s and s[0] not in "=+-@\"'")
    )


_plain: list[int] = []


def plain_codes(communes) -> list[int]:
    """Rows whose code is no other commune's postcode (those are CAND-14's case: refused
    without an address or name to decide, in a column called ``commune``)."""
    if not _plain:
        theirs: dict[str, set[str]] = {}
        for code, pcs in zip(communes["insee"], communes["postcodes"].fillna(""), strict=True):
            for pc in str(pcs).split():
                theirs.setdefault(pc, set()).add(code)
        codes = communes["insee"].astype(str)
        _plain.extend(i for i, c in enumerate(codes) if not theirs.get(c, set()) - {c})
    return _plain


@st.composite
def good_rows(draw, communes, *, min_size=1, max_size=6, with_coords=None):
    """Valid directory rows: name, network, commune code, and lon/lat or not."""
    n = draw(st.integers(min_size, max_size))
    rows = []
    plain = plain_codes(communes)
    for _ in range(n):
        i = draw(st.sampled_from(plain))
        coords = draw(st.booleans()) if with_coords is None else with_coords
        c = communes.iloc[i]
        rows.append(
            {
                "name": draw(names()),
                "network": draw(st.sampled_from(NETWORK_SPELLINGS)),
                "commune": str(c["insee"]),
                "lon": f"{c['lon']:.6f}" if coords else "",
                "lat": f"{c['lat']:.6f}" if coords else "",
            }
        )
    return rows


def write_table(
    folder: Path,
    rows: list[dict],
    columns: list[str],
    *,
    headers: list[str] | None = None,
    sep: str = ",",
    encoding: str = "utf-8",
    name: str = "sites.csv",
) -> Path:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=sep, lineterminator="\n")
    w.writerow(headers or columns)
    for r in rows:
        w.writerow([r.get(c, "") for c in columns])
    p = folder / name
    p.write_bytes(buf.getvalue().encode(encoding))
    return p


def key_table(sites: pd.DataFrame) -> list[tuple]:
    """What a planner cares about in a loaded directory, comparable across loads."""
    out = []
    for _, r in sites.iterrows():
        out.append(
            (
                r["name"], r["network"], r["insee"], r["position"],
                round(float(r["lon"]), 7), round(float(r["lat"]), 7),
            )
        )  # fmt: skip
    return sorted(out)


def case_variant(draw, name: str) -> str:
    style = draw(st.sampled_from(["lower", "upper", "title", "mixed"]))
    if style == "mixed":
        flips = draw(st.lists(st.booleans(), min_size=len(name), max_size=len(name)))
        name = "".join(ch.upper() if f else ch for ch, f in zip(name, flips, strict=True))
    else:
        name = getattr(name, style)()
    return draw(st.sampled_from(["", " "])) + name + draw(st.sampled_from(["", "  "]))


# =========================================================================== directory
@PROPS
@given(st.data())
def test_directory_column_order_case_separator_and_encoding_do_not_matter(communes, index, data):
    from analysis.sites.user_import import read_user_directory

    rows = data.draw(good_rows(communes), label="rows")
    columns = ["name", "network", "commune", "lon", "lat"]
    order = data.draw(st.permutations(columns), label="order")
    headers = [case_variant(data.draw, c) for c in order]
    sep = data.draw(st.sampled_from([",", ";", "\t"]), label="sep")
    enc = data.draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]), label="encoding")
    try:
        "".join(r["name"] for r in rows).encode(enc)
    except UnicodeEncodeError:
        enc = "utf-8"
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        plain = read_user_directory(write_table(Path(a), rows, columns), index=index)
        other = write_table(Path(b), rows, list(order), headers=headers, sep=sep, encoding=enc)
        varied = read_user_directory(other, index=index)
    assert key_table(varied.sites) == key_table(plain.sites)
    assert len(plain.sites) == len(rows) and plain.dropped.empty


#: Any text a broken export may hold: separators, quotes, line breaks, odd characters.
garbage_cell = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=25
) | st.sampled_from(["", ";", ",", '"', "\n", "nan", "inf", "-1e400", "45,7", "=1+1", "99999"])


@PROPS
@given(st.data())
def test_directory_garbage_rows_raise_validation_errors_or_are_reported(communes, index, data):
    from analysis.sites.user_import import read_user_directory

    columns = ["name", "network", "commune", "lon", "lat"]
    rows = data.draw(good_rows(communes, min_size=0, max_size=3), label="good")
    junk = data.draw(
        st.lists(st.fixed_dictionaries({c: garbage_cell for c in columns}), min_size=1,
                 max_size=4), label="junk"
    )  # fmt: skip
    mixed = data.draw(st.permutations(rows + junk), label="mixed")
    with tempfile.TemporaryDirectory() as d:
        path = write_table(Path(d), mixed, columns)
        try:
            ud = read_user_directory(path, index=index)
        except ValidationError as exc:
            assert str(path) in str(exc)  # the message names the file
            return
        n_rows = len(pd.read_csv(path, dtype=str, keep_default_na=False, skip_blank_lines=True))
    # Nothing lost: every data row is loaded or reported with its row number.
    assert len(ud.sites) + len(ud.dropped) == n_rows
    assert ud.dropped["row"].between(1, n_rows).all()
    assert (ud.sites["provenance"] == "user").all()


@PROPS
@given(st.data())
def test_directory_round_trips_through_the_tools_csv_export(communes, index, data):
    from analysis.io import write_csv
    from analysis.sites.user_import import read_user_directory

    rows = data.draw(good_rows(communes, with_coords=True), label="rows")
    for k, r in enumerate(rows):
        r["id"] = f"S{k}"
        r["kind"] = data.draw(st.sampled_from(["site", "antenne", "permanence", "mobile"]))
    cols = ["id", "name", "network", "commune", "lon", "lat", "kind"]
    with tempfile.TemporaryDirectory() as d:
        first = read_user_directory(write_table(Path(d), rows, cols), index=index).sites
        export = first.rename(columns={"insee": "commune", "source_id": "id"})
        export = export[["id", "name", "network", "commune", "lon", "lat", "kind"]].copy()
        export["lon"] = export["lon"].map(repr)
        export["lat"] = export["lat"].map(repr)
        again_path = write_csv(export, Path(d) / "export" / "sites.csv")
        again = read_user_directory(again_path, index=index).sites
    cols_cmp = ["source_id", "name", "network", "insee", "kind", "position", "commune_name"]
    pd.testing.assert_frame_equal(
        again[cols_cmp].reset_index(drop=True), first[cols_cmp].reset_index(drop=True)
    )
    np.testing.assert_allclose(again[["lon", "lat"]], first[["lon", "lat"]], rtol=0, atol=1e-9)


# =========================================================================== candidates
@settings(PROPS, max_examples=15)
@given(st.data())
def test_candidates_column_order_and_case_do_not_matter(communes, data):
    from analysis.planning.candidates import read_candidates_csv

    rows = data.draw(good_rows(communes, max_size=4, with_coords=True), label="rows")
    columns = ["name", "network", "lon", "lat"]
    order = data.draw(st.permutations(columns), label="order")
    headers = [case_variant(data.draw, c) for c in order]
    sep = data.draw(st.sampled_from([",", ";"]), label="sep")
    with tempfile.TemporaryDirectory() as d:
        a = read_candidates_csv(write_table(Path(d), rows, columns, name="a.csv"), communes)
        b = read_candidates_csv(
            write_table(Path(d), rows, list(order), headers=headers, sep=sep, name="b.csv"),
            communes,
        )
    keep = ["name", "network", "insee", "x_l93", "y_l93", "position"]
    pd.testing.assert_frame_equal(
        pd.DataFrame(a.candidates[keep]), pd.DataFrame(b.candidates[keep])
    )
    assert len(a.candidates) == len(rows) and not a.problems and not b.problems


@PROPS
@given(st.data())
def test_candidates_garbage_rows_raise_validation_errors_or_are_reported(communes, data):
    from analysis.planning.candidates import read_candidates_csv

    columns = ["name", "network", "lon", "lat", "commune"]
    rows = data.draw(good_rows(communes, min_size=0, max_size=3), label="good")
    junk = data.draw(
        st.lists(st.fixed_dictionaries({c: garbage_cell for c in columns}), min_size=1,
                 max_size=4), label="junk"
    )  # fmt: skip
    mixed = data.draw(st.permutations(rows + junk), label="mixed")
    with tempfile.TemporaryDirectory() as d:
        path = write_table(Path(d), mixed, columns)
        raw = path.read_bytes()
    try:
        load = read_candidates_csv(raw, communes)  # as an upload: the file's bytes
    except ValidationError:
        return
    body = list(csv.reader(io.StringIO(raw.decode("utf-8"))))[1:]
    n_rows = sum(1 for fields in body if any(f.strip() for f in fields))
    assert len(load.candidates) + len(load.problems) == n_rows
    assert all(p.rows and 1 <= p.rows[0] <= len(body) for p in load.problems)


# =========================================================================== profiles
threshold_values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-1000, 10_000),
    st.booleans(),
    st.text(max_size=5),
)


def toml_value(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, int):
        return str(v)
    # JSON string escapes are TOML basic-string escapes (DEL must be escaped too).
    return json.dumps(v, ensure_ascii=False).replace("\x7f", "\\u007f")


@PROPS
@given(road=threshold_values, transit=threshold_values, walk=threshold_values)
def test_profile_thresholds_load_exactly_when_positive_finite_numbers(road, transit, walk):
    from analysis.profiles import load_profiles

    body = (
        '[profiles.p]\nlabel = "P"\nnetworks = ["CIO"]\n'
        f"thresholds_min = {{ road = {toml_value(road)}, transit = {toml_value(transit)}, "
        f"walk = {toml_value(walk)} }}\n"
    )
    ok = all(
        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) and v > 0
        for v in (road, transit, walk)
    )
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "p.toml"
        p.write_text(body, encoding="utf-8")
        if ok:
            prof = load_profiles(p)["p"]
            assert prof.thresholds_min == {
                "road": float(road), "transit": float(transit), "walk": float(walk),
                "best": float(road),
            }  # fmt: skip
        else:
            with pytest.raises(ValidationError, match="threshold"):
                load_profiles(p)


# =========================================================================== GTFS times
@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 99), st.integers(0, 59), st.integers(0, 59)),
                min_size=1, max_size=20), st.booleans())  # fmt: skip
def test_gtfs_times_parse_back_to_their_seconds(hms, pad):
    from analysis.transit.gtfs import parse_time_column

    text = [f"{h:02d}:{m:02d}:{s:02d}" if pad else f"{h}:{m:02d}:{s:02d}" for h, m, s in hms]
    got = parse_time_column(text, source="stop_times.txt", column="arrival_time")
    assert got.tolist() == [h * 3600 + m * 60 + s for h, m, s in hms]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=12) | st.from_regex(r"-?\d{1,3}:\d{1,3}:\d{1,3}", fullmatch=True),
                min_size=1, max_size=10))  # fmt: skip
def test_gtfs_time_garbage_is_a_validation_error_naming_the_row(values):
    from analysis.transit.gtfs import parse_time_column

    try:
        got = parse_time_column(values, source="stop_times.txt", column="departure_time")
    except ValidationError as exc:
        assert exc.rows and all(1 <= r <= len(values) for r in exc.rows)
        assert "stop_times.txt" in str(exc)
        return
    assert got.dtype == np.int64 and len(got) == len(values)
    assert np.all((got >= 0) | (got == got.min()))  # seconds, or the missing-time marker


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=12) | st.floats() | st.integers(-(10**12), 10**12))
@example("24:00")
@example("7:5")
def test_clock_arguments_parse_or_raise_validation_errors(value):
    from analysis.transit.gtfs import parse_clock

    try:
        s = parse_clock(value, what="--depart")
    except SproError as exc:
        assert isinstance(exc, ValidationError)
        return
    assert isinstance(s, int) and s >= 0
    assume(isinstance(value, str))
    h, m, *rest = (int(x) for x in value.strip().split(":"))
    assert s == h * 3600 + m * 60 + (rest[0] if rest else 0)


@pytest.mark.parametrize("value", [2**64, -(2**63) - 1])
def test_clock_seconds_beyond_int64_are_a_validation_error(value):
    from analysis.transit.gtfs import parse_clock

    with pytest.raises(ValidationError):
        parse_clock(value, what="--depart")
