#!/usr/bin/env python3
"""Two groupscout binaries measured against each other in one run (issue 17).

Each figure is taken for the baseline and the candidate alternately within every round
(the order flips from round to round, so neither always runs on a cooler machine), the
medians over rounds are printed side by side with the ratio candidate / baseline, and
the same figures are written as JSON.

  python3 bench/perf.py --baseline /work/groupscout-base --candidate target/release/groupscout \
      --world bench-data/world-1000000.jsonl [--world2 heavy.jsonl] --work DIR \
      [--only import,reindex,rss,http,inproc] [--rounds N] [--json out.json]

Parts:
  import   `import WORLD` into a fresh database: wall seconds, lines/s, max RSS (also --world2)
  reindex  `reindex` of each binary's own database into a fresh index: wall seconds, documents
  rss      `serve`: VmRSS once caught up, VmRSS and VmHWM after the HTTP load, KB per document
  http     wrk -t2 -c8 over plain text, text within 10 km, and nearby URLs built from the world,
           against both servers running side by side, alternating run by run
  inproc   `bench --reuse-index --only text` on each binary's own database and index

Each binary keeps its database and index under WORK/<role>/ named as `bench` expects them
(bench-N.db, index-N, N = the world's groups), so index formats never mix and the
in-process bench finds them without importing again. Standard library only, plus wrk and
/usr/bin/time.
"""

import argparse
import contextlib
import json
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from pathlib import Path

PARTS = ["import", "reindex", "rss", "http", "inproc"]
ROLES = ["baseline", "candidate"]
HERE = Path(__file__).resolve().parent
# The in-process kinds worth comparing (names as `bench` prints them).
INPROC_KINDS = ["text, top 20", "text, top 20, no caches", "text + 10 km, ranked"]
HTTP_KINDS = ["plain", "radius", "nearby"]


class PerfError(Exception):
    """A failure worth one clear line (a command that failed, a server that never came up)."""


