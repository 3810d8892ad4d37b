"""Map context with no base map: department borders, commune outlines, town names; clicks.

Known answers: Google's documented polyline example; the 12 departments of
Auvergne-Rhône-Alpes and their areas from the raw commune polygons; the town halls of Lyon
and Grenoble (coordinates read off the map, not from the commune table) and points in
Geneva and Marseille, outside the region.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely.geometry import box

from analysis import present
from analysis.present import context as ctx
from analysis.present.planner_maps import base_map

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

AURA_DEPS = ["01", "03", "07", "15", "26", "38", "42", "43", "63", "69", "73", "74"]


@pytest.fixture(scope="module")
def communes():
    from analysis.communes import load_communes

    return load_communes()


@pytest.fixture(scope="module")
def context(communes):
    return ctx.default_context()


def _layer_names(html: str) -> set[str]:
    """Names of the layer control's overlays in a rendered page."""
    block = re.search(r"overlays\s*:\s*\{(.*?)\}", html, re.S)
    return set(re.findall(r'"([^"]+)"\s*:', block.group(1))) if block else set()


def _shown(html: str, m, name: str) -> bool:
    """Whether the feature group called ``name`` is added to the map when the page opens."""
    for child in m._children.values():
        if getattr(child, "layer_name", None) == name:
            return f"{child.get_name()}.addTo({m.get_name()})" in html
    raise AssertionError(f"no layer {name!r}")


# ------------------------------------------------------------------------------ encoding
def test_encoding_is_googles_polyline_in_the_base64url_alphabet():
    # Google's documented example (precision 5): "_p~iF~ps|U_ulLnnqC_mqNvxq`@"
    pts = np.array([[-120.2, 38.5], [-120.95, 40.7], [-126.453, 43.252]])
    google = "_p~iF~ps|U_ulLnnqC_mqNvxq`@"
    expected = "".join(ctx.ALPHABET[ord(c) - 63] for c in google)
    assert ctx.encode_polyline(pts, 5) == expected
    assert set(ctx.ALPHABET) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    )
    assert len(set(ctx.ALPHABET)) == 64


def test_several_lines_round_trip_with_deltas_running_on():
    lines = [
        np.array([[4.1, 45.2], [4.2, 45.3]]),
        np.array([[4.25, 45.31], [3.9999, 45.0], [-0.0001, 44.9]]),
        np.array([[6.8, 46.4], [6.8001, 46.4001]]),
    ]
    text = ctx.encode_lines(lines)
    assert text.count(ctx.LINE_SEP) == 2
    # a line after the first starts with a small step, not a full coordinate
    alone = [ctx.encode_polyline(c) for c in lines]
    assert text.split(ctx.LINE_SEP)[0] == alone[0]
    assert len(text) < sum(len(a) for a in alone) + 2
    back = ctx.decode_lines(text)
    assert len(back) == 3
    for a, b in zip(lines, back, strict=True):
        np.testing.assert_allclose(b, a, atol=0.5e-4)
    assert ctx.decode_lines(ctx.encode_lines([])) == []


# ------------------------------------------------------------------------- the context
def test_department_borders_are_the_twelve_departments(context, communes):
    assert sorted(context.departments) == AURA_DEPS
    assert sorted(context.department_lines) == AURA_DEPS
    from analysis.crs import polygons_l93

    l93 = polygons_l93(communes)
    deps = communes["dep"].astype(str).to_numpy()
    for dep, border in context.departments.items():
        area = gpd.GeoSeries([border], crs="EPSG:4326").to_crs("EPSG:2154").area.iloc[0]
        # the dissolved, simplified border encloses the department's communes (raw polygons)
        assert area == pytest.approx(l93[deps == dep].area.sum(), rel=0.005), dep
        # what the page draws is that border's rings
        rings = ctx.decode_lines(context.department_lines[dep])
        n_rings = sum(len(shapely.get_rings(p)) for p in shapely.get_parts(border))
        assert len(rings) == n_rings
    # Lyon's town hall is inside the Rhône border, not inside Isère's
    lyon = shapely.Point(4.8357, 45.7676)
    assert context.departments["69"].contains(lyon)
    assert not context.departments["38"].contains(lyon)


