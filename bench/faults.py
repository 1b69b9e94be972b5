#!/usr/bin/env python3
"""Faults, counted: each scenario run N times against the release binary, with a table of
what was acknowledged, what was found afterwards, what was lost or duplicated, and how long
the service took to serve again.

usage: bench/faults.py [--bin target/release/groupscout] [--trials 20] [--groups 10000]
                       [--short] [--only NAME,...] [--work DIR] [--json FILE]

Scenarios (SPEC §2 "Durability", §3, §6):
  write-loop    kill -9 of `serve` at a random moment while 4 connections write (users,
                groups, joins, activity with event ids); restart; every acknowledged write
                is there exactly once and `check` passes.
  import        kill -9 of `import` at a random moment; the re-run completes; every row
                equals a clean import's, nothing counted twice; `check` passes.
  reindex       kill -9 of `reindex` while `serve` answers reads and takes writes: no read
                fails, the next reindex succeeds, the index holds every group (`check`).
  rollup        kill -9 of `rollup`; the re-run gives the figures of a clean roll-up.
  repair        kill -9 of `check --repair` on corrupted statistics and owner roles; the
                re-run mends everything (`check` passes), the truth is untouched.
  index-gone    the index folder deleted while stopped: rebuilt at start, nothing lost.
  segment-cut   a segment file of the index truncated while stopped: rebuilt at start.
  disk-full     the index's file system full (a small tmpfs; needs root): reads keep
                working, writes are acknowledged, the log says why the index is behind,
                and the index catches up once space returns.
  db-locked     another process holds the SQLite write lock (BEGIN EXCLUSIVE) for 10 s
                while writes come in: each answer is 2xx or 503 unavailable/timeout, never
                500; writes succeed after the release.

Python 3.11 standard library only. Exits 1 when any trial lost or duplicated a write, got
a 5xx other than 503, or failed a check.
"""

import argparse
import base64
import hashlib
import hmac
import http.client
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
SECRET = "faults-secret-0123456789abcdef"
ADMIN = "faults-admin-token-0123456789abcdef"
SEARCH_WORDS = ["徒步", "北京", "户外", "读书", "美食", "海淀", "上海", "宝妈", "摄影", "游戏", "hw", "群"]

ARGS = None
WORK = None
CONFIG = None


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env_for(d: Path):
    env = dict(os.environ)
    env.update(
        GROUPSCOUT_DB=str(d / "db" / "groupscout.db"),
        GROUPSCOUT_INDEX=str(d / "index"),
        GROUPSCOUT_SECRET=SECRET,
        GROUPSCOUT_ADMIN_TOKEN=ADMIN,
        GROUPSCOUT_CONFIG=str(CONFIG),
        GROUPSCOUT_DATA=str(ROOT / "data"),
        RUST_LOG="info",
    )
    return env


