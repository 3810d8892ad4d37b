"""The planner subcommands end to end on a synthetic region (inputs patched in)."""

import pandas as pd
import pytest

import analysis.planning.siting as siting
import analysis.profiles
from analysis.cli import main
from analysis.commands import planning as cmd
from analysis.testing import synthetic_profiles, synthetic_region


@pytest.fixture(scope="module")
def region():
    return synthetic_region(9, 8, per_network=2, seed=7)


@pytest.fixture(autouse=True)
def synthetic_inputs(region, monkeypatch):
    monkeypatch.setattr(
        cmd, "_load_inputs", lambda args: (region.communes, region.sites, synthetic_profiles())
    )
    monkeypatch.setattr(
        cmd, "_load_models", lambda modes, communes, road, date: {m: region.model for m in modes}
    )
    monkeypatch.setattr(analysis.profiles, "load_profiles", lambda path=None: synthetic_profiles())
    # France Services hosts: a synthetic one instead of the bundled file
    fs = region.sites.iloc[:1].assign(network="France Services", site_id="F1")
    real = siting.candidate_hosts

    def hosts(*a, france_services=None, **kw):
        return real(*a, france_services=fs if france_services is None else france_services, **kw)

    monkeypatch.setattr(siting, "candidate_hosts", hosts)


def test_whatif_command(region, tmp_path, capsys):
    csv = tmp_path / "c.csv"
    c = region.communes
    csv.write_text(
        "name,network,insee\n"
        f"Good one,Mission Locale,{c['insee'].iloc[10]}\n"
        "Bad one,Nowhere,43001\n",
        encoding="utf-8",
    )
    code = main(
        ["whatif", "--candidates", str(csv), "--commune", c["nom"].iloc[30], "--network", "CIO",
         "--remove", region.sites["site_id"].iloc[0], "--out", str(tmp_path / "o")]
    )  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "row 2" in err and "unknown network 'Nowhere'" in err  # bad row named, good ones run
    assert "ESTIMATED" in out and "Good one" in out and "closing loses" in out
    cards = pd.read_csv(tmp_path / "o" / "cards.csv")
    assert set(cards["candidate_name"]) >= {"Good one", f"candidate in {c['nom'].iloc[30]}"}


def test_site_permanences_command(tmp_path, capsys):
    code = main(
        ["site-permanences", "--network", "France Travail", "--k", "3", "--hosts",
         "town_halls", "france_services", "--out", str(tmp_path / "s")]
    )  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "ESTIMATED" in out and " 1. " in out and "greedy gap" in out
    assert (tmp_path / "s" / "map.html").exists()


def test_caravane_command(region, tmp_path, capsys):
    code = main(
        ["caravane", "--base", region.communes["nom"].iloc[0], "--days", "2", "--stop-min",
         "45", "--max-drive-min", "150", "--profile", "jeunes", "--out", str(tmp_path / "c")]
    )  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "day 1 stop 1" in out and "ESTIMATED" in out
    assert (tmp_path / "c" / "itinerary.csv").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["site-permanences", "--network", "Nope", "--k", "2"], "valid networks are"),
        (["site-permanences", "--network", "CIO", "--k", "100000"], "larger than the number"),
        (["caravane", "--base", "2.35,48.85", "--days", "1", "--profile", "jeunes"],
         "outside Auvergne-Rhône-Alpes"),
        (["caravane", "--base", "43000", "--days", "1", "--profile", "nobody"],
         "valid profiles are"),
        (["whatif", "--commune", "43000"], "--network is required"),
        (["whatif", "--remove", "S999"], "unknown site_id"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_exit_code_2(argv, message, tmp_path, capsys):
    code = main([*argv, "--out", str(tmp_path / "x")])
    _, err = capsys.readouterr()
    assert code == 2
    assert message in err and "Traceback" not in err
