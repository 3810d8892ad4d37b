"""Durable outputs: atomic writes, interrupted ``prepare``, corrupt caches, safe exports.

- A checksummed artefact killed (SIGKILL) at any step of its write still verifies, as
  the old or the new version, never a mix (:func:`analysis.io.write_with_checksum`).
- ``spro-access prepare`` killed while writing the estimated network leaves the previous
  artefacts byte-identical and usable; the next run rebuilds what was missing, and the
  temporary file the kill left behind is removed by a later ``prepare``.
- ``prepare`` interrupted by Ctrl-C exits with code 130 and a one-line message.
- Corrupt caches (a flipped byte, a truncated or empty file, a missing or garbled
  checksum) are detected and rebuilt, giving the same answer as a fresh build.
- Exports refuse to overwrite without ``overwrite``/``--overwrite`` before writing
  anything, and an export interrupted half-way leaves every file whole (old or new).
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis import settings
from analysis.errors import OverwriteRefusedError
from analysis.io import sha256_file, stale_temp_files, verify_checksum, write_with_checksum
from analysis.manifest import DIGEST_CACHE_NAME

ROOT = Path(__file__).resolve().parent.parent
HAS_MIRROR = (settings.shared_data_dir / "access_points").is_dir()
needs_mirror = pytest.mark.skipif(not HAS_MIRROR, reason="needs the local data mirror")

#: Artefacts of the base state (`prepare` without OSM or transit), by file-name prefix.
BASE_PREFIXES = ("commune_adjacency_", "sites_bundled_", "estimated_network_")


def run_until_ready(script: str, env: dict[str, str] | None = None, timeout: float = 120.0):
    """Run ``script`` in a fresh interpreter; SIGKILL it when it prints READY.

    Returns the lines it printed. Fails if it ends without printing READY.
    """
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script)],
        cwd=ROOT,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    try:
        for line in proc.stdout:  # type: ignore[union-attr]
            lines.append(line.rstrip("\n"))
            if line.startswith("READY"):
                proc.send_signal(signal.SIGKILL)
                break
            if time.monotonic() > deadline:  # pragma: no cover - a hung child
                break
    finally:
        if proc.poll() is None:
            proc.kill()
        _, err = proc.communicate(timeout=30)
    assert any(x.startswith("READY") for x in lines), f"never got ready: {lines}\n{err}"
    assert proc.returncode == -signal.SIGKILL
    return lines


# =========================================================================== atomic pair
KILL_SCRIPT = """
import os, sys, time
from pathlib import Path
import analysis.io as aio

target, stop_at = Path({target!r}), {stop_at}
calls = 0
real_replace = os.replace

def replace(src, dst):
    global calls
    calls += 1
    if calls == stop_at:
        print("READY", calls, dst, flush=True)
        time.sleep(120)
    return real_replace(src, dst)

os.replace = replace

def writer(tmp):
    with open(tmp, "wb") as f:
        f.write(b"NEW" * 50_000)
        if stop_at == 0:  # half-way through the content
            f.flush()
            print("READY writing", flush=True)
            time.sleep(120)
        f.write(b"END")