def run(d: Path, *args, timeout=600):
    """Runs a job to its end; returns (exit code, seconds, output)."""
    started = time.monotonic()
    p = subprocess.run([ARGS.bin, *args], env=env_for(d), cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    return p.returncode, time.monotonic() - started, p.stdout + p.stderr


def run_killed(d: Path, after: float, *args):
    """Starts a job and kills it with SIGKILL after `after` seconds; returns whether it was
    still running then."""
    p = subprocess.Popen([ARGS.bin, *args], env=env_for(d), cwd=ROOT, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    try:
        p.wait(timeout=after)
        return False
    except subprocess.TimeoutExpired:
        p.send_signal(signal.SIGKILL)
        p.wait()
        return True


def user_token(uid: int) -> str:
    def b64(b):
        return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

    now = int(time.time())
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps({"sub": str(uid), "iat": now - 5, "exp": now + 86400}).encode())
    sig = hmac.new(SECRET.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(sig)}"


class Client:
    """One keep-alive connection; a failed connection raises OSError and is reopened on the
    next call."""

    def __init__(self, port, timeout=40.0):
        self.port = port
        self.timeout = timeout
        self.conn = None

    def call(self, method, path, body=None, token=None):
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        headers = {}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            self.conn.request(method, path, body=data, headers=headers)
            r = self.conn.getresponse()
            raw = r.read()
        except (OSError, http.client.HTTPException) as e:
            self.conn.close()
            self.conn = None
            raise OSError(str(e)) from e
        try:
            doc = json.loads(raw) if raw else None
        except ValueError:
            doc = None
        return r.status, doc

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class Server:
    def __init__(self, d: Path, port=None):
        self.d = d
        self.port = port or free_port()
        self.log_path = d / "serve.log"
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [ARGS.bin, "serve", "--bind", f"127.0.0.1:{self.port}", "--workers", "2"],
            env=env_for(d), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=open(self.log_path, "ab"),
        )

    def wait_serving(self, timeout=300.0):
        """Seconds from the start until a search is answered 200."""
        c = Client(self.port, timeout=10)
        while time.monotonic() - self.started < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"serve exited with {self.proc.returncode}; see {self.log_path}")
            try:
                if c.call("GET", "/v1/search?q=%E7%BE%A4")[0] == 200:
                    c.close()
                    return time.monotonic() - self.started
            except OSError:
                pass
            time.sleep(0.02)
        raise RuntimeError(f"serve did not answer within {timeout} s")

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill9()

    def log_text(self):
        return self.log_path.read_text(errors="replace")


class Statuses:
    """Answers counted by status; a 5xx other than 503 unavailable/timeout is a failure."""

    def __init__(self):
        self.lock = threading.Lock()
        self.counts = Counter()
        self.bad = []

    def add(self, status, doc, what):
        with self.lock:
            code = (doc or {}).get("error", {}).get("code") if isinstance(doc, dict) else None
            self.counts[status if status < 500 else f"{status} {code}"] += 1
            if status >= 500 and not (status == 503 and code in ("unavailable", "timeout")):
                self.bad.append(f"{what}: {status} {doc}")


class WriteLoop:
    """Connections that write until stopped, recording every acknowledged write."""

    def __init__(self, port, tag, threads=4, pace=0.0):
        self.port = port
        self.tag = tag
        self.pace = pace
        self.stop_flag = threading.Event()
        self.statuses = Statuses()
        self.lock = threading.Lock()
        self.users, self.groups, self.joins, self.events = [], {}, [], []
        self.last_ack = 0.0
        self.acks_after = []  # monotonic times of acknowledged writes
        base = 50_000_000 + random.randrange(1000) * 100_000
        self.threads = [threading.Thread(target=self.work, args=(t, base + t * 10_000), daemon=True)
                        for t in range(threads)]
        for t in self.threads:
            t.start()

    def ack(self, kind, value):
        with self.lock:
            now = time.monotonic()
            self.acks_after.append(now)
            if kind == "user":
                self.users.append(value)
            elif kind == "group":
                self.groups[value[0]] = value[1]
            elif kind == "join":
                self.joins.append(value)
            else:
                self.events.append(value)

    def work(self, tid, base):
        c = Client(self.port)
        prev = None
        i = 0
        failures = 0
        while not self.stop_flag.is_set():
            uid = base + i
            i += 1
            try:
                s, doc = c.call("PUT", f"/v1/users/{uid}", {"nickname": f"f{uid}", "gender": "female",
                                                           "birth_year": 1990}, ADMIN)
                self.statuses.add(s, doc, "PUT user")
                if s >= 300:
                    continue
                self.ack("user", uid)
                name = f"故障 {self.tag} t{tid} i{i}"
                s, doc = c.call("POST", "/v1/groups", {
                    "name": name, "category": "outdoor", "join_approval": False, "members_can_invite": True,
                    "location": {"lat": 39.9 + random.random() / 10, "lon": 116.3 + random.random() / 10},
                }, user_token(uid))
                self.statuses.add(s, doc, "POST group")
                if s >= 300:
                    continue
                gid = doc["id"]
                self.ack("group", (name, gid))
                if prev is not None:
                    s, doc = c.call("POST", f"/v1/groups/{prev}/join", {}, user_token(uid))
                    self.statuses.add(s, doc, "join")
                    if s < 300:
                        self.ack("join", (prev, uid))
                at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
                ev = {"event_id": f"{self.tag}-{uid}", "group_id": gid, "user_id": uid, "at": at, "messages": 1}
                s, doc = c.call("POST", "/v1/activity", {"events": [ev]}, ADMIN)
                self.statuses.add(s, doc, "activity")
                if s < 300:
                    self.ack("event", (gid, uid))
                prev = gid
                failures = 0
            except OSError:
                # The server is gone (killed) or not up yet: what was in flight is not
                # acknowledged.
                failures += 1
                if failures > 50:
                    return
                time.sleep(0.1)
            if self.pace:
                time.sleep(self.pace)

    def finish(self):
        self.stop_flag.set()
        for t in self.threads:
            t.join(timeout=60)

    def acknowledged(self):
        return len(self.users) + len(self.groups) + len(self.joins) + len(self.events)

    def verify(self, db: Path):
        """(found, lost, duplicated) of the acknowledged writes in the database."""
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
        found = lost = dup = 0

        def tally(n):
            nonlocal found, lost, dup
            if n >= 1:
                found += 1
            else:
                lost += 1
            if n > 1:
                dup += 1

        for uid in self.users:
            tally(con.execute("SELECT count(*) FROM users WHERE id = ?", (uid,)).fetchone()[0])
        for name in self.groups:
            tally(con.execute("SELECT count(*) FROM groups WHERE name = ?", (name,)).fetchone()[0])
        for gid, uid in self.joins:
            tally(con.execute("SELECT count(*) FROM members WHERE group_id = ? AND user_id = ?", (gid, uid)).fetchone()[0])
        for gid, uid in self.events:
            n = con.execute("SELECT coalesce(sum(messages), 0) FROM activity WHERE group_id = ? AND user_id = ?",
                            (gid, uid)).fetchone()[0]
            tally(n)
        con.close()
        return found, lost, dup