def log(msg):
    print(f"[perf {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def run(cmd, cwd, env=None):
    """Runs a command to the end; returns (wall seconds, stdout, stderr) or raises PerfError."""
    started = time.monotonic()
    p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.monotonic() - started
    if p.returncode != 0:
        tail = "\n".join((p.stderr or p.stdout).strip().splitlines()[-15:])
        raise PerfError(f"`{' '.join(map(str, cmd))}` exited {p.returncode}:\n{tail}")
    return wall, p.stdout, p.stderr


def remove(path):
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def remove_db(db):
    for suffix in ["", "-wal", "-shm", "-journal"]:
        remove(Path(str(db) + suffix))


# ---------------------------------------------------------------- the world

class World:
    """What the script needs from a world file: its size and, for the URL lists, each
    located group's name and place."""

    def __init__(self, path, keep_groups):
        self.path = path
        self.lines = 0
        self.groups = 0
        self.located = []  # (name, lat, lon)
        with open(path, encoding="utf-8") as f:
            for line in f:
                self.lines += 1
                # Cheap filter first: only group lines need parsing.
                if '"group"' not in line:
                    continue
                g = json.loads(line)
                if g.get("type") != "group":
                    continue
                self.groups += 1
                loc = g.get("location")
                if keep_groups and loc and g.get("discoverable", True):
                    self.located.append((g["name"], loc["lat"], loc["lon"]))


def is_cjk(c):
    o = ord(c)
    return 0x3400 <= o <= 0x4DBF or 0x4E00 <= o <= 0x9FFF or 0xF900 <= o <= 0xFAFF or 0x20000 <= o <= 0x2FFFF


def bigrams(name):
    """The 2-character CJK words of a name (the index holds every CJK bigram of a name, so
    each of these finds at least its own group)."""
    return {name[i:i + 2] for i in range(len(name) - 1) if is_cjk(name[i]) and is_cjk(name[i + 1])}


def url_lists(world, count, seed=7):
    """URL lists per kind, one query per sampled located group: a word of its name (every
    other query the name's most common bigram across the world, otherwise its rarest, so
    the mix has both large and small match sets) and its place moved by up to ~2 km, as
    `groupscout bench` does, so a query within 10 km finds at least that group."""
    df = Counter()
    for name, _, _ in world.located:
        df.update(bigrams(name))
    rng = random.Random(seed)
    lists = {k: [] for k in HTTP_KINDS}
    candidates = [g for g in world.located if bigrams(g[0])]
    if not candidates:
        raise PerfError(f"{world.path}: no located group with a 2-character CJK word in its name")
    for i in range(count):
        name, lat, lon = rng.choice(candidates)
        words = sorted(bigrams(name), key=lambda w: (df[w], w))
        word = words[-1] if i % 2 == 0 else words[0]
        lat += rng.uniform(-0.02, 0.02)
        lon += rng.uniform(-0.02, 0.02)
        q = urllib.parse.quote(word)
        lists["plain"].append(f"/v1/search?q={q}")
        lists["radius"].append(f"/v1/search?q={q}&lat={lat:.5f}&lon={lon:.5f}&radius_km=10")
        lists["nearby"].append(f"/v1/nearby?lat={lat:.5f}&lon={lon:.5f}&radius_km=5")
    return lists


# ---------------------------------------------------------------- one binary

class Binary:
    """One binary with its own directory, database and index."""

    def __init__(self, role, exe, work, groups):
        self.role = role
        self.exe = str(Path(exe).resolve())
        self.dir = work / role
        self.dir.mkdir(parents=True, exist_ok=True)
        self.db = self.dir / f"bench-{groups}.db"
        self.index = self.dir / f"index-{groups}"
        self.state_path = self.dir / "state.json"

    def cmd(self, *args, db=None, index=None):
        return [self.exe, "--db", str(db or self.db), "--index", str(index or self.index), *args]

    def run(self, *args, **kw):
        # In its own directory: no groupscout.toml or data/ of the caller's directory is
        # picked up, and the secrets it creates stay there.
        return run(self.cmd(*args, **kw), cwd=self.dir)

    def state(self):
        return json.loads(self.state_path.read_text()) if self.state_path.exists() else {}

    def save_state(self, **kw):
        s = self.state()
        s.update(kw)
        self.state_path.write_text(json.dumps(s))

    def require_db(self):
        if not self.db.exists():
            raise PerfError(f"{self.role}: no database at {self.db}: include `import` in --only")

    def require_index(self):
        self.require_db()
        if not (self.index / "CURRENT").exists():
            raise PerfError(f"{self.role}: no index at {self.index}: include `reindex` in --only")


def import_once(b, world, db, index):
    """Imports `world` into a fresh `db`: (wall s, lines/s, max RSS bytes). An index built
    from an earlier database goes too: it would not match the new one."""
    remove_db(db)
    remove(index)
    with tempfile.NamedTemporaryFile("r", dir=b.dir, suffix=".time") as t:
        cmd = ["/usr/bin/time", "-v", "-o", t.name, *b.cmd("import", str(world.path.resolve()), db=db, index=index)]
        wall, out, _ = run(cmd, cwd=b.dir)
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", t.read())
    rate = re.search(r"([\d.]+) lines/s", out)
    if not rate or not m:
        raise PerfError(f"{b.role}: cannot read the import summary or its max RSS from: {out.strip()}")
    return wall, float(rate.group(1)), int(m.group(1)) * 1024


def reindex_once(b):
    """Reindexes into a fresh index directory: (wall s, documents)."""
    remove(b.index)
    wall, out, _ = b.run("reindex")
    m = re.search(r"(\d+) documents", out)
    if not m:
        raise PerfError(f"{b.role}: cannot read the reindex summary: {out.strip()}")
    return wall, int(m.group(1))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_status(pid):
    """VmRSS and VmHWM of a process, in bytes."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) * 1024
    return out


def last_change(db):
    """The last seq of the changes outbox (what the indexer must have applied)."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as c:
        return c.execute("SELECT COALESCE(MAX(seq), 0) FROM changes").fetchone()[0]


class Server:
    """`serve` on a free port, stopped on exit from the `with` block whatever happens."""

    def __init__(self, b, timeout):
        self.b = b
        self.timeout = timeout
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc = None

    def __enter__(self):
        env = dict(os.environ, RUST_LOG=os.environ.get("RUST_LOG", "warn"))
        self.log = open(self.b.dir / "serve.log", "w")
        self.proc = subprocess.Popen(self.b.cmd("serve", "--bind", f"127.0.0.1:{self.port}"), cwd=self.b.dir,
                                     env=env, stdout=self.log, stderr=subprocess.STDOUT)
        try:
            self.wait_caught_up()
        except BaseException:
            self.__exit__()  # `with` calls it only once this returns
            raise
        return self

    def health(self):
        try:
            with urllib.request.urlopen(self.base + "/healthz", timeout=5) as r:
                return json.load(r) if r.status == 200 else None
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return None

    def wait_caught_up(self):
        """Until /healthz answers 200 and the indexer has applied the last change."""
        target = last_change(self.b.db)
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise PerfError(f"{self.b.role}: serve exited {self.proc.returncode}; see {self.b.dir / 'serve.log'}")
            h = self.health()
            if h and h.get("applied_seq", -1) >= target:
                return
            time.sleep(0.5)
        raise PerfError(f"{self.b.role}: serve not caught up (seq {target}) within {self.timeout} s")

    def memory(self):
        return proc_status(self.proc.pid)

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=40)  # the indexer may take up to 30 s to stop cleanly
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def wrk(base, urls_file, seconds):
    """wrk -t2 -c8 over the URLs of a file: {req_s, p50_ms, p99_ms, errors}."""
    env = dict(os.environ, URLS=str(urls_file))
    cmd = ["wrk", "-t2", "-c8", f"-d{seconds}s", "--latency", "-s", str(HERE / "urls.lua"), base]
    _, out, _ = run(cmd, cwd=HERE, env=env)
    m = re.search(r"requests/s (\d+) \| p50 ([\d.]+) ms \| p99 ([\d.]+) ms \| non-2xx (\d+) \| socket errors (\d+)", out)
    if not m:
        raise PerfError(f"cannot read wrk's summary from: {out.strip()}")
    return {"req_s": float(m.group(1)), "p50_ms": float(m.group(2)), "p99_ms": float(m.group(3)),
            "errors": int(m.group(4)) + int(m.group(5))}


