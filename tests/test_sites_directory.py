"""The bundled site directory on the real files: counts, merges, placement, flags."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import shapely

from analysis import settings
from analysis.communes import load_arrondissements, load_communes
from analysis.errors import DataMissingError
from analysis.sites.directory import (
    SITE_COLUMNS,
    build_bundled_directory,
    load_bundled_directory,
    load_france_services,
)
from analysis.sites.modelled import ML_TARGET_TOTAL
from analysis.sites.networks import NETWORKS
from analysis.sites.quality import FLAGS, flag_counts, rows_with_flag, split_flags

pytestmark = pytest.mark.skipif(
    not (Path(settings.shared_data_dir) / "access_points").is_dir(), reason="no local mirror"
)

# issue 12: + DILA 2026 CCI/CMA (CCI 28 -> 37, CMA 14 -> 14), + 2022 France Travail relais
# and one agency (95 -> 107), + data·inclusion extra rows (Maison de l'emploi 1 -> 3)
REAL_COUNTS = {
    "Mission Locale": 117, "Info Jeunes": 102, "France Travail": 107, "CIO": 49, "CCI": 37,
    "CMA": 14, "Chambre d'agriculture": 13, "SCUIO": 13, "CIDFF": 12, "Campus connecté": 9,
    "APEC": 4, "Cap Emploi": 2, "MIFE": 1, "Maison de l'emploi": 3, "Cité des métiers": 1,
}  # fmt: skip


@pytest.fixture(scope="module")
def built():
    return build_bundled_directory()


@pytest.fixture(scope="module")
def sites():
    return load_bundled_directory()


@pytest.fixture(scope="module")
def communes():
    return load_communes().set_index("insee")


def by_record(sites, record_id):
    hits = sites[sites["merged_from"].str.split(";").map(lambda ids: record_id in ids)]
    assert len(hits) == 1, record_id
    return hits.iloc[0]


def test_contract_columns_and_types(sites):
    assert list(sites.columns) == SITE_COLUMNS
    assert sites.crs.to_epsg() == 4326
    assert sites["site_id"].is_unique
    assert set(sites["network"]) <= set(NETWORKS) - {"France Services"}
    assert set(sites["position"]) == {"exact", "commune"}
    assert set(sites["kind"]) <= {"site", "antenne", "permanence", "mobile"}
    assert (sites["circle"] == sites["network"].map(lambda n: NETWORKS[n].circle)).all()
    for cell in sites["flags"]:
        assert set(split_flags(cell)) <= set(FLAGS)
    prov = set(sites["provenance"])
    assert "modelled" in prov and all(p == "modelled" or p.startswith("open-data:") for p in prov)


def test_counts_real_and_modelled(sites):
    real = sites[sites["provenance"] != "modelled"]
    assert real["network"].value_counts().to_dict() == REAL_COUNTS
    mod = sites[sites["provenance"] == "modelled"]
    assert mod.groupby(["network", "kind"]).size().to_dict() == {
        ("Avenir Actifs", "site"): 12,  # rule AA-2: one site (prefecture) per department
        ("Avenir Actifs", "antenne"): 118,  # rule AA-2: sized to the 130 of the 2026 document
        ("Cap Emploi", "antenne"): 26,
        ("Cap Emploi", "site"): 10,
        ("Mission Locale", "permanence"): ML_TARGET_TOTAL - 117,
    }
    assert (sites["network"] == "Mission Locale").sum() == ML_TARGET_TOTAL
    assert (mod["flags"] == "modelled").all()
    assert mod["name"].str.contains("(modelled)", regex=False).all()
    assert (mod["address"] == "").all()
    # one Cap Emploi site per department, real or modelled
    cap = sites[(sites["network"] == "Cap Emploi") & (sites["kind"] == "site")]
    assert sorted(set(cap["dep"])) == sorted(settings.region_departments)


def test_real_only(sites):
    real = load_bundled_directory(complete_modelled=False)
    assert len(real) == sum(REAL_COUNTS.values())
    assert (real["provenance"] != "modelled").all()
    assert "Avenir Actifs" not in set(real["network"])


def test_france_services_not_in_directory_but_available(sites):
    assert "France Services" not in set(sites["network"])
    fs = load_france_services()
    assert len(fs) == 325
    assert set(fs["network"]) == {"France Services"} and set(fs["circle"]) == {0}
    assert (fs["kind"] == "mobile").sum() == 21
    assert (fs["position"] == "exact").all()


def test_cache_equals_fresh_build(built, sites):
    assert built.sites.drop(columns="geometry").equals(sites.drop(columns="geometry"))


def test_known_duplicate_cio_lyon_nord_merged(sites):
    site = by_record(sites, "sp19:cio-69381-01")
    assert site["merged_from"] == "sp19:cio-69286-01;sp19:cio-69381-01"
    flags = split_flags(site["flags"])
    # coded Rillieux-la-Pape (69286) in one record: corrected to Lyon 4e from name + postcode
    assert {"duplicate_in_source", "duplicate_merged", "commune_corrected"} <= set(flags)
    assert site["insee"] == "69123" and site["arrondissement"] == "69384"


def test_mission_locale_seen_in_four_files_is_one_site(sites):
    site = by_record(sites, "sp19:mission_locale-74010-01")
    assert site["n_records"] == 5  # issue 12: + data_inclusion_2022_extra_spro_sites.csv
    assert site["position"] == "exact"  # the Hinaura record had coordinates
    # issue 12: the extra data·inclusion row (same place, same coordinates) now wins the tie
    assert site["provenance"] in {
        "open-data:hinaura_2022_odbl.csv", "open-data:data_inclusion_2022_extra_spro_sites.csv"
    }  # fmt: skip
    assert "ml23:imilo:74010S00" in site["merged_from"].split(";")
    assert "ml22:cej-agence-milo:256" in site["merged_from"].split(";")


def test_far_coordinates_set_aside_and_merged(built, sites):
    rec = built.records.set_index("site_id").loc["hin22:hinaura#410"]
    assert "coords_far_from_commune" in rec["flag_list"]
    site = by_record(sites, "hin22:hinaura#410")
    assert site["site_id"] == "ft19:ARA0154004087/69073"  # the agency with good coordinates
    assert "coords_far_from_commune" in split_flags(site["flags"])
    assert site["commune_name"] == "Tarare"


def test_address_only_site_placed_inside_its_commune(sites, communes):
    site = sites.set_index("site_id").loc["sp19:cio-15014-01"]  # CIO Aurillac, no coordinates
    assert site["position"] == "commune"
    poly = communes.loc["15014", "geometry"]
    assert shapely.contains_xy(poly, site["lon"], site["lat"])
    commune = sites[sites["position"] == "commune"]
    polys = communes.loc[commune["insee"], "geometry"].to_numpy()
    assert shapely.contains_xy(polys, commune["lon"], commune["lat"]).all()


def test_lyon_sites_placed_in_their_arrondissement(sites):
    arr = load_arrondissements().set_index("insee")
    lyon = sites[(sites["arrondissement"] != "") & (sites["position"] == "commune")]
    assert len(lyon) >= 10
    polys = arr.loc[lyon["arrondissement"], "geometry"].to_numpy()
    assert shapely.contains_xy(polys, lyon["lon"], lyon["lat"]).all()


def test_shared_points_are_spread_deterministically(sites, built):
    commune = sites[sites["position"] == "commune"]
    assert not commune[["lon", "lat"]].duplicated().any()
    np.testing.assert_array_equal(built.sites["x_l93"], sites["x_l93"])


def test_projection_consistent(sites):
    from analysis.crs import to_l93

    x, y = to_l93(sites["lon"].to_numpy(), sites["lat"].to_numpy())
    assert np.abs(x - sites["x_l93"]).max() < 1.0 and np.abs(y - sites["y_l93"]).max() < 1.0


def test_quality_flags_found_in_real_data(built, sites):
    counts = flag_counts(sites)
    assert counts["stale_vintage"] > 200  # the 2019 annuaire and France Travail files
    corrected = {r for r in built.records.loc[
        built.records["flag_list"].map(lambda f: "commune_corrected" in f), "site_id"]}  # fmt: skip
    assert corrected == {
        "sp19:cio-69286-01", "sp19:cio-03254-01", "sp19:cij-26058-01",
        "sp19:chambre_agriculture-26362-01", "sp19:suio-38185-02", "sp19:suio-38185-03",
        # issue 12: two DILA 2026 rows whose code disagrees with their commune/coordinates
        "dila26:dila:cci:07010:delegation-d-annonay", "dila26:dila:cma:73065:savoie",
    }  # fmt: skip
    assert by_record(sites, "sp19:cio-03254-01")["commune_name"] == "Yzeure"
    assert len(rows_with_flag(sites, "postcode_not_commune")) > 30  # CEDEX codes
    assert len(rows_with_flag(sites, "outside_region")) == 0
    assert (rows_with_flag(sites, "proxy")["network"].isin({"SCUIO", "CCI", "CMA"})).all()


def test_dropped_rows_have_reasons(built):
    dropped = built.dropped
    sup = dropped["reason"].str.startswith("SUP-")  # issue 12: precedence rules
    base = dropped[~sup & (dropped["file"] == "france_travail_2019.csv")]
    assert len(base) == 8
    assert base["reason"].str.contains("administrative direction").all()
    assert (dropped["reason"] != "").all()


def test_postcode_only_agencies_mapped_to_communes(built):
    ml22 = built.records[built.records["file"] == "missions_locales_agencies_2022.csv"]
    assert len(ml22) == 62  # every agency found a commune
    fontaine = ml22.set_index("source_id").loc["cej-agence-milo:3"]
    assert fontaine["insee"] == "38169"  # 38600: Fontaine, named in the site name
    assert "commune_from_postcode" in fontaine["flag_list"]


def test_missing_mirror_is_a_clear_error(tmp_path):
    with pytest.raises(DataMissingError, match="access_points"):
        load_bundled_directory(shared_dir=tmp_path)


def test_avenir_actifs_sized_to_130(sites):
    """Rule AA-2: 130 Avenir Actifs sites (2026 public document), all modelled and labelled."""
    from analysis.sites.modelled import AA_TARGET_TOTAL

    aa = sites[sites["network"] == "Avenir Actifs"]
    assert AA_TARGET_TOTAL == 130 and len(aa) == 130
    assert (aa["provenance"] == "modelled").all() and (aa["flags"] == "modelled").all()
    assert aa["insee"].is_unique
    # a site at every prefecture; every department has at least one
    assert sorted(set(aa["dep"])) == sorted(settings.region_departments)
    assert (aa["kind"] == "site").sum() == 12
    # deterministic: the Rhône (most populous) gets the largest share
    assert aa["dep"].value_counts().idxmax() == "69"


def _files(merged_from: str) -> set[str]:
    return {part.split(":", 1)[0] for part in merged_from.split(";") if part}


def test_dila_2026_cci_cma_primary(built, sites):
    """DILA 2026 loads with coordinates; 2019 CCI/CMA rows stay only where 2026 has none."""
    real = sites[sites["provenance"] != "modelled"]
    dila = real[real["merged_from"].map(lambda m: "dila26" in _files(m))]
    assert len(dila) == 40 and (dila["position"] == "exact").all()
    assert dila["network"].value_counts().to_dict() == {"CCI": 27, "CMA": 13}
    old = real[
        real["network"].isin(["CCI", "CMA"])
        & real["merged_from"].map(lambda m: "sp19" in _files(m) and "dila26" not in _files(m))
    ]
    # CCI Savoie (Chambéry), Beaujolais (Villefranche), Riom
    assert sorted(zip(old["network"], old["insee"], strict=True)) == [
        ("CCI", "63245"), ("CCI", "69264"), ("CCI", "73065")
    ]  # fmt: skip
    sup = built.dropped[built.dropped["reason"].str.startswith("SUP-CCI")]
    assert len(sup) == 30 and set(sup["file"]) == {"annuaire_service_public_2019.csv"}
    # no commune holds a 2019 and a 2026 record of the same network as two sites
    cc = real[real["network"].isin(["CCI", "CMA"]) & ~real["flags"].str.contains("proxy")]
    assert not cc.duplicated(["network", "insee"]).any()


def test_france_travail_2022_names(built, sites):
    """The 12 relais placed at commune level; matched agencies not doubled; SUP-FT rule."""
    real = sites[sites["provenance"] != "modelled"]
    ft = real[real["network"] == "France Travail"]
    ft22 = ft[ft["merged_from"].map(lambda m: "ft22" in _files(m))]
    relais = ft22[ft22["name"].str.startswith("Relai")]
    assert len(relais) + len(ft22[ft22["name"].str.contains("Sain Bel")]) >= 11
    only22 = ft[ft["merged_from"].map(lambda m: _files(m) == {"ft22"})]
    assert (only22["position"] == "commune").all()
    # agencies matched to 2019 are merged with their 2019 row, never a second site
    assert (ft["merged_from"].map(lambda m: "ft19" in _files(m))).sum() == 94
    assert (sup_reason := "SUP-FT: the same agency as its matched_2019 row (kept from 2019)")
    assert (built.dropped["reason"] == sup_reason).sum() == 75
    assert len(ft) == 107
    sup = built.dropped[built.dropped["reason"].str.startswith("SUP-FT")]
    assert "Agence Pôle emploi CLERMONT JOUHAUX" in set(sup["name"])
    assert "Agence Pôle emploi SAINT JEAN DE MAURIENNE" in set(only22["name"])


def test_data_inclusion_extra_deduplicated(sites):
    """Rows of the extra extraction already in other files appear once (merged)."""
    real = sites[sites["provenance"] != "modelled"]
    x = real[real["merged_from"].map(lambda m: "di22x" in _files(m))]
    annecy = x[x["name"].str.contains("Bassin Annécien")]
    assert len(annecy) == 1
    assert {"di22x", "hin22", "ml23", "ml22", "sp19"} <= _files(annecy["merged_from"].iloc[0])
    assert (real["network"] == "Mission Locale").sum() == 117  # no new ML site
    new = set(x.loc[x["merged_from"].map(lambda m: _files(m) == {"di22x"}), "name"])
    assert "Maison de l'emploi Feyzin" in new