class Reader:
    """One connection searching in a loop; counts failed reads (anything but 200, or no
    answer)."""

    def __init__(self, port):
        self.port = port
        self.stop_flag = threading.Event()
        self.ok = 0
        self.failed = []
        self.thread = threading.Thread(target=self.work, daemon=True)
        self.thread.start()

    def work(self):
        c = Client(self.port, timeout=30)
        while not self.stop_flag.is_set():
            q = random.choice(SEARCH_WORDS)
            path = f"/v1/search?q={urllib_quote(q)}" if random.random() < 0.7 else \
                f"/v1/nearby?lat={39.9 + random.random() / 5:.4f}&lon={116.3 + random.random() / 5:.4f}&radius_km=5"
            try:
                s, doc = c.call("GET", path)
                if s == 200:
                    self.ok += 1
                else:
                    self.failed.append(f"{path}: {s} {doc}")
            except OSError as e:
                self.failed.append(f"{path}: {e}")
                time.sleep(0.05)

    def finish(self):
        self.stop_flag.set()
        self.thread.join(timeout=60)


def urllib_quote(s):
    return quote(s)


def probe_reads(port, n=60):
    """A burst of varied searches; the failures."""
    failed = []
    c = Client(port, timeout=30)
    for _ in range(n):
        q = random.choice(SEARCH_WORDS)
        try:
            s, doc = c.call("GET", f"/v1/search?q={urllib_quote(q)}&limit=50")
            if s != 200:
                failed.append(f"{q}: {s} {doc}")
        except OSError as e:
            failed.append(f"{q}: {e}")
    c.close()
    return failed


def check_passes(d: Path):
    rc, _, out = run(d, "check")
    return rc == 0, out.strip().splitlines()[:6]


def wind_down(s, loop, reader, d: Path, settle: float):
    """Stops the writers, lets the readers see the last writes for `settle` seconds, stops
    them, counts the acknowledged writes in the database, checks it and stops the server:
    (found, lost, duplicated, check passed, check output)."""
    loop.finish()
    time.sleep(settle)
    reader.finish()
    found, lost, dup = loop.verify(db_of(d))
    ok, cout = check_passes(d)
    s.stop()
    return found, lost, dup, ok, cout


