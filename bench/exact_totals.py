#!/usr/bin/env python3
"""Exact totals, from outside: the release binary serving a generated world takes a burst of
reads of every sort and filter, then a group is created and dissolved about 100 ms later
while its name is being searched. Once the index has settled, the totals and facets of a
fixed set of reads are recorded; `reindex` then rebuilds the index from the same store
(while `serve` runs, which picks the new generation up) and the same reads must give the
same totals and facets. One trial a fresh server on a fresh copy of the world.

usage: bench/exact_totals.py [--bin target/release/groupscout] [--trials 20]
                             [--groups 3000] [--work DIR]

Python 3.11 standard library only (it borrows the process helpers of bench/faults.py).
Exits 1 when any trial's totals or facets differ before and after the reindex.
"""

import argparse
import random
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent))
import faults  # noqa: E402
from faults import Client, Server, log, run, trial_dir, user_token  # noqa: E402

WORDS = ["群", "交流", "徒步", "北京", "户外", "宝妈 交流", "美食 群", "读书", "hw", "qun"]
SORTS = ["relevance", "activity", "newest", "distance"]
CATEGORIES = ["outdoor", "local", "parenting", "food", "gaming"]
CENTRES = [(39.98, 116.31), (31.22, 121.47), (30.66, 104.07), (23.13, 113.26)]


def random_read(rng: random.Random) -> str:
    lat, lon = rng.choice(CENTRES)
    if rng.random() < 0.25:
        sort = rng.choice(["distance", "blend"])
        url = f"/v1/nearby?lat={lat}&lon={lon}&radius_km={rng.choice([2, 10, 50])}&sort={sort}"
        if rng.random() < 0.3:
            url += f"&category={rng.choice(CATEGORIES)}"
        return url
    if rng.random() < 0.1:
        return f"/v1/suggest?q={quote(rng.choice(['北', '徒步', 'hw', '宝']))}"
    sort = rng.choice(SORTS)
    url = f"/v1/search?q={quote(rng.choice(WORDS))}&sort={sort}&limit={rng.choice([5, 20, 50])}"
    if sort == "distance" or rng.random() < 0.3:
        url += f"&lat={lat}&lon={lon}"
        if rng.random() < 0.5:
            url += f"&radius_km={rng.choice([5, 20, 100])}"
    if rng.random() < 0.3:
        url += f"&category={rng.choice(CATEGORIES)}"
    if rng.random() < 0.2:
        url += "&has_room=true"
    if rng.random() < 0.2:
        url += "&open_join=true"
    if rng.random() < 0.15:
        url += f"&place={quote(rng.choice(['北京', '海淀', '上海', '成都']))}"
    return url


def recorded_reads():
    """The reads whose totals and facets are compared: every sort and filter of a few words."""
    urls = []
    for word in WORDS:
        for sort in ["relevance", "activity", "newest"]:
            urls.append(f"/v1/search?q={quote(word)}&sort={sort}&limit=5")
            urls.append(f"/v1/search?q={quote(word)}&sort={sort}&limit=5&category=local")
        urls.append(f"/v1/search?q={quote(word)}&limit=5&lat=39.98&lon=116.31&radius_km=50")
        urls.append(f"/v1/search?q={quote(word)}&limit=5&has_room=true&open_join=true")
        urls.append(f"/v1/search?q={quote(word)}&limit=5&place={quote('北京')}")
    for lat, lon in CENTRES:
        urls.append(f"/v1/nearby?lat={lat}&lon={lon}&radius_km=50&limit=5")
    return urls


def totals(port, urls):
    c = Client(port)
    out = {}
    for url in urls:
        status, doc = c.call("GET", url)
        assert status == 200, (url, status, doc)
        out[url] = (doc.get("total"), doc.get("facets"))
    c.close()
    return out


def settle(port, seconds=1.5):
    """Waits out the freshness bound (a write is searchable within a second)."""
    time.sleep(seconds)