def test_commune_outlines_draw_every_shared_edge_once_simplified(context, communes):
    from analysis.crs import polygons_l93

    lines = ctx.decode_lines(context.outline_lines)
    drawn = gpd.GeoSeries(
        [shapely.multilinestrings([shapely.linestrings(c) for c in lines])], crs="EPSG:4326"
    )
    length = drawn.to_crs("EPSG:2154").length.iloc[0]
    l93 = polygons_l93(communes)
    # each shared edge once, the region's edge once: (sum of perimeters + outer edge) / 2
    once = (l93.length.sum() + shapely.union_all(l93.to_numpy()).length) / 2
    assert 0.9 * once < length < once  # simplified: a little shorter, never doubled
    n_points = sum(len(c) for c in lines)
    # fewer than half the vertices of the communes' own rings (a shared edge is drawn once)
    assert n_points < shapely.get_num_coordinates(l93.to_numpy()).sum() / 2


def test_context_is_built_once_per_process(context):
    t0 = time.perf_counter()
    again = ctx.default_context()
    assert again is context
    assert time.perf_counter() - t0 < 0.01


def test_disk_cache_reads_back_the_same_context_and_rebuilds_a_damaged_file(tmp_path):
    communes = _tiny_communes("Town")
    built = ctx.cached_map_context(communes, cache_dir=tmp_path)
    (path,) = tmp_path.glob("map_context_*.json")
    again = ctx.cached_map_context(communes, cache_dir=tmp_path)
    assert again.outline_lines == built.outline_lines == ctx.map_context(communes).outline_lines
    assert again.department_lines == built.department_lines
    assert again.towns == built.towns
    for dep, border in built.departments.items():
        assert shapely.equals_exact(again.departments[dep], border, tolerance=0)
    # another commune table (a name changed) is another file, never the stale one
    renamed = communes.assign(nom=["Other town", "Small", "Other", "Tiny"])
    assert ctx.cached_map_context(renamed, cache_dir=tmp_path).towns[0].name == "Other town"
    assert len(list(tmp_path.glob("map_context_*.json"))) == 2
    # a damaged file fails its checksum: rebuilt, same answer
    path.write_text('{"departments": 1}', encoding="utf-8")
    assert ctx.cached_map_context(communes, cache_dir=tmp_path).towns == built.towns


def test_main_towns_are_the_prefectures_and_towns_over_20000(context, communes):
    towns = {t.insee: t for t in context.towns}
    prefectures = {"01053", "03190", "07186", "15014", "26362", "38185", "42218", "43157",
                   "63113", "69123", "73065", "74010"}  # fmt: skip
    assert prefectures <= set(towns)
    assert {t.insee for t in context.towns if t.major} == prefectures
    # Villeurbanne (~150,000) is labelled; Privas (~8,000) only as a prefecture
    assert "69266" in towns and not towns["69266"].prefecture
    assert towns["07186"].pop < 20_000
    pop = communes.set_index("insee")["pop_mun"]
    small = pop[(pop < 20_000) & ~pop.index.isin(prefectures)]
    assert not set(small.index) & set(towns)
    assert all(pop[code] >= 20_000 for code in set(towns) - prefectures)
    assert towns["69123"].lat == pytest.approx(45.76, abs=0.02)
    assert towns["69123"].lon == pytest.approx(4.83, abs=0.02)


def _tiny_communes(name: str) -> gpd.GeoDataFrame:
    cells = [box(4.80 + 0.05 * i, 45.70, 4.85 + 0.05 * i, 45.75) for i in range(4)]
    return gpd.GeoDataFrame(
        {
            "insee": ["69001", "69002", "38001", "38002"],
            "nom": [name, "Small", "Other", "Tiny"],
            "dep": ["69", "69", "38", "38"],
            "pop_mun": [30_000, 100, 25_000, 10],
            "lon": [4.825, 4.875, 4.925, 4.975],
            "lat": [45.725] * 4,
        },
        geometry=cells,
        crs="EPSG:4326",
    )