# ---------------------------------------------------------------- figures

class Figures:
    """Per-round values of every figure (a name and a unit), for both roles, in the order
    first measured."""

    def __init__(self):
        self.rows = {}

    def add(self, name, role, value, unit, better, target=None):
        """`better`: "lower", "higher" or "same". `target`: (kind, bound) where kind is
        "ratio<=" / "ratio>=" (candidate / baseline) or "cand<=" / "cand>=" (the candidate's
        own median)."""
        row = self.rows.setdefault((name, unit), {"unit": unit, "better": better, "target": target,
                                                  "baseline": [], "candidate": []})
        row[role].append(value)

    def summary(self):
        out = []
        for (name, _), r in self.rows.items():
            base = statistics.median(r["baseline"]) if r["baseline"] else None
            cand = statistics.median(r["candidate"]) if r["candidate"] else None
            ratio = paired_ratio(r["baseline"], r["candidate"])
            met = None
            if r["target"]:
                kind, bound = r["target"]
                v = ratio if kind.startswith("ratio") else cand
                if v is not None:
                    met = v <= bound if kind.endswith("<=") else v >= bound
            out.append({"figure": name, "unit": r["unit"], "better": r["better"], "baseline": base,
                        "candidate": cand, "ratio": ratio, "target": describe_target(r["target"]), "met": met,
                        "rounds": {"baseline": r["baseline"], "candidate": r["candidate"]}})
        return out


def paired_ratio(base, cand):
    """The median of the rounds' candidate / baseline ratios: the two figures of a round
    were taken close together, so the load of other work on the machine, which drifts from
    round to round, weighs less than in a ratio of the medians."""
    pairs = [c / b for b, c in zip(base, cand) if b]
    return statistics.median(pairs) if pairs and len(base) == len(cand) else None


def describe_target(target):
    if not target:
        return None
    kind, bound = target
    op = kind[-2:].replace("<=", "≤").replace(">=", "≥")
    if kind.startswith("ratio"):
        # A bound below 1 on a time is a speed-up.
        faster = f" ({1 / bound:.1f}× faster)" if kind == "ratio<=" and bound < 1 else ""
        return f"ratio {op} {bound:.2f}{faster}"
    return f"candidate {op} {bound:g}"


