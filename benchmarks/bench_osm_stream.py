"""``build_osm_graph`` on synthetic regional PBF extracts: streaming reader against osmnx/pyrosm.

Writes synthetic ``.osm.pbf`` extracts of realistic shape with pyosmium's ``SimpleWriter``
at three sizes (``--sizes``, raw road nodes, default 1 M, 3 M and 8.4 M): a jittered
street grid whose blocks are curvy (intermediate nodes), streets cut into ways of a few
blocks with mixed classes and ``maxspeed`` tags, one-way streets and a ``oneway=-1``
share, motorway carriageways (one-way) every 40 rows, cul-de-sacs, footways and service
driveways the drive filter must drop, and building outlines (closed ways with their own
nodes) as bulk the reader must skip.

Each extract is written, and each build runs, in its own child process
(``python bench_osm_stream.py --child ...``), which reports its own peak RSS (``VmHWM``
of ``/proc/self/status``: ``ru_maxrss`` would include the parent's peak), the time
of ``build_osm_graph(osm_file=..., reader=...)`` (read, simplify, speeds, CSR, largest
SCC, extent, cache write) and the time of the cached reload (a second call). Both readers
run in the same invocation on the same files, so the ratios compare like with like.

The old reader (pyrosm -> networkx) at the largest size needed 13 GiB and 5.5 minutes
on this 2-core machine; it is run there only if ``/proc/meminfo`` shows more than
``--old-max-gib-available`` (17 GiB) available, else it is measured at the smaller sizes
and extrapolated linearly (the script says so). A least-squares line through the
measured points gives the slope (seconds and GiB per million raw road nodes, and per
million drive-graph nodes) and the extrapolation to a 2.5 M-node regional drive graph.

Run: ``.venv/bin/python benchmarks/bench_osm_stream.py [--sizes 1e6,3e6,8.4e6] [--json out]``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from array import array
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parent.parent))

#: Lon/lat of the grid's south-west corner (Isère-like) and the block size in degrees.
LON0, LAT0 = 5.0, 45.0
DLON, DLAT = 0.0019, 0.00135  # about 150 m each way
#: Intermediate (shape) nodes per block edge.
SHAPE = 3
#: Blocks per way along a street.
WAY_BLOCKS = 6

CLASSES = ["residential", "residential", "residential", "unclassified", "tertiary",
           "secondary", "primary", "living_street"]  # fmt: skip
SPEEDS = [None, None, None, "30", "50", "FR:urban", "70", "80", "90", "FR:zone30"]


def _grid_side(raw_nodes: float) -> int:
    # Raw road nodes ~ side**2 (intersections) + 2 * side**2 * SHAPE (shape nodes) + extras.
    return max(10, round(math.sqrt(raw_nodes / (1 + 2 * SHAPE) / 1.02)))


def write_extract(
    path: Path, raw_nodes: float, seed: int = 1, extra_buildings: int = 0
) -> dict[str, int]:
    """Write a synthetic regional extract with about ``raw_nodes`` road nodes.

    ``extra_buildings`` more building outlines per block make a file with the same roads
    and more non-road bulk (real extracts hold far more of it per road than the default).
    """
    import osmium
    from osmium.osm.mutable import Node, Way

    rng = np.random.default_rng(seed)
    side = _grid_side(raw_nodes)
    nid = 0
    wid = 0
    counts = {"road_nodes": 0, "other_nodes": 0, "drive_ways": 0, "other_ways": 0}
    if path.exists():
        path.unlink()
    h = osmium.io.Header()
    h.set("generator", "bench_osm_stream")
    ts = "2026-01-20T21:21:02Z"
    # Real extracts are sorted: every node (by id), then every way. The PBF writer starts
    # a new block whenever the object type changes, so nodes and ways are buffered here
    # and written in that order (interleaving them would give one tiny block per object).
    node_xy = array("d")
    ways: list[tuple[list[int], dict[str, str]]] = []

    class _Buffer:
        def add_node(self, node: Node) -> None:
            assert node.id == len(node_xy) // 2 + 1
            node_xy.append(node.location[0])
            node_xy.append(node.location[1])

        def add_way(self, way: Way) -> None:
            ways.append((way.nodes, way.tags))

    w = _Buffer()
    try:
        # Intersections.
        ix = np.arange(side * side, dtype=np.int64).reshape(side, side) + 1
        jit = rng.normal(0, 0.12, size=(side, side, 2))
        gx = LON0 + (np.arange(side)[None, :] + jit[..., 0]) * DLON
        gy = LAT0 + (np.arange(side)[:, None] + jit[..., 1]) * DLAT
        for r in range(side):
            for c in range(side):
                w.add_node(Node(id=int(ix[r, c]), location=(gx[r, c], gy[r, c])))
        nid = side * side
        counts["road_nodes"] += side * side

        def street(ids_a, xs, ys, horizontal: bool, r: int) -> None:
            nonlocal nid, wid
            # Shape nodes between consecutive intersections, on a gentle curve.
            refs: list[int] = []
            n = len(ids_a)
            bend = rng.normal(0, 0.08, size=(n - 1, SHAPE))
            for k in range(n - 1):
                refs.append(int(ids_a[k]))
                for s in range(SHAPE):
                    f = (s + 1) / (SHAPE + 1)
                    x = xs[k] + f * (xs[k + 1] - xs[k])
                    y = ys[k] + f * (ys[k + 1] - ys[k])
                    if horizontal:
                        y += bend[k, s] * DLAT
                    else:
                        x += bend[k, s] * DLON
                    nid += 1
                    w.add_node(Node(id=nid, location=(x, y)))
                    refs.append(nid)
            refs.append(int(ids_a[-1]))
            counts["road_nodes"] += (n - 1) * SHAPE
            motorway = horizontal and r % 40 == 20
            step = WAY_BLOCKS * (SHAPE + 1)
            for start in range(0, len(refs) - 1, step):
                part = refs[start : start + step + 1]
                tags = {}
                if motorway:
                    tags = {"highway": "motorway", "oneway": "yes", "maxspeed": "130"}
                else:
                    tags["highway"] = CLASSES[rng.integers(len(CLASSES))]
                    ms = SPEEDS[rng.integers(len(SPEEDS))]
                    if ms is not None:
                        tags["maxspeed"] = ms
                    u = rng.random()
                    if u < 0.08:
                        tags["oneway"] = "yes"
                    elif u < 0.09:
                        tags["oneway"] = "-1"
                wid += 1
                w.add_way(Way(id=wid, nodes=part, tags=tags, timestamp=ts, version=1))
                counts["drive_ways"] += 1

        for r in range(side):
            street(ix[r, :], gx[r, :], gy[r, :], True, r)
        for c in range(side):
            street(ix[:, c], gx[:, c], gy[:, c], False, -1)
        # Extras per block: a cul-de-sac, a footway, a driveway, a building.
        n_blocks = (side - 1) ** 2
        pick = rng.random(n_blocks)
        rows, cols = np.divmod(np.arange(n_blocks), side - 1)
        for b in range(n_blocks):
            r, c = int(rows[b]), int(cols[b])
            x0 = gx[r, c] + 0.5 * DLON
            y0 = gy[r, c] + 0.5 * DLAT
            p = pick[b]
            if p < 0.15:  # cul-de-sac from the block's corner
                nid += 1
                w.add_node(Node(id=nid, location=(x0, y0)))
                wid += 1
                tags = {"highway": "residential"}
                w.add_way(Way(id=wid, nodes=[int(ix[r, c]), nid], tags=tags))
                counts["road_nodes"] += 1
                counts["drive_ways"] += 1
            elif p < 0.45:  # footway or driveway across the block (dropped)
                nid += 2
                w.add_node(Node(id=nid - 1, location=(x0 - 0.2 * DLON, y0)))
                w.add_node(Node(id=nid, location=(x0 + 0.2 * DLON, y0)))
                tags = (
                    {"highway": "footway"} if p < 0.35
                    else {"highway": "service", "service": "driveway"}
                )  # fmt: skip
                wid += 1
                w.add_way(Way(id=wid, nodes=[int(ix[r, c]), nid - 1, nid], tags=tags,
                              timestamp=ts, version=1))  # fmt: skip
                counts["other_nodes"] += 2
                counts["other_ways"] += 1
            for extra in range(int(p > 0.4) + extra_buildings):  # building outlines
                first = nid + 1
                off = 0.02 * (extra % 7)
                for dx, dy in ((off, 0), (off + 0.1, 0), (off + 0.1, 0.1), (off, 0.1)):
                    nid += 1
                    bx, by = x0 + dx * DLON, y0 - 0.3 * DLAT + dy * DLAT
                    w.add_node(Node(id=nid, location=(bx, by)))
                wid += 1
                w.add_way(Way(id=wid, nodes=[first, first + 1, first + 2, first + 3, first],
                              tags={"building": "yes"}, timestamp=ts, version=1))  # fmt: skip
                counts["other_nodes"] += 4
                counts["other_ways"] += 1
    finally:
        del ix
    out = osmium.SimpleWriter(str(path), header=h)
    try:
        xy = np.frombuffer(node_xy, dtype=np.float64).reshape(-1, 2)
        for i in range(len(xy)):
            out.add_node(Node(id=i + 1, location=(xy[i, 0], xy[i, 1])))
        del xy
        for k, (refs, tags) in enumerate(ways):
            out.add_way(Way(id=k + 1, nodes=refs, tags=tags, timestamp=ts, version=1))
    finally:
        out.close()
    counts["file_bytes"] = path.stat().st_size
    counts["grid_side"] = side
    return counts


def _child(args: argparse.Namespace) -> None:
    """Run one build in this (fresh) process and print a JSON line."""
    import warnings

    warnings.filterwarnings("ignore")
    from analysis.osm import build_osm_graph

    cache_dir = Path(args.cache_dir)
    t0 = time.perf_counter()
    cached, _ = build_osm_graph(osm_file=args.file, cache_dir=cache_dir, reader=args.reader)
    t_build = time.perf_counter() - t0
    peak_build = _peak_rss_bytes()
    g = cached.graph
    n, m = g.n_nodes, g.n_edges
    del cached, g
    t0 = time.perf_counter()
    again, path = build_osm_graph(osm_file=args.file, cache_dir=cache_dir, reader=args.reader)
    t_reload = time.perf_counter() - t0
    from analysis.osm import cache

    t0 = time.perf_counter()
    cache.load_graph(path)  # what load_cached_osm_model reads (no hash of the extract)
    t_load = time.perf_counter() - t0
    print(
        "RESULT "
        + json.dumps(
            {
                "reader": args.reader,
                "build_s": t_build,
                "reload_s": t_reload,
                "cache_load_s": t_load,
                "peak_rss_bytes": peak_build,
                "nodes": n,
                "edges": m,
                "reload_nodes": again.graph.n_nodes,
            }
        ),
        flush=True,
    )


def _peak_rss_bytes() -> int:
    """This process's peak RSS: ``VmHWM`` of ``/proc/self/status``.

    Not ``ru_maxrss``: on Linux that survives ``execve`` and, with the ``vfork`` that
    ``subprocess`` uses, starts at the parent's own peak (the parent that wrote a large
    extract would be counted in every child).
    """
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _write_child(args: argparse.Namespace) -> None:
    counts = write_extract(Path(args.file), args.size, seed=args.seed,
                           extra_buildings=args.extra_buildings)  # fmt: skip
    print("RESULT " + json.dumps(counts), flush=True)


def _write(f: Path, size: float, seed: int, extra: int) -> dict:
    """Write an extract in a child process (the parent stays small)."""
    cmd = [sys.executable, str(HERE), "--write-child", "--file", str(f), "--size", str(size),
           "--seed", str(seed), "--extra-buildings", str(extra)]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    line = [x for x in out.stdout.splitlines() if x.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT ") :])


def _available_gib() -> float:
    with open("/proc/meminfo", encoding="ascii") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 2**20
    return float("nan")


def _run_child(file: Path, reader: str, cache_dir: Path, timeout: float) -> dict | None:
    cmd = [sys.executable, str(HERE), "--child", "--file", str(file), "--reader", reader,
           "--cache-dir", str(cache_dir)]  # fmt: skip
    t0 = time.perf_counter()
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        print(f"  {reader}: killed after {timeout:.0f} s", flush=True)
        return None
    wall = time.perf_counter() - t0
    lines = [x for x in out.stdout.splitlines() if x.startswith("RESULT ")]
    if out.returncode != 0 or not lines:
        print(f"  {reader}: failed (rc {out.returncode}): {out.stderr[-2000:]}", flush=True)
        return None
    res = json.loads(lines[-1][len("RESULT ") :])
    res["child_wall_s"] = wall
    return res


def _fit(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """Least-squares line y = a + b x (b = slope)."""
    if len(xs) == 1:
        return 0.0, ys[0] / xs[0]
    b, a = np.polyfit(np.asarray(xs), np.asarray(ys), 1)
    return float(a), float(b)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--write-child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--size", type=float, help=argparse.SUPPRESS)
    ap.add_argument("--seed", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--file", help=argparse.SUPPRESS)
    ap.add_argument("--reader", help=argparse.SUPPRESS)
    ap.add_argument("--cache-dir", help=argparse.SUPPRESS)
    ap.add_argument("--sizes", default="1e6,3e6,8.4e6", help="raw road nodes per extract")
    ap.add_argument(
        "--old-max-gib-available",
        type=float,
        default=17.0,
        help="run the old reader at the largest size only above this (GiB)",
    )
    ap.add_argument("--old-timeout", type=float, default=600.0, help="seconds per old build")
    ap.add_argument("--no-old", action="store_true", help="only the streaming reader")
    ap.add_argument(
        "--extra-buildings", type=int, default=0, help="more building outlines per block"
    )
    ap.add_argument("--workdir", help="where the extracts are written (default: a temp dir)")
    ap.add_argument("--json", help="write the results to this JSON file")
    args = ap.parse_args()
    if args.child:
        _child(args)
        return
    if args.write_child:
        _write_child(args)
        return
    sizes = [float(s) for s in args.sizes.split(",")]
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="bench_osm_"))
    work.mkdir(parents=True, exist_ok=True)
    t_all = time.perf_counter()
    rows = []
    for i, size in enumerate(sizes):
        f = work / f"synthetic_{int(size)}.osm.pbf"
        t0 = time.perf_counter()
        counts = _write(f, size, i + 1, args.extra_buildings)
        print(
            f"extract {f.name}: {counts['road_nodes']:,} raw road nodes, "
            f"{counts['drive_ways']:,} drivable ways, {counts['other_nodes']:,} other nodes, "
            f"{counts['file_bytes'] / 2**20:,.1f} MiB "
            f"(written in {time.perf_counter() - t0:.0f} s)",
            flush=True,
        )
        row = {"size": size, **counts}
        readers = ["stream"] if args.no_old else ["stream", "osmnx"]
        for reader in readers:
            largest = i == len(sizes) - 1
            if reader == "osmnx" and largest:
                avail = _available_gib()
                if avail <= args.old_max_gib_available:
                    print(
                        f"  osmnx: NOT run at this size ({avail:.1f} GiB available <= "
                        f"{args.old_max_gib_available:.0f}); extrapolated from the smaller sizes",
                        flush=True,
                    )
                    row["osmnx"] = None
                    continue
            cache_dir = work / f"cache_{reader}_{int(size)}"
            res = _run_child(f, reader, cache_dir, args.old_timeout if reader == "osmnx" else 1800)
            row[reader] = res
            if res:
                print(
                    f"  {reader:6s}: build {res['build_s']:7.1f} s, peak RSS "
                    f"{res['peak_rss_bytes'] / 2**30:5.2f} GiB, {res['nodes']:,} nodes / "
                    f"{res['edges']:,} edges, cached reload {res['reload_s']:.2f} s "
                    f"(graph file alone {res.get('cache_load_s', float('nan')):.2f} s)",
                    flush=True,
                )
        s, o = row.get("stream"), row.get("osmnx")
        if s and o:
            print(
                f"  ratio old/new: time {o['build_s'] / s['build_s']:.1f}x, peak RSS "
                f"{o['peak_rss_bytes'] / s['peak_rss_bytes']:.1f}x; node counts "
                f"{s['nodes']:,} vs {o['nodes']:,}",
                flush=True,
            )
        rows.append(row)
        f.unlink()  # keep the disk free; the extracts are re-created deterministically
    print(f"\ntotal benchmark time {time.perf_counter() - t_all:.0f} s")
    summary: dict = {"rows": rows}
    for reader in ("stream", "osmnx"):
        pts = [(r["road_nodes"], r[reader]) for r in rows if r.get(reader)]
        if not pts:
            continue
        raw = [p[0] / 1e6 for p in pts]
        drive = [p[1]["nodes"] / 1e6 for p in pts]
        secs = [p[1]["build_s"] for p in pts]
        gib = [p[1]["peak_rss_bytes"] / 2**30 for p in pts]
        a_t, b_t = _fit(drive, secs)
        a_m, b_m = _fit(drive, gib)
        b_tr = _fit(raw, secs)[1]
        b_mr = _fit(raw, gib)[1]
        ext_t = a_t + b_t * 2.5
        ext_m = a_m + b_m * 2.5
        summary[reader] = {
            "s_per_M_drive_nodes": b_t, "gib_per_M_drive_nodes": b_m,
            "s_per_M_raw_nodes": b_tr, "gib_per_M_raw_nodes": b_mr,
            "extrapolated_2.5M_drive_nodes_s": ext_t, "extrapolated_2.5M_drive_nodes_gib": ext_m,
            "points": len(pts),
        }  # fmt: skip
        print(
            f"{reader:6s}: slope {b_t:.1f} s and {b_m:.2f} GiB per M drive-graph nodes "
            f"({b_tr:.1f} s, {b_mr:.2f} GiB per M raw road nodes; {len(pts)} points); "
            f"at a 2.5 M-node drive graph: {ext_t / 60:.1f} min, {ext_m:.1f} GiB",
            flush=True,
        )
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2, default=float))
    os.environ.pop("SPRO_OSM_READER", None)


if __name__ == "__main__":
    main()