aio.write_with_checksum(target, writer)
print("DONE", flush=True)
"""


@pytest.mark.parametrize(
    ("stop_at", "expected"),
    [
        (0, "old"),  # killed while writing the new content
        (1, "old"),  # ... before the sidecar accepting both digests is in place
        (2, "old"),  # ... before the new content is renamed over the artefact
        (3, "new"),  # ... before the sidecar accepting only the new digest is in place
    ],
)
def test_checksummed_write_killed_at_any_step_leaves_a_valid_pair(tmp_path, stop_at, expected):
    target = tmp_path / "artefact.npz"
    old = b"OLD" * 1000
    write_with_checksum(target, lambda t: t.write_bytes(old))
    run_until_ready(KILL_SCRIPT.format(target=str(target), stop_at=stop_at))
    assert verify_checksum(target)
    content = target.read_bytes()
    assert content == (old if expected == "old" else b"NEW" * 50_000 + b"END")
    # A rerun completes the write; the leftover temporary file is never read.
    write_with_checksum(target, lambda t: t.write_bytes(b"again"))
    assert verify_checksum(target) and target.read_bytes() == b"again"
    leftovers = stale_temp_files(tmp_path, older_than_s=0)
    assert all(p.name.startswith(".artefact.") for p in leftovers)


def test_stale_temporary_files_are_listed_only_when_old(tmp_path):
    fresh = tmp_path / ".estimated_network_abc.k2j4h1x9.npz"
    old = tmp_path / ".sites_bundled_123.a_b0c9d8.parquet"
    keep = [tmp_path / ".gitkeep", tmp_path / "estimated_network_abc.npz", tmp_path / ".x.y"]
    for p in [fresh, old, *keep]:
        p.write_bytes(b"x")
    past = time.time() - 7200
    os.utime(old, (past, past))
    assert stale_temp_files(tmp_path) == [old]
    assert sorted(stale_temp_files(tmp_path, older_than_s=0)) == sorted([fresh, old])


# =========================================================================== prepare
@pytest.fixture(scope="module")
def base_state(tmp_path_factory):
    """A processed-data folder holding a good base state (copied from the real caches)."""
    from analysis.adjacency import commune_adjacency
    from analysis.communes import load_communes
    from analysis.estimated.network import load_or_build_estimated_network
    from analysis.sites.directory import load_bundled_directory

    communes = load_communes()
    commune_adjacency(communes)
    load_bundled_directory()
    model = load_or_build_estimated_network(communes)
    folder = tmp_path_factory.mktemp("processed")
    from analysis.estimated.network import EstimatedNetworkParams, inputs_key

    current = f"estimated_network_{inputs_key(communes, EstimatedNetworkParams())}.npz"
    for p in Path(settings.processed_data_dir).iterdir():
        if p.name.startswith("estimated_network_") and p.name != current:
            continue  # a cache of other inputs or parameters: not this state's network
        if p.name.startswith(BASE_PREFIXES) and p.suffix in (".npz", ".parquet"):
            if verify_checksum(p):
                shutil.copy2(p, folder / p.name)
                shutil.copy2(p.with_name(p.name + ".sha256"), folder / (p.name + ".sha256"))
    for prefix in BASE_PREFIXES:
        assert any(f.name.startswith(prefix) for f in folder.iterdir()), prefix
    # the digest cache of the input files (analysis.manifest), warm as after any earlier run
    digests = Path(settings.processed_data_dir) / DIGEST_CACHE_NAME
    if digests.is_file():
        shutil.copy2(digests, folder / DIGEST_CACHE_NAME)
    return folder, communes, model


def snapshot(folder: Path) -> dict[str, str]:
    return {p.name: sha256_file(p) for p in sorted(folder.iterdir()) if p.is_file()}


PREPARE_SCRIPT = """
import os, time
real_replace = os.replace

def replace(src, dst):
    name = os.path.basename(str(dst))
    if name.startswith("estimated_network_") and name.endswith(".npz"):
        print("READY", src, flush=True)  # the new network is written, not yet in place
        time.sleep(120)
    return real_replace(src, dst)