def fmt(v):
    if v is None:
        return "-"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.3f}"


def table(summary):
    head = ("figure", "baseline", "candidate", "ratio c/b", "better", "target", "met?")
    rows = [head]
    for s in summary:
        met = "-" if s["met"] is None else ("yes" if s["met"] else "NO")
        rows.append((f"{s['figure']} ({s['unit']})", fmt(s["baseline"]), fmt(s["candidate"]),
                     "-" if s["ratio"] is None else f"{s['ratio']:.3f}", s["better"], s["target"] or "", met))
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = []
    for i, r in enumerate(rows):
        lines.append(" | ".join(c.ljust(w) if j == 0 else c.rjust(w) for j, (c, w) in enumerate(zip(r, widths))))
        if i == 0:
            lines.append("-+-".join("-" * w for w in widths))
    return "\n".join(lines)


# ---------------------------------------------------------------- the parts

def order(round_no):
    """Baseline first in even rounds, candidate first in odd ones."""
    return ROLES if round_no % 2 == 0 else ROLES[::-1]


def part_import(bins, world, label, paths_of, figs, rounds):
    """`paths_of(binary)`: the database and index to import into."""
    for r in range(rounds):
        for role in order(r):
            b = bins[role]
            log(f"import {label} round {r + 1}/{rounds}: {role}")
            wall, rate, rss = import_once(b, world, *paths_of(b))
            log(f"  {wall:.1f} s, {rate:,.0f} lines/s, max RSS {rss / 1e6:.0f} MB")
            figs.add(f"import {label}", role, wall, "s", "lower", ("ratio<=", 1 / 1.5))
            figs.add(f"import {label}", role, rate, "lines/s", "higher")
            figs.add(f"import {label}: max RSS", role, rss / 1e6, "MB", "lower")


def part_reindex(bins, figs, rounds):
    for r in range(rounds):
        for role in order(r):
            b = bins[role]
            b.require_db()
            log(f"reindex round {r + 1}/{rounds}: {role}")
            wall, docs = reindex_once(b)
            b.save_state(documents=docs)
            log(f"  {wall:.1f} s, {docs} documents")
            figs.add("reindex", role, wall, "s", "lower", ("ratio<=", 1 / 2.5))
            figs.add("reindex", role, docs, "documents", "same")


def write_url_lists(world, args):
    lists = {}
    for kind, urls in url_lists(world, args.urls).items():
        path = args.work / f"urls-{kind}.txt"
        path.write_text("\n".join(urls) + "\n")
        lists[kind] = path
    log(f"URL lists of {args.urls} queries per kind in {args.work}")
    return lists


def part_serve(bins, world, parts, figs, args):
    """rss and http share a round of `serve`: both binaries' servers run side by side (an
    idle server costs next to nothing), so each wrk run alternates between them and a pair
    of figures is taken seconds apart rather than a whole server's life apart. Memory of
    each once caught up, and after the load (if asked for)."""
    lists = write_url_lists(world, args) if "http" in parts else {}
    for r in range(args.rounds):
        roles = order(r)
        log(f"serve round {r + 1}/{args.rounds}: {' then '.join(roles)}")
        with contextlib.ExitStack() as stack:
            servers, start = {}, {}
            for role in roles:
                bins[role].require_index()
                servers[role] = stack.enter_context(Server(bins[role], args.start_timeout))
                start[role] = servers[role].memory()["VmRSS"]
                log(f"  {role} caught up, RSS {start[role] / 1e6:.0f} MB")
            if lists:
                http_round(servers, roles, lists, figs, args)
            mem = {role: servers[role].memory() for role in roles}
        if "rss" in parts:
            for role in roles:
                rss_figures(bins[role], start[role], mem[role], figs)