def test_town_labels_are_escaped_text():
    evil = '<img src=x onerror=alert(1)> & "Co" {{ 7*7 }}'
    context = ctx.map_context(_tiny_communes(evil))
    assert sorted(context.departments) == ["38", "69"]
    assert [t.insee for t in context.towns] == ["69001", "38001"]
    assert context.towns[0].name == (
        "&lt;img src=x onerror=alert(1)&gt; &amp; &quot;Co&quot; &#123;&#123; 7*7 &#125;&#125;"
    )
    m = base_map([4.8, 5.0], [45.7, 45.75], basemap="none", context=context)
    html = present.map_html(present.planner_maps.finish(m))
    # the label rows as written in the page: the escaped name, as a JSON string
    labels = next(c for g in m._children.values() for c in g._children.values()
                  if isinstance(c, ctx.TownLabels))  # fmt: skip
    rows = json.loads(labels.rows_json)
    assert rows[0][2] == context.towns[0].name
    assert labels.rows_json in html
    assert "<img src=x" not in html and "{{ 7*7 }}" not in html and "49" not in labels.rows_json


# --------------------------------------------------------------- present / absent, sizes
def test_no_base_map_draws_all_three_layers(context):
    m = present.planner_maps.finish(base_map([4.8, 5.0], [45.7, 45.9], basemap="none"))
    html = present.map_html(m)
    names = _layer_names(html)
    assert {ctx.DEPARTMENTS_LAYER, ctx.OUTLINES_LAYER, ctx.TOWNS_LAYER} <= names
    for name in (ctx.DEPARTMENTS_LAYER, ctx.OUTLINES_LAYER, ctx.TOWNS_LAYER):
        assert _shown(html, m, name), name
    assert context.outline_lines in html
    assert html.count("spro-dep-") >= 12
    # not interactive: they take no click or tooltip from the map's own layers
    assert html.count("interactive: false") >= 3


def test_with_a_base_map_the_context_is_a_toggle_left_off(context):
    m = present.planner_maps.finish(base_map([4.8, 5.0], [45.7, 45.9], basemap="positron"))
    html = present.map_html(m)
    names = _layer_names(html)
    assert {ctx.DEPARTMENTS_LAYER, ctx.TOWNS_LAYER} <= names
    assert not _shown(html, m, ctx.DEPARTMENTS_LAYER)
    assert not _shown(html, m, ctx.TOWNS_LAYER)
    # the commune outlines (most of the weight) are left out: the tiles show the communes
    assert ctx.OUTLINES_LAYER not in names
    assert context.outline_lines not in html


def test_home_map_labels_towns_with_no_base_map_only():
    from analysis.adjacency import adjacency_matrix, commune_adjacency
    from analysis.communes import load_communes
    from analysis.coverage import compute_coverage
    from analysis.inputs import load_sites
    from analysis.models import active_road_model
    from analysis.profiles import load_profiles

    communes = load_communes()
    i, j = commune_adjacency(communes)
    result = compute_coverage(
        active_road_model(communes),
        load_sites(),
        communes,
        load_profiles()["job_seekers"],
        threshold_min=30.0,
        adjacency=adjacency_matrix(len(communes), i, j),
    )
    base = present.web_base(communes)
    for basemap, shown in (("none", True), ("osm", False)):
        m = present.coverage_map(result, base, basemap=basemap)
        html = present.map_html(m)
        assert ctx.TOWNS_LAYER in _layer_names(html)
        assert "Department borders" in _layer_names(html)
        assert _shown(html, m, ctx.TOWNS_LAYER) is shown
        assert "Clermont-Ferrand" in html


