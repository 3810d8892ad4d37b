"""The planner commands on the real bundled data: --real-only and --profiles-file."""


def test_planner_commands_take_real_only_and_a_profiles_file(tmp_path, capsys):
    """whatif, site-permanences and caravane take --real-only and --profiles-file (issue 12)."""
    import shutil
    from pathlib import Path

    from analysis import profiles as profiles_mod
    from analysis.cli import main

    mine = tmp_path / "mine.toml"
    shutil.copy(Path(profiles_mod.__file__).with_name("profiles.toml"), mine)
    text = mine.read_text(encoding="utf-8")
    text = text.replace("[profiles.young_16_25]", "[profiles.jeunes]")
    mine.write_text(text.replace("[profiles.young_16_25.", "[profiles.jeunes."), encoding="utf-8")
    rc = main(["site-permanences", "--network", "Mission Locale", "--k", "2", "--real-only",
               "--profiles-file", str(mine), "--profile", "jeunes", "--exact", "no",
               "--out", str(tmp_path / "s")])  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "for jeunes" in out
    assert "modelled" not in out.split("sites:")[1].splitlines()[0]  # no modelled site counted
    rc = main(["whatif", "--commune", "69135", "--network", "Mission Locale", "--real-only",
               "--profiles-file", str(mine), "--profile", "jeunes",
               "--out", str(tmp_path / "w")])  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 0 and "jeunes/road" in out
    rc = main(["caravane", "--base", "69264", "--days", "1", "--profile", "jeunes", "--real-only",
               "--profiles-file", str(mine), "--out", str(tmp_path / "c")])  # fmt: skip
    assert rc == 0
