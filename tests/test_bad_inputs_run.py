"""Bad-input catalogue, section "Runs and outputs" (rows RUN-NN of docs/bad_inputs.md).

Choices that used to be ignored silently, default folders that collided, output sets that
could be left mixed, user text shown as Markdown.
"""

from __future__ import annotations

import json
import os

import pytest
from conftest import cli, user_error

from analysis import settings
from analysis.errors import OverwriteRefusedError


@pytest.fixture(scope="module")
def small_result():
    from analysis.coverage import compute_coverage
    from analysis.profiles import Profile
    from analysis.testing import synthetic_region

    region = synthetic_region(6, 5)
    prof = Profile(key="young", label="Young", networks=("Mission Locale",),
                   thresholds_min={"road": 8.0})  # fmt: skip
    return compute_coverage(region.model, region.sites, region.communes, prof)


def export(result, out, **kw):
    from analysis.present import coverage_output_set, write_output_set

    return write_output_set(out, coverage_output_set(result), **kw)


def snapshot(folder):
    from analysis.io import sha256_file

    return {p.name: sha256_file(p) for p in sorted(folder.iterdir()) if p.is_file()}


def test_run_01_date_in_road_mode(capsys, tmp_path):
    out = tmp_path / "out"
    rc, _, err = cli(capsys, "coverage", "--profile", "job_seekers", "--date", "2025-02-04",
                     "--quiet", "--out", out)  # fmt: skip
    user_error(rc, err, "--date", "--mode transit")
    assert not out.exists()


def test_run_02_gtfs_in_road_mode(capsys, tmp_path):
    feed = tmp_path / "feed.zip"
    feed.write_bytes(b"PK\x05\x06" + b"\0" * 18)
    rc, _, err = cli(capsys, "coverage", "--profile", "job_seekers", "--gtfs", feed,
                     "--quiet", "--out", tmp_path / "out")  # fmt: skip
    user_error(rc, err, "--gtfs", "public transport")


def test_run_03_real_only_run_after_a_plain_run(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(settings, "output_dir", tmp_path)
    assert cli(capsys, "coverage", "--profile", "job_seekers", "--quiet")[0] == 0
    plain = snapshot(tmp_path / "job_seekers_road_30min")
    rc, _, err = cli(capsys, "coverage", "--profile", "job_seekers", "--real-only", "--quiet")
    assert rc == 0, err
    assert (tmp_path / "job_seekers_road_30min_real-only" / "summary.csv").is_file()
    assert snapshot(tmp_path / "job_seekers_road_30min") == plain  # the first run untouched


def test_run_04_two_runs_into_one_folder_at_once(small_result, tmp_path):
    from analysis.present import outputs, verify_output_set

    out = tmp_path / "out"
    export(small_result, out)
    (out / outputs.LOCK_NAME).write_text(str(os.getpid()))  # a live run holds the folder
    with pytest.raises(OverwriteRefusedError, match="another run is writing"):
        export(small_result, out, overwrite=True)
    (out / outputs.LOCK_NAME).unlink()
    assert verify_output_set(out)


def test_run_05_ctrl_c_during_an_overwrite(small_result, tmp_path, monkeypatch):
    from analysis.present import outputs, verify_output_set

    out = tmp_path / "out"
    export(small_result, out)
    old = snapshot(out)
    real = os.replace
    calls = {"n": 0}

    def interrupt(src, dst):
        calls["n"] += 1
        if calls["n"] == len(old) + 2:  # two new files already in place
            raise KeyboardInterrupt
        return real(src, dst)

    monkeypatch.setattr(outputs.os, "replace", interrupt)
    with pytest.raises(KeyboardInterrupt):
        export(small_result, out, overwrite=True)
    monkeypatch.undo()
    assert snapshot(out) == old and verify_output_set(out)


def test_run_06_a_killed_export_is_undone_by_the_next_run(small_result, tmp_path):
    from analysis.present import outputs, verify_output_set

    out = tmp_path / "out"
    export(small_result, out)
    old = snapshot(out)
    backup = out / f"{outputs.BACKUP_PREFIX}dead"
    backup.mkdir()
    (backup / outputs.JOURNAL).write_text(json.dumps({"new": sorted(old)}))
    for name in old:
        os.replace(out / name, backup / name)
    (backup / outputs.OLD_MOVED).touch()
    (out / "summary.csv").write_text("half of a killed run")
    export(small_result, out, overwrite=True)
    assert verify_output_set(out)
    assert not list(out.glob(f"{outputs.BACKUP_PREFIX}*"))


@pytest.mark.parametrize(
    "args",
    [
        ("whatif", "--commune", "43157", "--network", "Mission Locale", "--threshold", "0"),
        ("site-permanences", "--network", "Mission Locale", "--k", "2", "--threshold", "-5"),
        ("caravane", "--base", "43157", "--days", "1", "--profile", "young_16_25",
         "--underserved-min", "nan"),
    ],
)  # fmt: skip
def test_run_07_planner_thresholds_checked_before_loading(capsys, args):
    rc, _, err = cli(capsys, *args)
    user_error(rc, err, "is not a positive number of minutes")


def test_run_08_markdown_in_user_text_shown_as_text():
    from app.page import WORD_JOINER, text

    payload = "![x](http://127.0.0.1:9/beacon.png) [click](http://evil.example) **bold**"
    import markdown_it

    shown = text(payload)
    html = markdown_it.MarkdownIt("commonmark").render(shown)
    assert "<img" not in html and "<a " not in html and "<strong" not in html
    assert shown.replace("\\", "").replace(WORD_JOINER, "") == payload


def test_run_09_unknown_profile_in_a_profiles_file(capsys, tmp_path):
    from analysis.profiles import PROFILES_FILE

    mine = tmp_path / "mine.toml"
    mine.write_text(
        PROFILES_FILE.read_text("utf-8").replace("[profiles.job_seekers", "[profiles.seekers"),
        "utf-8",
    )
    rc, _, err = cli(capsys, "coverage", "--profiles-file", mine, "--profile", "job_seekers",
                     "--quiet", "--out", tmp_path / "out")  # fmt: skip
    user_error(rc, err, "unknown profile 'job_seekers'", "seekers")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("port", ["0", "70000", "http"])
def test_run_10_app_port_out_of_range(capsys, port):
    rc, _, err = cli(capsys, "app", "--port", port, "--headless")
    user_error(rc, err, "port number")


@pytest.mark.parametrize(
    "command",
    [
        ("coverage", "--profile", "job_seekers"),
        ("site-permanences", "--network", "CIO", "--k", "1"),
    ],
)
def test_run_11_empty_out(capsys, command):
    rc, _, err = cli(capsys, *command, "--out", "")
    user_error(rc, err, "the output folder is empty")


def test_run_12_profile_key_that_is_no_folder_name(capsys, tmp_path, monkeypatch):
    from analysis.runs import default_out_dir

    monkeypatch.setattr(settings, "output_dir", tmp_path / "outputs")
    from analysis.errors import ValidationError

    with pytest.raises(ValidationError, match="cannot name an output folder"):
        default_out_dir("../../etc", "road", 30)
    assert not (tmp_path / "etc").exists()
