"""`spro-access coverage` end to end on the bundled data (road, real-only, extra GTFS feeds)."""

import json
from pathlib import Path

import pandas as pd

from analysis.cli import main

TINY_GTFS = Path(__file__).parent / "data" / "gtfs_tiny"


def test_coverage_road_writes_labelled_outputs(tmp_path, capsys):
    assert (
        main(
            [
                "coverage",
                "--profile",
                "young_16_25",
                "--real-only",
                "--quiet",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "MODELLED" in out and "219 real (open data)" in out
    meta = json.loads((tmp_path / "metadata.json").read_text())
    assert meta["times_are"] == "modelled" and meta["threshold_min"] == 20
    communes = pd.read_csv(tmp_path / "communes.csv", dtype={"insee": str})
    assert len(communes) == 4025 and set(communes["times_are"]) == {"modelled"}
    # the Haut-Beaujolais hills are flagged, inside an under-served cluster
    hills = communes[communes["nom"].isin(["Deux-Grosnes", "Saint-Igny-de-Vers", "Propières"])]
    assert len(hills) == 3 and (hills["cluster_id"] >= 0).all() and not hills["covered"].any()
    clusters = pd.read_csv(tmp_path / "clusters.csv")
    assert set(hills["cluster_id"]) <= set(clusters["cluster_id"])
    # a second run refuses to overwrite without --overwrite, and leaves the files intact
    before = (tmp_path / "communes.csv").read_bytes()
    assert main(["coverage", "--profile", "young_16_25", "--quiet", "--out", str(tmp_path)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert (tmp_path / "communes.csv").read_bytes() == before


def test_transit_coverage_combines_an_extra_feed(tmp_path, capsys):
    args = ["coverage", "--profile", "job_seekers", "--mode", "transit", "--quiet"]
    assert main([*args, "--gtfs", str(TINY_GTFS), "--out", str(tmp_path)]) == 0
    meta = json.loads((tmp_path / "metadata.json").read_text())
    assert "sncf_ter_2025-01" in meta["model"] and "gtfs_tiny" in meta["model"]
    assert meta["times_are"] == "measured"
    communes = pd.read_csv(tmp_path / "communes.csv", dtype={"insee": str})
    assert {"ok", "beyond_walk"} <= set(communes["status"])


def test_exports_say_the_demand_is_estimated(tmp_path):
    # issue 12: job seekers are DARES counts in Ain, Allier and Ardèche (official) and a model
    # elsewhere (estimated): the profile says "mixed", each commune its own status
    assert main(["coverage", "--profile", "job_seekers", "--quiet", "--out", str(tmp_path)]) == 0
    meta = json.loads((tmp_path / "metadata.json").read_text())
    assert meta["demand_is"] == "mixed" and "DARES" in meta["demand_source"]
    communes = pd.read_csv(tmp_path / "communes.csv", dtype={"insee": str})
    official = communes["demand_is"] == "official"
    assert set(communes["demand_is"]) == {"official", "estimated"}
    assert set(communes.loc[official, "insee"].str[:2]) == {"01", "03", "07"}
    assert official.sum() == 1043  # every commune of the three departments, none elsewhere
    summary = pd.read_csv(tmp_path / "summary.csv", dtype={"group": str})
    deps = summary[summary["grouping"] == "dep"].set_index("group")["demand_is"]
    assert deps.to_dict() == {d: "official" if d in ("01", "03", "07") else "estimated"
                              for d in deps.index}  # fmt: skip
    assert summary.loc[summary["grouping"] == "region", "demand_is"].tolist() == ["mixed"]
    out = tmp_path / "disabled"
    assert main(["coverage", "--profile", "disabled", "--quiet", "--out", str(out)]) == 0
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["demand_is"] == "estimated" and "PCH" in meta["demand_source"]
    assert set(pd.read_csv(out / "communes.csv")["demand_is"]) == {"estimated"}


def test_real_only_and_user_sites_runs_get_their_own_default_folder(tmp_path, monkeypatch, capsys):
    """Fixed bug: the `_real-only` suffix could never be reached, so the second run was refused."""
    from analysis import settings

    monkeypatch.setattr(settings, "output_dir", tmp_path)
    args = ["coverage", "--profile", "young_16_25", "--quiet"]
    assert main(args) == 0
    assert main([*args, "--real-only"]) == 0
    user = tmp_path / "my sites.csv"
    user.write_text(
        "name,network,commune,lat,lon\nML test,Mission Locale,Lyon 3e Arrondissement,45.76,4.85\n",
        encoding="utf-8",
    )
    # one site cannot silently stand for 600 (issue 14): refused, then each intent asked for
    assert main([*args, "--sites", str(user)]) == 2
    assert "--replace" in capsys.readouterr().err
    assert main([*args, "--sites", str(user), "--replace"]) == 0
    assert main([*args, "--sites", str(user), "--add"]) == 0
    err = capsys.readouterr().err
    assert "600 bundled site(s) replaced by 1" in err  # said on every run, not only with -v
    assert "1 site(s) from your file added to the 600 bundled" in err
    folders = sorted(p.name for p in tmp_path.iterdir() if p.is_dir())
    assert folders == [
        "young_16_25_road_20min",
        "young_16_25_road_20min_real-only",
        "young_16_25_road_20min_sites-add-my-sites",
        "young_16_25_road_20min_sites-my-sites",
    ]
    plain = pd.read_csv(tmp_path / folders[0] / "summary.csv")
    real = pd.read_csv(tmp_path / folders[1] / "summary.csv")
    assert plain.loc[0, "share_beyond"] != real.loc[0, "share_beyond"]


def test_a_figure_resting_on_modelled_sites_comes_with_its_open_data_counterpart(tmp_path, capsys):
    assert main(["coverage", "--profile", "young_16_25", "--quiet", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "open-data sites only:" in out and "modelled sites]" in out
    summary = pd.read_csv(tmp_path / "summary.csv")
    region = summary[summary["grouping"] == "region"].iloc[0]
    assert region["sites_modelled"] > 0
    # the modelled permanences can only bring sites closer
    assert region["share_beyond_open_data_only"] > region["share_beyond"]
    meta = json.loads((tmp_path / "metadata.json").read_text())
    assert meta["headline"]["share_beyond_open_data_only"] == region["share_beyond_open_data_only"]
    communes = pd.read_csv(tmp_path / "communes.csv", dtype={"insee": str})
    assert (communes["time_min_open_data_only"] >= communes["time_min"] - 1e-9).all()


def test_real_only_runs_give_one_figure(tmp_path, capsys):
    args = ["coverage", "--profile", "young_16_25", "--real-only", "--quiet"]
    assert main([*args, "--out", str(tmp_path)]) == 0
    assert "open-data sites only" not in capsys.readouterr().out
    summary = pd.read_csv(tmp_path / "summary.csv")
    assert (summary["share_beyond"] == summary["share_beyond_open_data_only"]).all()


def test_coverage_takes_a_profiles_file(tmp_path, capsys):
    from analysis.profiles import PROFILES_FILE

    text = PROFILES_FILE.read_text(encoding="utf-8")
    mine = tmp_path / "mine.toml"
    mine.write_text(text.replace("[profiles.job_seekers", "[profiles.seekers_mine"), "utf-8")
    out = tmp_path / "out"
    args = ["coverage", "--profiles-file", str(mine), "--quiet", "--out", str(out)]
    assert main([*args, "--profile", "seekers_mine"]) == 0
    assert json.loads((out / "metadata.json").read_text())["profile"] == "seekers_mine"
    assert main([*args, "--profile", "job_seekers"]) == 2  # not in that file: listed
    assert "seekers_mine" in capsys.readouterr().err