def trial(n: int, d: Path, rng: random.Random):
    s = Server(d)
    s.wait_serving()
    port = s.port
    admin = Client(port)
    # An owner with a mutual friend (the rules of the trial's config need none, but the
    # owner must exist).
    uid = 9_000_000 + n
    for u in (uid, uid + 1):
        status, doc = admin.call("PUT", f"/v1/users/{u}", {"nickname": f"测{u}", "gender": "female"},
                                 token=faults.ADMIN)
        assert status == 200, doc
    # The burst of reads, on 4 connections.
    stop = threading.Event()
    errors = []

    def reader(seed, name_box):
        c = Client(port)
        r = random.Random(seed)
        while not stop.is_set():
            url = random_read(r)
            if name_box and r.random() < 0.5:
                url = f"/v1/search?q={quote(name_box[0])}&limit=5"
            status, _ = c.call("GET", url)
            if status >= 500:
                errors.append((url, status))
        c.close()

    name_box = []
    threads = [threading.Thread(target=reader, args=(rng.random(), name_box)) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    # A group created and dissolved about 100 ms later, its name searched meanwhile.
    name = f"{rng.choice(['海淀', '北京', '成都'])}{rng.choice(['徒步', '美食', '宝妈'])}测试{n}群"
    name_box.append(name)
    owner = Client(port)
    body = {"name": name, "category": rng.choice(CATEGORIES), "join_approval": False, "members_can_invite": True,
            "location": {"lat": 39.98, "lon": 116.31}}
    status, doc = owner.call("POST", "/v1/groups", body, token=user_token(uid))
    assert status == 201, doc
    time.sleep(rng.uniform(0.05, 0.15))
    status, doc = owner.call("DELETE", f"/v1/groups/{doc['id']}", token=user_token(uid))
    assert status in (200, 204), doc
    time.sleep(0.5)
    stop.set()
    for t in threads:
        t.join()
    settle(port)
    urls = recorded_reads()
    before = totals(port, urls)
    rc, secs, out = run(d, "reindex")
    assert rc == 0, out
    settle(port, 2.0)
    after = totals(port, urls)
    s.stop()
    differ = [(u, before[u], after[u]) for u in urls if before[u] != after[u]]
    return differ, errors


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bin", default=str(faults.ROOT / "target/release/groupscout"))
    p.add_argument("--trials", type=int, default=20)
    p.add_argument("--groups", type=int, default=3_000)
    p.add_argument("--work", default=None)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    args.bin = str(Path(args.bin).resolve())
    faults.ARGS = args
    faults.WORK = Path(args.work or tempfile.mkdtemp(prefix="groupscout-totals-")).resolve()
    faults.WORK.mkdir(parents=True, exist_ok=True)
    faults.CONFIG = faults.WORK / "groupscout.toml"
    faults.CONFIG.write_text("[rules]\nmin_mutual_friends = 0\n")
    faults.TEMPLATE = faults.WORK / "template"
    world = faults.WORK / "world.jsonl"
    (faults.TEMPLATE / "db").mkdir(parents=True, exist_ok=True)
    rc, _, out = run(faults.TEMPLATE, "gen", "--groups", str(args.groups), "--seed", "1", "--out", str(world))
    assert rc == 0, out
    rc, _, out = run(faults.TEMPLATE, "import", str(world))
    assert rc == 0, out
    rng = random.Random(args.seed)
    failed = 0
    for n in range(args.trials):
        d = trial_dir(faults.WORK / f"trial-{n}", with_index=False)
        differ, errors = trial(n, d, rng)
        if differ or errors:
            failed += 1
        log(f"trial {n + 1}/{args.trials}: {len(differ)} reads differ after reindex, {len(errors)} 5xx")
        for url, a, b in differ[:5]:
            log(f"  {url}\n    before {a}\n    after  {b}")
    print(f"exact totals: {args.trials - failed} of {args.trials} trials equal before and after reindex "
          f"({args.groups} groups, {len(recorded_reads())} reads compared a trial)")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