def test_planner_page_weight_stays_sane(context):
    empty = present.map_html(base_map([4.8], [45.7], basemap="none", context=False))
    full = present.map_html(base_map([4.8], [45.7], basemap="none"))
    added = len(full) - len(empty)
    sizes = context.sizes()
    assert added == pytest.approx(sum(sizes.values()), rel=0.1)
    assert added < 400_000  # the GeoJSON of the same outlines alone is 1.0-1.5 MB
    assert len(full) < 600_000
    assert context.tolerance_m >= 200


# -------------------------------------------------------------------------------- clicks
@pytest.mark.parametrize(
    ("lon", "lat", "insee", "name"),
    [
        (4.8357, 45.7676, "69123", "Lyon"),  # Hôtel de ville, place des Terreaux
        (5.7355, 45.1863, "38185", "Grenoble"),  # Hôtel de ville, boulevard Jean Pain
        (3.0863, 45.7772, "63113", "Clermont-Ferrand"),  # place de Jaude
    ],
)
def test_click_selects_the_commune_under_it(communes, lon, lat, insee, name):
    hit = ctx.commune_at_click(communes, lon, lat)
    assert hit.found
    assert (hit.insee, hit.name) == (insee, name)
    assert f"{name} ({insee})" in hit.message


@pytest.mark.parametrize(("lon", "lat"), [(6.1432, 46.2044), (5.3698, 43.2965)])
def test_click_outside_the_region_says_so(communes, lon, lat):
    hit = ctx.commune_at_click(communes, lon, lat)
    assert not hit.found and hit.insee is None
    assert "outside the region" in hit.message
    assert f"{lon:.5f}" in hit.message


@pytest.mark.parametrize(("lon", "lat"), [(None, 45.7), ("x", 45.7), (float("nan"), 45.7)])
def test_click_without_a_position(communes, lon, lat):
    hit = ctx.commune_at_click(communes, lon, lat)
    assert not hit.found and "no position" in hit.message


# ---------------------------------------------------------------- the what-if page click
def _whatif_with_click(monkeypatch, lng: float, lat: float):
    from streamlit.testing.v1 import AppTest

    from analysis import settings
    from app import components

    monkeypatch.setattr(settings, "use_network", False)
    # the map component sends back what a click on the map sends
    monkeypatch.setattr(
        components, "show_map", lambda payload: {"last_clicked": {"lng": lng, "lat": lat}}
    )
    at = AppTest.from_file(str(ROOT / "app" / "pages" / "2_Labelling_what-if.py"))
    at.default_timeout = 180
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_whatif_click_fills_the_commune_form(monkeypatch):
    at = _whatif_with_click(monkeypatch, 4.8357, 45.7676)
    assert any("Lyon (69123)" in i.value for i in at.info)
    assert at.selectbox(key="wi_form_commune").value == "Lyon — 69123"
    assert at.selectbox(key="wi_form_net").value == at.selectbox(key="wi_click_net").value
    at.button(key="wi_add_click").click().run()
    assert not at.exception, [e.value for e in at.exception]
    (rec,) = at.session_state["wi_candidates"]
    assert (rec["lon"], rec["lat"]) == (4.8357, 45.7676)
    # a change made in the form afterwards is kept on the next rerun (same click)
    other = next(o for o in at.selectbox(key="wi_form_commune").options if "— 43157" in o)
    at.selectbox(key="wi_form_commune").select(other).run()
    assert at.selectbox(key="wi_form_commune").value == other


def test_whatif_click_outside_the_region_says_so(monkeypatch):
    at = _whatif_with_click(monkeypatch, 6.1432, 46.2044)
    assert any("outside the region" in w.value for w in at.warning)
    assert not [b for b in at.button if b.key == "wi_add_click"]


