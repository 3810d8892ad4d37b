"""Official commune classes read from the mirror (analysis.territory)."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis import territory
from analysis.communes import load_communes
from analysis.errors import ValidationError


def test_classes_cover_every_commune_with_the_published_counts() -> None:
    classes = territory.load_commune_classes()
    communes = load_communes()
    assert set(classes.index) == set(communes["insee"])
    # INSEE 2025 grid over the region's 4,025 communes (counted from the published file).
    counts = classes["density7"].value_counts().sort_index().tolist()
    assert counts == [75, 92, 86, 361, 616, 1811, 984]
    assert int(classes["frr"].sum()) == 1610 + 154  # FRR + FRR+
    assert classes.loc["69123", "density7"] == 1  # Lyon: grand centre urbain
    assert classes.loc["69123", "aav_category"] == 11
    assert bool(territory.is_rural(classes.loc["01001", "density7"]))


def test_passage_maps_merged_communes_and_lyon_arrondissements() -> None:
    passage = territory.load_code_passage()
    assert passage["69381"] == "69123"  # Lyon 1er arrondissement
    assert passage["01003"] == "01165"  # Amareins, merged into Francheleins
    assert "69123" not in passage  # a code in force maps to itself: not a key


def test_a_class_code_out_of_range_names_the_row(tmp_path, monkeypatch) -> None:
    src = territory._territory_file(territory.DENSITY_FILE, None)
    df = pd.read_csv(src, dtype=str, keep_default_na=False)
    df.loc[2, "grille_densite_7"] = "9"
    (tmp_path / "territory").mkdir()
    for name in (territory.FRR_FILE, territory.ZONAGES_FILE):
        (tmp_path / "territory" / name).write_bytes(
            territory._territory_file(name, None).read_bytes()
        )
    df.to_csv(tmp_path / "territory" / territory.DENSITY_FILE, index=False)
    # A user's own copy (not the manifest's file): the class check is what is tested here.
    monkeypatch.setattr("analysis.manifest.verify_input", lambda *a, **k: None)
    with pytest.raises(ValidationError, match=r"grille_densite_7 '9'.*row 4|row 4.*'9'"):
        territory.load_commune_classes(shared_dir=tmp_path)


def test_coverage_summarises_by_density_level_and_frr_and_ranks_rural_clusters_first() -> None:
    """Issue 12 item 3: summaries by INSEE density level and FRR; most rural clusters first."""
    from analysis.coverage import compute_coverage
    from analysis.inputs import load_models, load_sites
    from analysis.profiles import get_profile

    communes = load_communes()
    model = load_models(["road"], communes)["road"]
    result = compute_coverage(model, load_sites(), communes, get_profile("job_seekers"))
    region = result.summary("region").iloc[0]
    for by, n_groups in (("density", 7), ("frr", 2)):
        s = result.summary(by)
        assert len(s) == n_groups
        assert s["communes"].sum() == region["communes"]
        assert abs(s["demand"].sum() - region["demand"]) < 1e-6 * region["demand"]
        assert abs(s["demand_beyond"].sum() - region["demand_beyond"]) < 1e-3
    dens = result.summary("density").set_index("group")
    assert list(dens.index) == [f"{k} {v}" for k, v in territory.DENSITY7_LABELS.items()]
    # the sparsest communes are the least served
    assert dens["share_beyond"].iloc[-1] > dens["share_beyond"].iloc[0]
    clusters = result.clusters()
    key = list(zip(~clusters["rural_insee"], ~clusters["in_frr"], strict=True))
    assert key == sorted(key)  # INSEE-rural first, then FRR


def test_an_old_commune_code_in_a_users_directory_maps_to_its_cog_2026_code(tmp_path) -> None:
    """Issue 12 item 6: 01220 (merged into 01185 before COG 2026) is found and flagged."""
    from analysis.sites.user_import import read_user_directory

    src = tmp_path / "mine.csv"
    src.write_text(
        "name,network,commune\nML ancienne commune,Mission Locale,01220\n"
        "ML Lyon 3e,Mission Locale,69383\n",
        encoding="utf-8",
    )
    sites = read_user_directory(src).sites
    assert list(sites["insee"]) == ["01185", "69123"]
    assert "commune_from_former_code" in sites["flags"].iloc[0]


def test_a_postcode_that_disagrees_with_the_commune_is_flagged_in_a_users_file(tmp_path) -> None:
    """Issue 12 item 6: the bundled files' postcode rule, applied to a user's directory."""
    from analysis.sites.user_import import read_user_directory

    src = tmp_path / "mine.csv"
    src.write_text(
        "name,network,commune,postcode\n"
        "ML Yssingeaux,Mission Locale,43268,43200\n"  # agrees
        "ML Tence,Mission Locale,43244,42000\n"  # Loire's postcode, Haute-Loire commune
        "ML Monistrol,Mission Locale,43137,43200\n",  # Yssingeaux's postcode
        encoding="utf-8",
    )
    flags = list(read_user_directory(src).sites["flags"])
    assert "postcode" not in flags[0]
    assert "postcode_other_dep" in flags[1]
    assert "postcode_not_commune" in flags[2]