def http_round(servers, roles, lists, figs, args):
    # Warm the caches on every kind before measuring any of them.
    for path in lists.values():
        for role in roles:
            wrk(servers[role].base, path, args.warmup)
    per_kind = {role: {} for role in roles}
    for kind, path in lists.items():
        for role in roles:
            w = wrk(servers[role].base, path, args.seconds)
            per_kind[role][kind] = w
            log(f"  {kind}, {role}: {w['req_s']:,.0f} req/s, p50 {w['p50_ms']:.2f} ms, p99 {w['p99_ms']:.2f} ms"
                + (f", {w['errors']} ERRORS" if w["errors"] else ""))
            figs.add(f"http {kind}", role, w["req_s"], "req/s", "higher")
            figs.add(f"http {kind}: p50", role, w["p50_ms"], "ms", "lower")
            figs.add(f"http {kind}: p99", role, w["p99_ms"], "ms", "lower")
    for role in roles:
        k = per_kind[role]
        figs.add("http radius / plain", role, k["radius"]["req_s"] / k["plain"]["req_s"], "req/s ratio", "higher",
                 ("cand>=", 0.75))
        # Non-2xx answers and socket errors would make the other figures meaningless.
        figs.add("http errors, all kinds", role, sum(w["errors"] for w in k.values()), "answers", "lower",
                 ("cand<=", 0))


def rss_figures(b, start, mem, figs):
    log(f"  {b.role}: RSS {mem['VmRSS'] / 1e6:.0f} MB, peak {mem['VmHWM'] / 1e6:.0f} MB")
    figs.add("rss: after start", b.role, start / 1e6, "MB", "lower")
    figs.add("rss: after load", b.role, mem["VmRSS"] / 1e6, "MB", "lower")
    figs.add("rss: peak (VmHWM)", b.role, mem["VmHWM"] / 1e6, "MB", "lower")
    docs = b.state().get("documents")
    if docs:
        figs.add("rss: peak per document", b.role, mem["VmHWM"] / 1e3 / docs, "KB", "lower", ("cand<=", 0.8))
    else:
        log(f"  {b.role}: documents unknown (no reindex since the import in {b.dir}): no per-document figure")


def part_inproc(bins, groups, figs, args):
    for r in range(args.rounds):
        for role in order(r):
            b = bins[role]
            b.require_index()
            if db_groups(b.db) < groups:
                # `bench` would generate and import a world of its own.
                raise PerfError(f"{role}: {b.db} holds fewer than the world's {groups} groups")
            out = b.dir / "inproc.json"
            remove(out)
            log(f"inproc round {r + 1}/{args.rounds}: {role}")
            b.run("bench", "--dir", str(b.dir), "--groups", str(groups), "--reuse-index", "--only", "text",
                  "--freshness-seconds", "0", "--queries", str(args.queries), "--out", str(out))
            report = json.loads(out.read_text())
            if report.get("import_lines"):
                raise PerfError(f"{role}: bench imported a world instead of using {b.db}")
            kinds = {f["kind"]: f for f in report["figures"]}
            for kind in INPROC_KINDS:
                f = kinds.get(kind)
                if not f:
                    log(f"  {role}: no figure {kind!r} in {out}")
                    continue
                target = ("cand<=", 0.15) if kind == "text, top 20, no caches" else None
                figs.add(f"inproc {kind}: p50", role, f["p50_ms"], "ms", "lower", target)
                figs.add(f"inproc {kind}: p99", role, f["p99_ms"], "ms", "lower")
                log(f"  {kind}: p50 {f['p50_ms']:.3f} ms, p99 {f['p99_ms']:.3f} ms")


def db_groups(db):
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as c:
        return c.execute("SELECT COUNT(*) FROM groups").fetchone()[0]


# ---------------------------------------------------------------- main