def wait_searchable(port, name, timeout=30.0):
    """Seconds until a search for `name` finds it, or None."""
    c = Client(port, timeout=10)
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            s, doc = c.call("GET", f"/v1/search?q={urllib_quote(name)}&limit=5")
            if s == 200 and any(g.get("name") == name for g in doc.get("groups", [])):
                return time.monotonic() - started
        except OSError:
            pass
        time.sleep(0.05)
    return None


# ---------------------------------------------------------------------------------------
# The world every trial starts from.

TEMPLATE = None
TIMES = {}


def prepare():
    global TEMPLATE
    TEMPLATE = WORK / "template"
    world = WORK / "world.jsonl"
    (TEMPLATE / "db").mkdir(parents=True, exist_ok=True)
    rc, secs, out = run(TEMPLATE, "gen", "--groups", str(ARGS.groups), "--seed", "1", "--out", str(world))
    assert rc == 0, out
    rc, secs, out = run(TEMPLATE, "import", str(world))
    assert rc == 0, out
    TIMES["import"] = secs
    rc, secs, out = run(TEMPLATE, "reindex")
    assert rc == 0, out
    TIMES["reindex"] = secs
    # A clean roll-up, for the rollup scenario to compare with.
    ref = WORK / "rollup-ref"
    trial_dir(ref)
    rc, secs, out = run(ref, "rollup")
    assert rc == 0, out
    TIMES["rollup"] = secs
    log(f"world: {ARGS.groups} groups, {sum(1 for _ in open(world))} lines; import {TIMES['import']:.1f} s, "
        f"reindex {TIMES['reindex']:.1f} s, rollup {TIMES['rollup']:.2f} s")


def trial_dir(d: Path, with_index=True):
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    shutil.copytree(TEMPLATE / "db", d / "db")
    if with_index:
        shutil.copytree(TEMPLATE / "index", d / "index")
    return d


def db_of(d: Path):
    return d / "db" / "groupscout.db"