# ------------------------------------------- home map: colour and filter by official classes
def test_home_map_colours_and_filters_by_density_and_frr(monkeypatch):
    """Issue 12 item 3: the app colours and filters the map by INSEE density level and FRR."""
    from streamlit.testing.v1 import AppTest

    from analysis import settings
    from analysis.communes import load_communes
    from analysis.present.coverage_map import DENSITY_COLOURS, FILTERED_OUT_COLOUR
    from app import components

    monkeypatch.setattr(settings, "use_network", False)
    sent: list[dict] = []
    monkeypatch.setattr(components, "show_map", lambda payload: sent.append(payload) or {})
    raw = load_communes()
    n_frr = int(raw["frr"].astype(bool).sum())  # from the FRR file, not the coverage
    n_rural = int(raw["density7"].isin([5, 6, 7]).sum())

    at = AppTest.from_file(str(ROOT / "app" / "Home.py"), default_timeout=240)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert '"k":0' not in sent[-1]["script"]  # no filter: every commune kept
    assert "Time to the nearest site, min" in sent[-1]["script"]

    at.selectbox(key="colour_by").set_value("density").run()
    assert not at.exception, [e.value for e in at.exception]
    script = sent[-1]["script"]
    assert json.dumps(list(DENSITY_COLOURS)) in script
    assert "INSEE density level (7)" in script and "1 grands centres urbains" in script
    assert any("Colour: INSEE density level" in c.value for c in at.caption)

    at.toggle(key="filter_frr").set_value(True).run()
    assert not at.exception, [e.value for e in at.exception]
    script = sent[-1]["script"]
    assert script.count('"k":0') == len(raw) - n_frr
    assert FILTERED_OUT_COLOUR in script and "FRR only" in script
    assert any(f"Filter: {n_frr:,} of {len(raw):,} communes shown" in c.value for c in at.caption)

    at.toggle(key="filter_frr").set_value(False)
    at.multiselect(key="filter_density").set_value([5, 6, 7])
    at.selectbox(key="colour_by").set_value("frr").run()
    assert not at.exception, [e.value for e in at.exception]
    script = sent[-1]["script"]
    assert script.count('"k":1') == n_rural
    assert "France Ruralit" in script and "outside FRR" in script
    assert any(f"Filter: {n_rural:,} of {len(raw):,}" in c.value for c in at.caption)


def test_site_dots_are_one_light_escaped_layer():
    import pandas as pd

    from analysis.present.planner_maps import SiteDots, add_point, add_site_dots

    n = 300
    rng = np.random.default_rng(3)
    sites = pd.DataFrame(
        {
            "lon": rng.uniform(3.0, 7.0, n),
            "lat": rng.uniform(44.5, 46.5, n),
            "name": ["<b>Site</b> {{ 6*7 }}"] + [f"Site {i}" for i in range(1, n)],
            "network": "Mission Locale",
            "provenance": "real",
        }
    )
    sites.loc[5, "lon"] = np.nan  # no position: left out
    m = base_map([4.8], [45.7], basemap="none", context=False)
    group = add_site_dots(m, sites, name="Today's sites")
    (dots,) = [c for c in group._children.values() if isinstance(c, SiteDots)]
    rows = json.loads(dots.rows_json)
    assert len(rows) == n - 1
    assert rows[5][:2] == [round(sites["lat"][6], 5), round(sites["lon"][6], 5)]
    html = present.map_html(m)
    assert dots.rows_json in html
    assert "<b>Site</b>" not in html and "{{ 6*7 }}" not in html
    assert rows[0][2] == (
        "&lt;b&gt;Site&lt;/b&gt; &#123;&#123; 6*7 &#125;&#125; (Mission Locale, real)"
    )
    # against one folium CircleMarker a site: several times lighter
    empty = len(present.map_html(base_map([4.8], [45.7], basemap="none", context=False)))
    m2 = base_map([4.8], [45.7], basemap="none", context=False)
    for row in sites.dropna().itertuples():
        add_point(m2, row.lon, row.lat, colour="#555555", radius=4, popup_lines=[row.name])
    heavy = len(present.map_html(m2)) - empty
    light = len(html) - empty
    assert light * 3 < heavy
