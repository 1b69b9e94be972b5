#!/usr/bin/env python3
"""The discovery page end to end, in headless Chromium.

Starts `groupscout serve --sample 2000` on a free port with a temporary database and index,
then uses the page as a person would: types a query and sees suggestions (pinyin too),
searches, picks a category chip, opens a card, reloads and gets the same view back, goes
back and forth in history, switches to the nearby view with a preset city, and joins a
group with a token. A group whose name is markup is shown as text. Every step saves a
screenshot under target/screenshots/.

    python3 tests/e2e/discovery.py --bin target/release/groupscout

Needs Python Playwright (`pip install playwright`) and Debian's Chromium
(`apt-get install chromium fonts-noto-cjk`); Playwright's own browser download is not used.
"""

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

TIMEOUT_MS = 15_000


class Checks:
    """Named checks: each prints its outcome; the run ends with a count of both."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print(f"ok    {name}")
        else:
            self.failed += 1
            print(f"FAIL  {name}{': ' + str(detail) if detail else ''}")
        return ok


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, body=None, token=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Accept", "application/json")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def wait_healthy(base, proc, seconds=180):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}")
        try:
            status, body = http("GET", f"{base}/healthz")
            if status == 200:
                status, found = http("GET", f"{base}/v1/search?limit=1")
                if status == 200 and found["total"] > 0:
                    return
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(0.5)
    raise SystemExit("the server did not become healthy in time")


def issue_token(binary, data_dir, *extra):
    out = subprocess.run(
        [binary, "token", *extra, "--db", str(data_dir / "groupscout.db"), "--index", str(data_dir / "index")],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()


def server_env():
    # The test names its own database, index and address; settings from the caller's
    # environment must not point it elsewhere.
    env = {k: v for k, v in os.environ.items() if not k.startswith("GROUPSCOUT_")}
    env.setdefault("RUST_LOG", "warn")
    return env


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin", required=True, help="the groupscout binary")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--screenshots", default="target/screenshots")
    parser.add_argument("--sample", type=int, default=2000)
    parser.add_argument("--keep", action="store_true", help="keep the temporary data directory")
    parser.add_argument("--url", help="use this running server instead of starting one (with --data-dir)")
    parser.add_argument("--data-dir", help="with --url: the directory holding its groupscout.db and index/")
    args = parser.parse_args()
    if bool(args.url) != bool(args.data_dir):
        parser.error("--url and --data-dir go together")

    binary = str(Path(args.bin).resolve())
    shots = Path(args.screenshots)
    shots.mkdir(parents=True, exist_ok=True)
    for old in shots.glob("*.png"):
        old.unlink()

    if args.url:
        checks = Checks()
        wait_healthy(args.url, None)
        run(checks, args.url, binary, Path(args.data_dir), shots, args.chromium)
        print(f"{checks.passed} passed, {checks.failed} failed")
        return 1 if checks.failed else 0

    data_dir = Path(tempfile.mkdtemp(prefix="groupscout-e2e-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = open(data_dir / "serve.log", "w")
    proc = subprocess.Popen(
        [
            binary, "serve", "--sample", str(args.sample), "--bind", f"127.0.0.1:{port}", "--workers", "2",
            "--db", str(data_dir / "groupscout.db"), "--index", str(data_dir / "index"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=server_env(),
    )
    checks = Checks()
    try:
        started = time.time()
        wait_healthy(base, proc)
        print(f"server up at {base} with {args.sample} sample groups after {time.time() - started:.1f} s")
        run(checks, base, binary, data_dir, shots, args.chromium)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        if checks.failed:
            print(f"server log: {data_dir / 'serve.log'}")
        if not args.keep and not checks.failed:
            shutil.rmtree(data_dir, ignore_errors=True)
    print(f"screenshots in {shots}/")
    print(f"{checks.passed} passed, {checks.failed} failed")
    return 1 if checks.failed else 0


def run(checks, base, binary, data_dir, shots, chromium):
    c = checks.check
    def user_token(user):
        return issue_token(binary, data_dir, "--user", str(user))

    admin = issue_token(binary, data_dir, "--admin")
    # The joining user exists in the service (as the main app would have synced them).
    http("PUT", f"{base}/v1/users/990003", {"nickname": "页面测试", "gender": "male", "birth_year": 1990}, admin)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        errors = []
        page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
        # A refused join is shown on the page; the browser logs its 4xx too, which is fine.
        page.on(
            "console",
            lambda m: errors.append(f"console: {m.text}")
            if m.type == "error" and "Failed to load resource" not in m.text
            else None,
        )
        step = {"n": 0}

        def shot(name):
            step["n"] += 1
            path = shots / f"{step['n']:02d}-{name}.png"
            page.screenshot(path=str(path), full_page=False, animations="disabled")
            return path

        try:
            steps(page, c, base, shot, user_token, admin)
        except Exception as e:  # a step that could not go on: record it, keep the picture
            c("the walk through the page finished", False, repr(e))
            try:
                shot("failure")
            except Exception:
                pass
        c("no script errors on the page", not errors, errors[:5])
        browser.close()


def card_categories(page, container="#results"):
    return page.eval_on_selector_all(f"{container} .card", "cs => cs.map(c => c.dataset.category)")


def steps(page, c, base, shot, user_token, admin):
    joiner = user_token(990003)
    # 1. The landing page lists groups; typing pinyin suggests Chinese names.
    page.goto(f"{base}/")
    page.wait_for_selector("#results .card")
    c("the landing page shows group cards", page.locator("#results .card").count() > 0)
    shot("home")
    q = page.locator("#q")
    q.click()
    q.press_sequentially("huwai", delay=60)
    page.wait_for_selector("#suggestions li")
    names = page.eval_on_selector_all("#suggestions .suggestion-name", "ls => ls.map(l => l.textContent)")
    c("pinyin 'huwai' suggests groups named 户外", names and all("户外" in n for n in names), names)
    shot("suggest-pinyin")

    # 2. A Chinese query: suggestions, then Enter searches.
    q.fill("")
    q.press_sequentially("北京", delay=60)
    page.wait_for_function("() => [...document.querySelectorAll('#suggestions .suggestion-name')].some(n => n.textContent.includes('北京'))")
    c("typing 北京 suggests names with 北京", page.locator("#suggestions li").count() > 0)
    shot("suggest")
    q.press("Enter")
    page.wait_for_url(lambda url: "q=%E5%8C%97%E4%BA%AC" in url)
    page.wait_for_function("() => document.querySelectorAll('#results .card').length > 0 && !document.querySelector('#results').classList.contains('loading')")
    c("Enter puts the query in the address", "q=%E5%8C%97%E4%BA%AC" in page.url, page.url)
    c("the suggestions close on search", page.locator("#suggestions").is_hidden())
    marks = page.eval_on_selector_all("#results .card-name mark", "ms => ms.map(m => m.textContent)")
    c("matches are highlighted in card names", marks and all(m == "北京" for m in marks), marks[:5])
    c("no raw highlight markup is shown", "<em>" not in page.inner_text("#results"))
    c("cards show their statistics", page.locator("#results .card").first.locator(".stat").count() == 5)
    shot("results")

    # 3. A category chip filters and goes into the address.
    chips = page.eval_on_selector_all(
        "#chips .chip", "cs => cs.map(c => [c.dataset.category, +c.querySelector('.chip-count').textContent])"
    )
    c("chips show facet counts, 全部 first", len(chips) > 2 and chips[0][0] == "" and all(n > 0 for _, n in chips), chips)
    category, count = chips[1]
    page.click(f'#chips .chip[data-category="{category}"]')
    page.wait_for_url(lambda url: f"category={category}" in url)
    page.wait_for_function(
        "cat => { const cs = [...document.querySelectorAll('#results .card')]; return cs.length > 0 && cs.every(c => c.dataset.category === cat); }",
        arg=category,
    )
    c("the chip puts category= in the address", f"category={category}" in page.url, page.url)
    cats = card_categories(page)
    c(f"every card is in {category}", cats and set(cats) == {category}, cats)
    c("the chip is shown as chosen", page.get_attribute(f'#chips .chip[data-category="{category}"]', "aria-pressed") == "true")
    total = int(page.inner_text("#summary strong"))
    c("the result count is the chip's count", total == count, (total, count))
    shot("category")

    # 4. A card opens the group's detail.
    first = page.locator("#results .card").first
    group_id = first.get_attribute("data-id")
    name = first.locator(".card-name").inner_text()
    first.click()
    page.wait_for_selector("#detail:not([hidden]) #detail-name")
    page.wait_for_function("n => document.querySelector('#detail-name').textContent === n", arg=name)
    c("the detail shows the group's name", page.inner_text("#detail-name") == name)
    c("the detail's address names the group", f"group={group_id}" in page.url, page.url)
    c("the detail shows five statistics", page.locator("#detail .stats.big .stat").count() == 5)
    c("without a token the detail asks for one", "令牌" in page.inner_text("#join-box"))
    shot("detail")

    # 5. Reloading brings back the same view.
    page.reload()
    page.wait_for_selector("#detail:not([hidden]) #detail-name")
    page.wait_for_function("n => document.querySelector('#detail-name').textContent === n", arg=name)
    page.wait_for_function("() => document.querySelectorAll('#results .card').length > 0")
    c("after a reload the query is in the box", page.input_value("#q") == "北京")
    c("after a reload the chip is still chosen", page.get_attribute(f'#chips .chip[data-category="{category}"]', "aria-pressed") == "true")
    c("after a reload the cards are still filtered", set(card_categories(page)) == {category})
    c("after a reload the detail is open", page.inner_text("#detail-name") == name)
    shot("reloaded")

    # 6. History: closing the detail and going back reopens it.
    page.keyboard.press("Escape")
    page.wait_for_selector("#detail", state="hidden")
    c("Escape closes the detail and leaves the address", "group=" not in page.url, page.url)
    page.go_back()
    page.wait_for_selector("#detail:not([hidden]) #detail-name")
    c("Back reopens the detail", f"group={group_id}" in page.url and page.inner_text("#detail-name") == name)
    page.keyboard.press("Escape")
    page.wait_for_selector("#detail", state="hidden")

    # 7. Nearby: a preset city, the plot and the list by distance.
    page.click("#tab-nearby")
    page.wait_for_selector("#nearby-view:not([hidden])")
    page.click('#cities button:has-text("北京")')
    page.wait_for_url(lambda url: "lat=39.9042" in url and "lon=116.4074" in url)
    page.wait_for_function("() => +document.querySelector('#plot').dataset.dots > 0")
    dots = int(page.get_attribute("#plot", "data-dots"))
    cards = page.locator("#nearby-results .card").count()
    c("the plot draws a dot per listed group", dots == cards and dots > 0, (dots, cards))
    c("the rings are scaled to the radius", page.get_attribute("#plot", "data-rings") == "1,2,5", page.get_attribute("#plot", "data-rings"))
    coloured = page.evaluate(
        """() => {
            const c = document.querySelector('#plot');
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let n = 0;
            for (let i = 0; i < d.length; i += 4) {
                const max = Math.max(d[i], d[i + 1], d[i + 2]), min = Math.min(d[i], d[i + 1], d[i + 2]);
                if (max - min > 80) n++;
            }
            return n;
        }"""
    )
    c("the canvas has coloured dots on it", coloured > 200, coloured)
    distances = page.eval_on_selector_all("#nearby-results .distance", "ds => ds.map(d => +d.dataset.m)")
    c("the nearby list has a distance on every card", len(distances) == cards, (len(distances), cards))
    c("nearby distances ascend", distances == sorted(distances), distances)
    c("nearby distances are within the radius", all(d <= 5000 for d in distances), distances[-1:] if distances else None)
    page.hover("#nearby-results .card >> nth=0")
    page.wait_for_selector("#tip:not([hidden])")
    c("hovering a listed group names it on the plot", page.inner_text("#tip strong") == page.locator("#nearby-results .card-name").first.inner_text())
    shot("nearby")

    # 8. A dot on the plot opens its group.
    box = page.locator("#plot").bounding_box()
    # Find a dot by scanning the plot's hit test from the page itself.
    hit = page.evaluate(
        """() => {
            const c = document.querySelector('#plot');
            const r = c.getBoundingClientRect();
            for (let y = 0; y < r.height; y += 2) for (let x = 0; x < r.width; x += 2) {
                const e = new MouseEvent('mousemove', {clientX: r.left + x, clientY: r.top + y, bubbles: true});
                c.dispatchEvent(e);
                if (c.style.cursor === 'pointer') return {x, y};
            }
            return null;
        }"""
    )
    if c("a dot on the plot can be pointed at", hit is not None):
        page.mouse.click(box["x"] + hit["x"], box["y"] + hit["y"])
        page.wait_for_selector("#detail:not([hidden]) #detail-name")
        c("clicking a dot opens that group's detail", "group=" in page.url and "lat=39.9042" in page.url, page.url)
        page.keyboard.press("Escape")
        page.wait_for_selector("#detail", state="hidden")

    # 9. Nearby state survives a reload.
    page.reload()
    page.wait_for_function("() => +document.querySelector('#plot').dataset.dots > 0")
    c("after a reload the nearby view is back", page.locator("#nearby-view").is_visible() and page.input_value("#lat") == "39.9042")

    # 10. With a token the detail shows the viewer and joins.
    page.click("#token-box summary")
    page.fill("#token-input", joiner)
    page.click('#token-form button[type="submit"]')
    c("the token is kept and named", page.inner_text("#token-state") == "用户 990003", page.inner_text("#token-state"))
    joined = None
    for i in range(min(cards, 8)):
        page.locator("#nearby-results .card").nth(i).click()
        page.wait_for_selector("#detail:not([hidden]) #join-box .viewer")
        button = page.locator("#join-button")
        if button.count() and button.is_enabled():
            c("with a token the detail shows the viewer's role", page.get_attribute("#join-box .viewer", "data-role") == "none")
            button.click()
            page.wait_for_selector("#join-result:not([hidden])")
            joined = page.get_attribute("#join-result", "data-status")
            shot("join")
            break
        page.keyboard.press("Escape")
        page.wait_for_selector("#detail", state="hidden")
    c("join answers joined or pending", joined in ("joined", "pending"), joined)
    if joined:
        role = page.get_attribute("#join-box .viewer", "data-role")
        c("after joining the viewer's role follows", role == ("member" if joined == "joined" else "pending"), role)
        # Joining again is refused, and the page says why.
        status, body = http("POST", f"{base}/v1/groups/{page.url.split('group=')[1].split('&')[0]}/join", {}, joiner)
        c("the API refuses a second join", status == 409, (status, body))

    # 11. A group name that is markup is shown as text.
    owner = 990001
    for uid in (owner, 990002):
        http("PUT", f"{base}/v1/users/{uid}", {"nickname": f"测试{uid}", "gender": "female", "birth_year": 1995}, admin)
    http("PUT", f"{base}/v1/users/{owner}/follows/990002", None, admin)
    http("PUT", f"{base}/v1/users/990002/follows/{owner}", None, admin)
    evil = "<img src=x onerror=__xss=1>标记群"
    status, body = http(
        "POST", f"{base}/v1/groups",
        {"name": evil, "category": "outdoor", "join_approval": False, "members_can_invite": True,
         "location": {"lat": 39.91, "lon": 116.40, "place_name": "<b>天安门</b>"}},
        user_token(owner),
    )
    if c("a group with markup in its name is created", status == 201, (status, body)):
        time.sleep(1.2)
        page.goto(f"{base}/?q=onerror")
        page.wait_for_selector("#results .card")
        card = page.locator("#results .card").first
        c("a markup name is shown as text", card.locator(".card-name").inner_text() == evil, card.locator(".card-name").inner_text())
        c("no element comes from a group's name", page.locator("#results .card img, #results .card b").count() == 0)
        c("no script from a group's name ran", page.evaluate("() => window.__xss === undefined"))
        shot("markup-name")

    # 12. A phone-sized screen.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{base}/?q={urllib.parse.quote('户外')}")
    page.wait_for_selector("#results .card")
    width = page.evaluate("() => document.documentElement.scrollWidth")
    c("the page fits a phone's width", width <= 390, width)
    shot("phone")
    page.locator("#results .card").first.click()
    page.wait_for_selector("#detail:not([hidden]) #join-box")
    shot("phone-detail")
    page.goto(f"{base}/?lat=31.2304&lon=121.4737&radius_km=10")
    page.wait_for_function("() => +document.querySelector('#plot').dataset.dots > 0")
    width = page.evaluate("() => document.documentElement.scrollWidth")
    c("the nearby view fits a phone's width", width <= 390, width)
    c("the rings follow a 10 km radius", page.get_attribute("#plot", "data-rings") == "2,5,10", page.get_attribute("#plot", "data-rings"))
    shot("phone-nearby")

    # 13. The API reference at /docs: every operation of /openapi.json, and "Try it" sends
    # a real request with the token given.
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{base}/docs")
    page.wait_for_selector("section.op")
    spec = json.loads(urllib.request.urlopen(f"{base}/openapi.json").read())
    operations = sum(1 for item in spec["paths"].values() for m in item if m in ("get", "post", "put", "patch", "delete"))
    shown = page.locator("section.op[id]:not(#errors)").count()
    c("the reference lists every operation of the document", shown == operations, (shown, operations))
    page.fill("#token", joiner)
    page.dispatch_event("#token", "change")
    op = page.locator("#get-v1-users-id-recommendations")
    op.locator("details.try summary").click()
    op.locator("input[name=id]").fill("990003")
    op.locator("button").click()
    page.wait_for_selector("#get-v1-users-id-recommendations .result pre")
    status = op.locator(".result .status").inner_text()
    c("'Try it' sends the request with the token", status.startswith("200"), status)
    op.locator(".result").scroll_into_view_if_needed()
    shot("docs-try-it")


if __name__ == "__main__":
    sys.exit(main())