os.replace = replace
from analysis.cli import main
main(["prepare", "--quiet"])
print("DONE", flush=True)
"""


@needs_mirror
def test_prepare_killed_while_writing_keeps_the_previous_state_usable(base_state, tmp_path):
    from analysis.estimated.network import load_or_build_estimated_network
    from analysis.prepare import prepare

    src, communes, reference = base_state
    folder = tmp_path / "processed"
    shutil.copytree(src, folder)
    network = next(folder.glob("estimated_network_*.npz"))
    network.unlink()  # this run has to (re)build it
    network.with_name(network.name + ".sha256").unlink()
    before = snapshot(folder)

    lines = run_until_ready(PREPARE_SCRIPT, env={"SPRO_PROCESSED_DATA": str(folder)})
    temp = Path(lines[-1].split()[1])

    # Everything that was there is untouched and verifies; nothing half-done is in place.
    after = snapshot(folder)
    assert {k: v for k, v in after.items() if k in before} == before
    # New: the killed write's temporary file, and the new network's sidecar (written first;
    # it accepts a content that is not in place, so nothing verifies as the network).
    assert set(after) - set(before) <= {temp.name, network.name + ".sha256"}
    # (the digest cache has no sidecar: a garbled one is only a cache miss, see MIR-03)
    artefacts = [n for n in before if not n.endswith(".sha256") and n != DIGEST_CACHE_NAME]
    assert all(verify_checksum(folder / n) for n in artefacts)
    assert not network.exists()

    # The next use rebuilds the missing network: same answer as the reference build.
    model = load_or_build_estimated_network(communes, cache_dir=folder)
    assert verify_checksum(network)
    np.testing.assert_array_equal(model.graph.weights, reference.graph.weights)
    np.testing.assert_array_equal(model.origin_offsets_s, reference.origin_offsets_s)

    # A later prepare removes the killed write's leftover (once it is an hour old).
    past = time.time() - 7200
    os.utime(temp, (past, past))
    old_dir = settings.processed_data_dir
    settings.processed_data_dir = folder
    try:
        report = prepare(verbose=False)
    finally:
        settings.processed_data_dir = old_dir
    assert report[0] == "removed 1 temporary file(s) left by an interrupted run"
    assert not temp.exists()
    final = snapshot(folder)
    assert {k: final.get(k) for k in before} == before
    assert verify_checksum(network)


@needs_mirror
def test_prepare_interrupted_by_ctrl_c(base_state, tmp_path, monkeypatch, capsys):
    import analysis.estimated.network as en
    from analysis.cli import main

    src, *_ = base_state
    folder = tmp_path / "processed"
    shutil.copytree(src, folder)
    next(folder.glob("estimated_network_*.npz")).unlink()
    before = snapshot(folder)
    monkeypatch.setattr(settings, "processed_data_dir", folder)

    def interrupted(tmp, model):
        raise KeyboardInterrupt

    monkeypatch.setattr(en, "_write_model", interrupted)
    assert main(["prepare", "--quiet"]) == 130
    err = capsys.readouterr().err
    assert "interrupted" in err and "Traceback" not in err
    assert snapshot(folder) == before


# =========================================================================== corrupt caches
def flip_byte(p: Path) -> None:
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0xFF
    p.write_bytes(bytes(data))


CORRUPTIONS = {
    "flipped byte": flip_byte,
    "truncated": lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]),
    "empty": lambda p: p.write_bytes(b""),
    "sidecar missing": lambda p: p.with_name(p.name + ".sha256").unlink(),
    "sidecar garbled": lambda p: p.with_name(p.name + ".sha256").write_bytes(b"\xff\xfe\x00"),
    "sidecar of another file": lambda p: p.with_name(p.name + ".sha256").write_text("0" * 64),
}


@pytest.fixture(scope="module")
def haute_loire():
    from analysis.communes import load_communes

    c = load_communes()
    return c[c["dep"] == "43"].reset_index(drop=True)


@pytest.mark.parametrize("how", list(CORRUPTIONS))
def test_corrupt_estimated_network_cache_is_detected_and_rebuilt(
    haute_loire, tmp_path, how, caplog
):
    from analysis.estimated.network import load_or_build_estimated_network

    first = load_or_build_estimated_network(haute_loire, cache_dir=tmp_path)
    (path,) = tmp_path.glob("estimated_network_*.npz")
    CORRUPTIONS[how](path)
    assert not verify_checksum(path)
    with caplog.at_level(logging.WARNING, logger="analysis.estimated.network"):
        again = load_or_build_estimated_network(haute_loire, cache_dir=tmp_path)
    assert verify_checksum(path)  # rebuilt and recorded again
    np.testing.assert_array_equal(again.graph.indptr, first.graph.indptr)
    np.testing.assert_array_equal(again.graph.weights, first.graph.weights)
    np.testing.assert_array_equal(again.origin_offsets_s, first.origin_offsets_s)
    if how in ("flipped byte", "truncated", "empty", "sidecar garbled", "sidecar of another file"):
        assert "fails its checksum; rebuilding" in caplog.text


@pytest.mark.parametrize(
    "garbage",
    [
        b"not an npz at all" * 10,
        b"",  # np.load raises EOFError
        b"PK\x03\x04" + bytes(100),  # a broken zip: BadZipFile (the handle must be closed)
    ],
    ids=["not an npz", "empty", "broken zip"],
)
def test_unreadable_network_cache_with_a_matching_checksum_is_rebuilt(
    haute_loire, tmp_path, garbage
):
    from analysis.estimated.network import load_or_build_estimated_network

    first = load_or_build_estimated_network(haute_loire, cache_dir=tmp_path)
    (path,) = tmp_path.glob("estimated_network_*.npz")
    write_with_checksum(path, lambda t: t.write_bytes(garbage))  # a writer bug, say
    again = load_or_build_estimated_network(haute_loire, cache_dir=tmp_path)
    np.testing.assert_array_equal(again.graph.weights, first.graph.weights)


def test_corrupt_commune_adjacency_cache_is_rebuilt(haute_loire, tmp_path):
    import analysis.adjacency as adj

    i0, j0 = adj.commune_adjacency(haute_loire, cache_dir=tmp_path)
    (path,) = tmp_path.glob("commune_adjacency_*.npz")
    flip_byte(path)
    adj._MEMO.clear()  # forget the in-memory copy: read the disk again
    i1, j1 = adj.commune_adjacency(haute_loire, cache_dir=tmp_path)
    assert verify_checksum(path)
    np.testing.assert_array_equal(i1, i0)
    np.testing.assert_array_equal(j1, j0)


@needs_mirror
def test_corrupt_site_directory_cache_is_rebuilt(base_state, tmp_path, monkeypatch):
    from analysis.sites.directory import load_bundled_directory

    src, *_ = base_state
    folder = tmp_path / "processed"
    folder.mkdir()
    (cache,) = src.glob("sites_bundled_*.parquet")
    shutil.copy2(cache, folder / cache.name)
    shutil.copy2(cache.with_name(cache.name + ".sha256"), folder / (cache.name + ".sha256"))
    monkeypatch.setattr(settings, "processed_data_dir", folder)
    reference = load_bundled_directory()
    flip_byte(folder / cache.name)
    rebuilt = load_bundled_directory()
    assert verify_checksum(folder / cache.name)
    pd.testing.assert_frame_equal(
        pd.DataFrame(rebuilt.drop(columns="geometry")),
        pd.DataFrame(reference.drop(columns="geometry")),
    )


# =========================================================================== exports
@pytest.fixture(scope="module")
def small_result():
    from analysis.coverage import compute_coverage
    from analysis.profiles import Profile
    from analysis.testing import synthetic_region

    region = synthetic_region(6, 5)
    prof = Profile(key="young", label="Young", networks=("Mission Locale",),
                   thresholds_min={"road": 8.0})  # fmt: skip
    return compute_coverage(region.model, region.sites, region.communes, prof)


def export_coverage(result, out, **kw):
    from analysis.present import coverage_output_set, write_output_set

    return write_output_set(out, coverage_output_set(result), **kw)


def test_coverage_export_refuses_to_overwrite_before_writing_anything(small_result, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    mine = out / "clusters.csv"
    mine.write_text("my own clusters\n")
    with pytest.raises(OverwriteRefusedError, match=r"clusters\.csv already exists"):
        export_coverage(small_result, out)
    assert sorted(p.name for p in out.iterdir()) == ["clusters.csv"]
    assert mine.read_text() == "my own clusters\n"
    files = export_coverage(small_result, out, overwrite=True)
    assert mine.read_text() != "my own clusters\n"
    assert set(files.values()) == {p for p in out.iterdir()}


def test_files_outside_the_set_are_never_touched(small_result, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "my notes.txt").write_text("keep me")
    export_coverage(small_result, out)
    export_coverage(small_result, out, overwrite=True)
    assert (out / "my notes.txt").read_text() == "keep me"


@pytest.mark.parametrize("at", ["staging", "old moved", "first new file", "last new file"])
def test_interrupted_export_leaves_the_previous_set_whole(small_result, tmp_path, monkeypatch, at):
    """Ctrl-C at several points of an --overwrite export: the old set stays, whole."""
    import os

    from analysis.present import outputs, verify_output_set

    out = tmp_path / "out"
    export_coverage(small_result, out)
    old = snapshot(out)
    assert verify_output_set(out)
    real_replace = os.replace
    calls = {"n": 0}
    n_files = len(old)

    def interrupting_replace(src, dst):
        calls["n"] += 1
        step = {
            "old moved": n_files + 1,
            "first new file": n_files + 1,
            "last new file": 2 * n_files,
        }
        if at != "staging" and calls["n"] == step[at]:
            raise KeyboardInterrupt
        return real_replace(src, dst)

    def interrupting_stage(staging, s):
        raise KeyboardInterrupt

    if at == "staging":
        monkeypatch.setattr(outputs, "_write_staged", interrupting_stage)
    else:
        monkeypatch.setattr(outputs.os, "replace", interrupting_replace)
    with pytest.raises(KeyboardInterrupt):
        export_coverage(small_result, out, overwrite=True)
    monkeypatch.undo()
    assert snapshot(out) == old  # the same files, the same bytes, nothing left behind
    assert verify_output_set(out)


@pytest.mark.parametrize("phase", ["moving the old set aside", "moving the new set in"])
def test_a_run_killed_mid_swap_is_rolled_back_by_the_next(small_result, tmp_path, phase):
    """SIGKILL cannot be caught: the journal lets the next run put the old set back."""
    import json
    import os

    from analysis.present import outputs, verify_output_set

    out = tmp_path / "out"
    export_coverage(small_result, out)
    old = snapshot(out)
    names = sorted(old)
    # what a run killed half-way through its swap leaves behind
    backup = out / ".spro-previous-dead"
    backup.mkdir()
    (backup / outputs.JOURNAL).write_text(json.dumps({"new": names}))
    if phase == "moving the old set aside":
        for name in names[:2]:
            os.replace(out / name, backup / name)
    else:
        for name in names:
            os.replace(out / name, backup / name)
        (backup / outputs.OLD_MOVED).touch()
        (out / names[0]).write_text("the first file of the new set")
    (out / outputs.LOCK_NAME).write_text("999999999")  # its lock; its process is gone
    with pytest.raises(OverwriteRefusedError, match="already exists"):
        export_coverage(small_result, out)  # recovered, then refused: nothing overwritten
    assert snapshot(out) == old and verify_output_set(out)


def test_two_runs_into_one_folder_never_mix(tmp_path):
    """Two processes exporting into the same folder at once: one whole set, never a mix."""
    import subprocess
    import sys

    from analysis.present import verify_output_set

    out = tmp_path / "out"
    code = (
        "import sys; from analysis.testing import synthetic_region;"
        "from analysis.profiles import Profile; from analysis.coverage import compute_coverage;"
        "from analysis.present import coverage_output_set, write_output_set;"
        "r = synthetic_region(6, 5);"
        "p = Profile(key='young', label='Young', networks=('Mission Locale',),"
        " thresholds_min={'road': float(sys.argv[1])});"
        "res = compute_coverage(r.model, r.sites, r.communes, p);"
        "[write_output_set(sys.argv[2], coverage_output_set(res), overwrite=True)"
        " for _ in range(5)]"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, thr, str(out)], stderr=subprocess.PIPE)
        for thr in ("8", "12")
    ]
    errs = [p.communicate(timeout=300)[1].decode() for p in procs]
    for p, err in zip(procs, errs, strict=True):  # success, or refused for the lock
        assert p.returncode == 0 or "another run is writing" in err, err
    assert verify_output_set(out)
    thresholds = {
        float(pd.read_csv(out / name)["threshold_min"].iloc[0])
        for name in ("communes.csv", "summary.csv")
        if "threshold_min" in pd.read_csv(out / name).columns
    }
    assert len(thresholds) == 1


def test_whatif_export_refuses_to_overwrite(tmp_path):
    from analysis.planning.whatif import what_if
    from analysis.profiles import Profile
    from analysis.testing import synthetic_region

    region = synthetic_region(6, 5)
    prof = Profile(key="young", label="Young", networks=("Mission Locale",),
                   thresholds_min={"road": 8.0})  # fmt: skip
    c = region.communes.iloc[7]
    cands = pd.DataFrame(
        {"name": ["A"], "network": ["Mission Locale"], "x_l93": [c["x_l93"]], "y_l93": [c["y_l93"]]}
    )
    res = what_if(region.model, region.sites, region.communes, cands, profiles=[prof])
    out = tmp_path / "whatif"
    res.export(out)
    before = snapshot(out)
    (out / "map.html").write_text("my annotated map")
    before["map.html"] = sha256_file(out / "map.html")
    with pytest.raises(OverwriteRefusedError, match="--overwrite"):
        res.export(out)
    assert snapshot(out) == before