def fingerprint(db: Path):
    """Every row of the truth and the derived statistics, without write times."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    fp = {
        "users": set(con.execute("SELECT id, nickname, gender, birth_year, tier, show_joined_groups FROM users")),
        "follows": set(con.execute("SELECT src, dst FROM follows")),
        "groups": set(con.execute(
            "SELECT id, owner_id, name, category, description, announcement, lat, lon, place_name, city, district,"
            " join_approval, members_can_invite, discoverable, capacity, created_at, dissolved_at, member_count,"
            " female_count, birth_sum, birth_n, yesterday_messages, active_members, stats_day, moderation FROM groups")),
        "members": set(con.execute("SELECT group_id, user_id, role, joined_at FROM members")),
        "activity": {(g, d, u): m for g, d, u, m in con.execute("SELECT group_id, day, user_id, messages FROM activity")},
        "daily_stats": set(con.execute("SELECT group_id, day, messages, active_members FROM daily_stats")),
    }
    con.close()
    return fp


def compare(ref, got, tables):
    """(rows of ref, found identical, lost or different, extra or counted twice)."""
    total = found = lost = extra = 0
    for t in tables:
        r, g = ref[t], got[t]
        if isinstance(r, dict):
            total += len(r)
            for k, m in r.items():
                n = g.get(k, 0)
                found += n == m
                lost += n < m
                extra += n > m
            extra += sum(1 for k in g if k not in r)
        else:
            total += len(r)
            found += len(r & g)
            lost += len(r - g)
            extra += len(g - r)
    return total, found, lost, extra


# ---------------------------------------------------------------------------------------
# Scenarios: each returns a dict of counts for one trial.

def result(**kw):
    base = dict(acked=0, found=0, lost=0, dup=0, serve_again=None, failed_reads=0, bad=0, check=True, notes=[])
    base.update(kw)
    return base


def write_loop(n, d):
    trial_dir(d)
    s = Server(d)
    s.wait_serving()
    loop = WriteLoop(s.port, f"w{n}")
    time.sleep(random.uniform(0.5, 3.0))
    s.kill9()
    loop.finish()
    s2 = Server(d)
    serve_again = s2.wait_serving()
    failed = probe_reads(s2.port)
    time.sleep(1.2)
    found, lost, dup = loop.verify(db_of(d))
    ok, out = check_passes(d)
    s2.stop()
    return result(acked=loop.acknowledged(), found=found, lost=lost, dup=dup, serve_again=serve_again,
                  failed_reads=len(failed), bad=len(loop.statuses.bad), check=ok,
                  notes=([] if ok else out) + failed[:3] + loop.statuses.bad[:3])


def import_killed(n, d):
    if d.exists():
        shutil.rmtree(d)
    (d / "db").mkdir(parents=True)
    world = WORK / "world.jsonl"
    killed = run_killed(d, random.uniform(0.05, 0.95 * TIMES["import"]), "import", str(world))
    rc, secs, out = run(d, "import", str(world))
    notes = [] if rc == 0 else [f"re-run import exited {rc}: {out[-300:]}"]
    total, found, lost, extra = compare(REF["clean"], fingerprint(db_of(d)), ["users", "follows", "groups", "members",
                                                                              "activity"])
    ok, out = check_passes(d)
    if not killed:
        notes.append("the import ended before the kill")
    return result(acked=total, found=found, lost=lost, dup=extra, serve_again=secs, check=ok and rc == 0,
                  notes=notes + ([] if ok else out), killed=killed)


def reindex_killed(n, d):
    trial_dir(d)
    s = Server(d)
    s.wait_serving()
    reader = Reader(s.port)
    loop = WriteLoop(s.port, f"r{n}", threads=1, pace=0.01)
    time.sleep(0.3)
    killed = run_killed(d, random.uniform(0.05, 0.95 * TIMES["reindex"]), "reindex")
    time.sleep(0.3)
    rc, secs, out = run(d, "reindex")
    time.sleep(0.5)
    found, lost, dup, ok, cout = wind_down(s, loop, reader, d, settle=1.5)
    notes = [] if rc == 0 else [f"the next reindex exited {rc}: {out[-300:]}"]
    if not killed:
        notes.append("the reindex ended before the kill")
    return result(acked=loop.acknowledged(), found=found, lost=lost, dup=dup, serve_again=None,
                  failed_reads=len(reader.failed), bad=len(loop.statuses.bad), check=ok and rc == 0,
                  notes=notes + ([] if ok else cout) + reader.failed[:3] + loop.statuses.bad[:3], killed=killed,
                  reads=reader.ok)


def rollup_killed(n, d):
    trial_dir(d, with_index=False)
    killed = run_killed(d, random.uniform(0.0, 0.95 * TIMES["rollup"]), "rollup")
    rc, secs, out = run(d, "rollup")
    total, found, lost, extra = compare(REF["rollup"], fingerprint(db_of(d)), ["groups", "daily_stats", "activity"])
    ok, cout = check_passes(d)
    notes = [] if rc == 0 else [f"re-run rollup exited {rc}: {out[-300:]}"]
    if not killed:
        notes.append("the roll-up ended before the kill")
    return result(acked=total, found=found, lost=lost, dup=extra, serve_again=secs, check=ok and rc == 0,
                  notes=notes + ([] if ok else cout), killed=killed)


def corrupt(db: Path):
    con = sqlite3.connect(db, timeout=30)
    con.execute("UPDATE groups SET member_count = member_count + 1, female_count = 0, active_members = 99"
                " WHERE id % 5 = 0 AND dissolved_at IS NULL")
    con.execute("UPDATE members SET role = 'member' WHERE role = 'owner' AND group_id % 11 = 0")
    con.commit()
    con.close()


def repair_killed(n, d):
    trial_dir(d)
    corrupt(db_of(d))
    # How long a whole repair takes here, once.
    if "repair" not in TIMES:
        probe = trial_dir(WORK / "repair-probe")
        corrupt(db_of(probe))
        TIMES["repair"] = run(probe, "check", "--repair")[1]
    killed = run_killed(d, random.uniform(0.05, 0.95 * TIMES["repair"]), "check", "--repair")
    rc, secs, out = run(d, "check", "--repair")
    total, found, lost, extra = compare(REF["clean"], fingerprint(db_of(d)), ["users", "follows", "groups", "members",
                                                                              "activity"])
    ok, cout = check_passes(d)
    notes = [] if rc == 0 else [f"re-run repair exited {rc}: {out[-300:]}"]
    if not killed:
        notes.append("the repair ended before the kill")
    return result(acked=total, found=found, lost=lost, dup=extra, serve_again=secs, check=ok and rc == 0,
                  notes=notes + ([] if ok else cout), killed=killed)


def index_damaged(n, d, damage):
    trial_dir(d)
    s = Server(d)
    s.wait_serving()
    loop = WriteLoop(s.port, f"{damage[:3]}{n}")
    time.sleep(random.uniform(0.5, 1.5))
    loop.finish()
    time.sleep(0.8)
    s.stop()
    what = damage_index(d / "index", damage)
    s2 = Server(d)
    serve_again = s2.wait_serving()
    failed = probe_reads(s2.port)
    last = list(loop.groups)[-1:] or []
    seen = [wait_searchable(s2.port, name) for name in last]
    time.sleep(1.0)
    found, lost, dup = loop.verify(db_of(d))
    ok, out = check_passes(d)
    s2.stop()
    notes = ([] if ok else out) + failed[:3]
    if any(x is None for x in seen):
        notes.append(f"the last acknowledged group is not searchable ({what})")
    return result(acked=loop.acknowledged(), found=found, lost=lost, dup=dup, serve_again=serve_again,
                  failed_reads=len(failed), bad=len(loop.statuses.bad), check=ok and all(x is not None for x in seen),
                  notes=notes)


def damage_index(root: Path, damage):
    if damage == "gone":
        shutil.rmtree(root)
        return "deleted"
    current = (root / "CURRENT").read_text().strip()
    files = [p for p in (root / current).iterdir() if p.is_file() and p.suffix not in (".json", ".lock")
             and not p.name.startswith(".")]
    victim = random.choice(files)
    size = victim.stat().st_size
    keep = random.randrange(0, max(size, 1))
    with open(victim, "r+b") as f:
        f.truncate(keep)
    return f"{victim.name} {size} -> {keep} bytes"


def disk_full(n, d):
    trial_dir(d, with_index=False)
    mnt = d / "index"
    mnt.mkdir()
    index_bytes = sum(p.stat().st_size for p in (TEMPLATE / "index").rglob("*") if p.is_file())
    size_mb = index_bytes * 3 // (1 << 20) + 16
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(mnt)], check=True)
    try:
        for p in (TEMPLATE / "index").iterdir():
            (shutil.copytree if p.is_dir() else shutil.copy2)(p, mnt / p.name)
        s = Server(d)
        s.wait_serving()
        reader = Reader(s.port)
        loop = WriteLoop(s.port, f"d{n}", threads=2, pace=0.005)
        time.sleep(0.5)
        filler = mnt / "filler"
        with open(filler, "wb") as f:
            try:
                while True:
                    f.write(b"\0" * (1 << 20))
                    f.flush()
            except OSError:
                pass
        full_at = time.monotonic()
        before = len(loop.groups)
        time.sleep(random.uniform(2.0, 4.0))
        written_full = list(loop.groups)[before:]
        reads_full = len(reader.failed)
        filler.unlink()
        freed = time.monotonic()
        # Recovery: the last group acknowledged while the disk was full becomes searchable.
        caught_up = wait_searchable(s.port, written_full[-1], timeout=60) if written_full else None
        recovered = None if caught_up is None else time.monotonic() - freed
        found, lost, dup, ok, cout = wind_down(s, loop, reader, d, settle=1.5)
        logtext = s.log_text()
        notes = [] if ok else cout
        said = "No space left on device" in logtext or "os error 28" in logtext
        if not said:
            notes.append("the log does not say the disk is full")
        if not written_full:
            notes.append("no write was acknowledged while the disk was full")
        if recovered is None:
            notes.append("the index did not catch up once space returned")
        notes += reader.failed[:3] + loop.statuses.bad[:3]
        return result(acked=loop.acknowledged(), found=found, lost=lost, dup=dup, serve_again=recovered,
                      failed_reads=reads_full + (len(reader.failed) - reads_full), bad=len(loop.statuses.bad),
                      check=ok and said and recovered is not None and bool(written_full), notes=notes,
                      full_for=freed - full_at)
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def db_locked(n, d):
    trial_dir(d)
    s = Server(d)
    s.wait_serving()
    reader = Reader(s.port)
    loop = WriteLoop(s.port, f"l{n}")
    time.sleep(1.0)
    con = sqlite3.connect(db_of(d), timeout=30, isolation_level=None)
    con.execute("BEGIN EXCLUSIVE")
    locked_at = time.monotonic()
    time.sleep(ARGS.lock_seconds)
    con.execute("ROLLBACK")
    con.close()
    released = time.monotonic()
    # Time from the release to the next acknowledged write.
    deadline = released + 40
    again = None
    while time.monotonic() < deadline:
        with loop.lock:
            later = [t for t in loop.acks_after[-50:] if t > released]
        if later:
            again = min(later) - released
            break
        time.sleep(0.02)
    time.sleep(1.0)
    found, lost, dup, ok, cout = wind_down(s, loop, reader, d, settle=1.0)
    with loop.lock:
        during = sum(1 for t in loop.acks_after if locked_at < t < released)
    notes = ([] if ok else cout) + reader.failed[:3] + loop.statuses.bad[:3]
    if again is None:
        notes.append("no write succeeded after the lock was released")
    c503 = sum(v for k, v in loop.statuses.counts.items() if str(k).startswith("503"))
    return result(acked=loop.acknowledged(), found=found, lost=lost, dup=dup, serve_again=again,
                  failed_reads=len(reader.failed), bad=len(loop.statuses.bad), check=ok and again is not None,
                  notes=notes, answered_503=c503, acked_while_locked=during)


SCENARIOS = {
    "write-loop": write_loop,
    "import": import_killed,
    "reindex": reindex_killed,
    "rollup": rollup_killed,
    "repair": repair_killed,
    "index-gone": lambda n, d: index_damaged(n, d, "gone"),
    "segment-cut": lambda n, d: index_damaged(n, d, "cut"),
    "disk-full": disk_full,
    "db-locked": db_locked,
}

WHAT_AGAIN = {
    "write-loop": "restart until a search is answered",
    "import": "the re-run import",
    "reindex": "the server never stopped",
    "rollup": "the re-run roll-up",
    "repair": "the re-run repair",
    "index-gone": "start (rebuilding) until a search is answered",
    "segment-cut": "start (rebuilding) until a search is answered",
    "disk-full": "space back until the last write is searchable",
    "db-locked": "lock released until the next acknowledged write",
}

REF = {}


def main():
    global ARGS, WORK, CONFIG
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bin", default=str(ROOT / "target/release/groupscout"))
    p.add_argument("--trials", type=int, default=20)
    p.add_argument("--groups", type=int, default=10_000)
    p.add_argument("--lock-seconds", type=float, default=10.0)
    p.add_argument("--short", action="store_true", help="2 trials each on 2,000 groups (for CI)")
    p.add_argument("--only", default="", help="comma-separated scenario names")
    p.add_argument("--work", default=None, help="where trials run (default: a temporary folder)")
    p.add_argument("--json", default=None, help="write the figures here")
    p.add_argument("--seed", type=int, default=None)
    ARGS = p.parse_args()
    if ARGS.short:
        ARGS.trials = min(ARGS.trials, 2)
        ARGS.groups = min(ARGS.groups, 2_000)
    ARGS.bin = str(Path(ARGS.bin).resolve())
    random.seed(ARGS.seed)
    WORK = Path(ARGS.work or tempfile.mkdtemp(prefix="groupscout-faults-")).resolve()
    WORK.mkdir(parents=True, exist_ok=True)
    CONFIG = WORK / "groupscout.toml"
    # Owners need no friends here, so any new user may create a group.
    CONFIG.write_text("[rules]\nmin_mutual_friends = 0\n")
    names = [n for n in ARGS.only.split(",") if n] or list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        sys.exit(f"unknown scenario(s): {', '.join(unknown)}")
    root_ok = os.geteuid() == 0
    prepare()
    REF["clean"] = fingerprint(db_of(TEMPLATE))
    REF["rollup"] = fingerprint(db_of(WORK / "rollup-ref"))
    rows = {}
    failed_any = False
    for name in names:
        if name == "disk-full" and not root_ok:
            log("SKIPPED disk-full: mounting a small tmpfs for the index needs root")
            continue
        trials = []
        for n in range(ARGS.trials):
            d = WORK / f"{name}-{n}"
            started = time.monotonic()
            try:
                r = SCENARIOS[name](n, d)
            except Exception as e:  # a trial that could not run counts as failed
                r = result(check=False, notes=[f"{type(e).__name__}: {e}"])
            trials.append(r)
            bad = r["lost"] or r["dup"] or r["bad"] or r["failed_reads"] or not r["check"]
            failed_any |= bool(bad)
            again = "-" if r["serve_again"] is None else f"{r['serve_again']:.2f} s"
            log(f"{name} {n + 1}/{ARGS.trials}: acked {r['acked']}, lost {r['lost']}, dup {r['dup']}, again {again}, "
                f"failed reads {r['failed_reads']}, 5xx {r['bad']}, check {'ok' if r['check'] else 'FAILED'} "
                f"({time.monotonic() - started:.1f} s) {'; '.join(map(str, r['notes']))[:600]}")
            if not bad:
                shutil.rmtree(d, ignore_errors=True)
        rows[name] = trials
    print_table(rows)
    if ARGS.json:
        Path(ARGS.json).write_text(json.dumps(rows, indent=1, default=str))
    if not ARGS.work and not failed_any:
        shutil.rmtree(WORK, ignore_errors=True)
    elif failed_any:
        log(f"trial folders kept in {WORK}")
    sys.exit(1 if failed_any else 0)


def print_table(rows):
    print(f"faults: {ARGS.groups:,} groups, {ARGS.trials} trials each")
    print("| scenario | trials | acknowledged | found | lost | duplicated | time to serve again, median / max | "
          "failed reads | 5xx | checks failed |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, trials in rows.items():
        agains = [t["serve_again"] for t in trials if t["serve_again"] is not None]
        again = f"{statistics.median(agains):.2f} / {max(agains):.2f} s" if agains else "-"
        if name == "reindex":
            again = "-"
        s = lambda k: sum(t[k] for t in trials)
        print(f"| {name} | {len(trials)} | {s('acked'):,} | {s('found'):,} | {s('lost'):,} | {s('dup'):,} | {again} "
              f"({WHAT_AGAIN[name]}) | {s('failed_reads')} | {s('bad')} | {sum(1 for t in trials if not t['check'])} |")
    for name, trials in rows.items():
        killed = [t["killed"] for t in trials if "killed" in t]
        if killed:
            print(f"{name}: the job was still running when killed in {sum(killed)} of {len(killed)} trials")
    reads = sum(t.get("reads", 0) for t in rows.get("reindex", []))
    if reads:
        print(f"reindex: {reads:,} reads answered while the reindexes ran and were killed")
    extra = [t for t in rows.get("db-locked", [])]
    if extra:
        print(f"db-locked: {sum(t['answered_503'] for t in extra)} answers 503 unavailable/timeout, "
              f"{sum(t['acked_while_locked'] for t in extra)} writes acknowledged while the lock was held (they "
              f"waited), {sum(t['bad'] for t in extra)} other 5xx")


if __name__ == "__main__":
    main()