def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--baseline", required=True, help="the binary measured against (today's main)")
    p.add_argument("--candidate", required=True, help="the binary under test")
    p.add_argument("--world", required=True, type=Path, help="import lines (e.g. from `gen`)")
    p.add_argument("--world2", type=Path, help="a second world, for the import figures only")
    p.add_argument("--work", required=True, type=Path, help="databases, indexes, URL lists and logs go here")
    p.add_argument("--only", default=",".join(PARTS), help=f"comma-separated parts of {','.join(PARTS)}")
    p.add_argument("--rounds", type=int, default=3, help="rounds per part (medians over them)")
    p.add_argument("--json", type=Path, help="write the figures here")
    p.add_argument("--seconds", type=int, default=10, help="wrk seconds per kind")
    p.add_argument("--warmup", type=int, default=2, help="wrk seconds of warm-up per kind")
    p.add_argument("--urls", type=int, default=5000, help="queries per HTTP URL list")
    p.add_argument("--queries", type=int, default=2000, help="queries per kind of the in-process bench")
    p.add_argument("--start-timeout", type=int, default=900, help="seconds for serve to come up and catch up")
    args = p.parse_args()
    parts = [x.strip() for x in args.only.split(",") if x.strip()]
    unknown = set(parts) - set(PARTS)
    if unknown:
        p.error(f"unknown part(s) {', '.join(sorted(unknown))}; choose from {','.join(PARTS)}")
    for opt in ("baseline", "candidate"):
        exe = getattr(args, opt)
        if not (os.path.isfile(exe) and os.access(exe, os.X_OK)):
            p.error(f"--{opt} {exe}: not an executable file")
    for w in filter(None, [args.world, args.world2]):
        if not w.is_file():
            p.error(f"{w}: no such world file")
    if args.rounds < 1:
        p.error("--rounds must be at least 1")
    if "import" in parts and not Path("/usr/bin/time").exists():
        p.error("/usr/bin/time is needed for the import's max RSS (apt-get install -y time)")
    if "http" in parts and not shutil.which("wrk"):
        p.error("wrk is needed for http (apt-get install -y wrk)")
    args.work = args.work.resolve()
    return args, parts


def main():
    args, parts = parse_args()
    # A plain `kill` of this script must still stop the servers (the `finally`s run).
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    args.work.mkdir(parents=True, exist_ok=True)
    log(f"reading {args.world}")
    world = World(args.world, keep_groups="http" in parts)
    log(f"{world.lines:,} lines, {world.groups:,} groups")
    bins = {role: Binary(role, getattr(args, role), args.work, world.groups) for role in ROLES}
    figs = Figures()
    started = time.time()
    # Other work on the machine moves every figure; the load average says how busy it was.
    load = {"start": os.getloadavg()[0]}
    if "import" in parts:
        for b in bins.values():
            b.save_state(documents=None)  # known again after the reindex
        part_import(bins, world, world.path.name, lambda b: (b.db, b.index), figs, args.rounds)
    if "reindex" in parts:
        part_reindex(bins, figs, args.rounds)
    if "rss" in parts or "http" in parts:
        part_serve(bins, world, parts, figs, args)
    if "inproc" in parts:
        part_inproc(bins, world.groups, figs, args)
    if "import" in parts and args.world2:
        log(f"reading {args.world2}")
        world2 = World(args.world2, keep_groups=False)
        log(f"{world2.lines:,} lines, {world2.groups:,} groups")
        paths2 = lambda b: (b.dir / "world2.db", b.dir / "world2-index")  # noqa: E731
        try:
            part_import(bins, world2, f"world2 {world2.path.name}", paths2, figs, args.rounds)
        finally:
            for b in bins.values():  # only its import is measured; the disk is wanted back
                db2, index2 = paths2(b)
                remove_db(db2)
                remove(index2)

    load["end"] = os.getloadavg()[0]
    summary = figs.summary()
    print(f"\n{world.path.name}: {world.groups:,} groups, {world.lines:,} lines; "
          f"baseline {bins['baseline'].exe}, candidate {bins['candidate'].exe}; "
          f"medians of {args.rounds} round(s); ratio = median over rounds of candidate / baseline; "
          f"load average {load['start']:.1f} at the start, {load['end']:.1f} at the end\n")
    print(table(summary))
    if args.json:
        doc = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)), "world": str(args.world),
               "world2": str(args.world2) if args.world2 else None, "groups": world.groups, "lines": world.lines,
               "baseline": bins["baseline"].exe, "candidate": bins["candidate"].exe, "rounds": args.rounds,
               "parts": parts, "load_average": load, "figures": summary}
        args.json.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
        log(f"figures written to {args.json}")


if __name__ == "__main__":
    try:
        main()
    except PerfError as e:
        log(f"error: {e}")
        sys.exit(1)
    except KeyboardInterrupt:
        log("interrupted")
        sys.exit(130)
