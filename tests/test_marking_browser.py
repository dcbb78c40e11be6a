"""``course-utils mark`` in a real browser (Playwright, Debian's chromium, as test_browser.py).

On a synthetic batch of the real handouts (tests/written_batch.py, 20 students): one question of 20
submissions marked by keyboard alone; a rubric item applied to a whole answer group; two TAs marking
at once (two browsers on one server, and two servers on one database); the server killed (SIGKILL)
mid-marking and restarted with nothing lost; an answer holding ``<script>`` shown as text; and the
walkthrough: batch graded, marked in the browser, gradebook totals = check points + marks.
"""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

import written_batch
from course_staff.written.marking.rubric import DEFAULT_PATH, load
from test_browser import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[1]
QUESTION = "df663ae2"  # Q2 1. the recurrence: the 5th written question of the batch
SCRIPT = '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">'


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def server(report: Path, db: Path | None = None, log: list[str] | None = None, extra: tuple[str, ...] = ()):
    """``course-utils mark`` on a free port: yields (the URL it printed, with its token; the process).
    Its output goes on being read (into ``log``) so that the server never blocks on a full pipe."""
    port = _port()
    command = [sys.executable, "-m", "course_utils", "mark", str(report), "--port", str(port), *extra]
    if db is not None:
        command += ["--db", str(db)]
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    log = [] if log is None else log
    url = None
    for line in proc.stdout:
        log.append(line)
        if found := re.search(r"marking at (\S+)", line):
            url = found[1]
            break
    if url is None:
        proc.wait(10)
        raise AssertionError("".join(log))
    reader = threading.Thread(target=lambda: log.extend(proc.stdout), daemon=True)
    reader.start()
    assert re.fullmatch(rf"http://127\.0\.0\.1:{port}/\?token=[A-Za-z0-9_-]{{40,}}", url), url
    for _ in range(300):
        try:
            urllib.request.urlopen(api(url, "api/questions"), timeout=2)
            break
        except OSError:
            if proc.poll() is not None:
                raise AssertionError("".join(log))
            time.sleep(0.1)
    try:
        yield url, proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(10)
        reader.join(10)


def api(url: str, path: str) -> str:
    """The API ``path`` of the server whose printed URL is ``url``, with its token (as a script calls it)."""
    base, _, query = url.partition("?")
    return base + path + ("&" if "?" in path else "?") + query


@pytest.fixture()
def batch(tmp_path):
    missing = pytest.fail if os.environ.get("CI") else pytest.skip
    if not CHROMIUM.is_file():
        missing(f"no chromium at {CHROMIUM}: apt-get install -y chromium (or set COURSE_CHROMIUM)")
    made = written_batch.make(tmp_path / "subs", students=20, seed=3)
    first = sorted((tmp_path / "subs").glob("*_02_rnn_recurrence.ipynb"))[0]
    text = first.read_text(encoding="utf-8").replace("h_t = x_t", SCRIPT.replace('"', '\\"') + " h_t = x_t", 1)
    first.write_text(text, encoding="utf-8")
    report = tmp_path / "report.csv"
    checks = written_batch.grade_report(made, report)
    return report, checks


@pytest.fixture()
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


def open_page(browser, url: str, ta: str, question_presses: int = 4):
    # bypass_csp: the page forbids eval, which older Playwright (the lowest versions) needs for wait_for_function
    page = browser.new_context(bypass_csp=True).new_page()
    page.goto(f"{url}&ta={ta}")
    page.wait_for_selector("body[data-ready='1']")
    for _ in range(question_presses):
        page.keyboard.press("]")
    page.wait_for_function("t => document.getElementById('title').textContent.startsWith(t)", arg="Q2 1.")
    return page


def press(page, key: str) -> None:
    before = int(page.evaluate("document.body.dataset.saved || 0"))
    page.keyboard.press(key)
    page.wait_for_function("n => Number(document.body.dataset.saved || 0) > n", arg=before)


def marks(db: Path, question: str, rubric: Path = ROOT / DEFAULT_PATH) -> dict[str, set[int]]:
    """file -> the positions (from 0) in ``rubric`` of the items applied (marks are stored by item id)."""
    spec = load(rubric).question(question)
    conn = sqlite3.connect(db)
    found: dict[str, set[int]] = {}
    for file, item in conn.execute("SELECT a.file, m.item FROM marks m JOIN answers a ON a.id = m.answer_id "
                                   "WHERE a.question = ? AND m.applied = 1", (question,)):
        found.setdefault(file, set()).add(spec.items.index(spec.item(item)))
    conn.close()
    return found


def test_one_question_of_20_marked_by_keyboard_alone_and_script_shown_as_text(batch, browser):
    report, _ = batch
    with server(report) as (url, _proc):
        page = open_page(browser, url, "alice")
        assert page.locator(".answer").count() == 20
        assert SCRIPT in page.locator("#answers").inner_text()  # shown as text ...
        assert page.evaluate("window.pwned") is None  # ... and never run
        assert page.locator("#answers script, #answers img").count() == 0
        for index in range(20):
            press(page, "1")
            if index % 2:
                press(page, "3")
            page.keyboard.press("j")
        page.keyboard.press("c")
        page.wait_for_selector("#comment:focus")
        page.keyboard.type("see the bias")
        before = int(page.evaluate("document.body.dataset.saved"))
        page.keyboard.press("Enter")
        page.wait_for_function("n => Number(document.body.dataset.saved) > n", arg=before)
        assert "20/20 marked" in page.locator("#progress").inner_text()
        assert "alice" not in page.locator("#answers").inner_text().split("marked by")[0]
        assert "doe0" not in page.locator("#answers").inner_text()  # anonymous by default
        # a shortcut is a key pressed outside the comment box: wait until the saved comment has left it
        page.wait_for_function("() => !document.activeElement || !document.activeElement.matches('input, textarea')")
        page.keyboard.press("n")
        page.wait_for_function("() => document.getElementById('answers').innerText.includes('doe0')")
    found = marks(report.with_suffix(".marks.sqlite"), QUESTION)
    assert len(found) == 20 and all(0 in items for items in found.values())
    assert sum(2 in items for items in found.values()) == 10
    conn = sqlite3.connect(report.with_suffix(".marks.sqlite"))
    assert conn.execute("SELECT comment FROM comments").fetchall() == [("see the bias",)]


def test_a_rubric_item_applied_to_a_whole_group(batch, browser):
    report, _ = batch
    with server(report) as (url, _proc):
        page = open_page(browser, url, "alice")
        size = int(page.locator(".answer").first.get_attribute("data-group") == "0") and page.locator(
            ".answer[data-group='0']").count()
        assert size > 1
        page.keyboard.press("Shift+Digit2")  # only the first answer seen: the box asks about the rest
        page.wait_for_selector("#confirm:not([hidden])")
        assert f"{size - 1} of its {size} answers you have not seen" in page.locator("#confirm").inner_text()
        press(page, "a")  # all of them
        page.wait_for_function("n => document.querySelectorAll(\".answer[data-items='2']\").length === n", arg=size)
    found = marks(report.with_suffix(".marks.sqlite"), QUESTION)
    assert len(found) == size and all(items == {1} for items in found.values())


def test_two_tas_at_once_lose_no_mark(batch, browser):
    report, _ = batch
    db = report.with_suffix(".marks.sqlite")
    with server(report) as (url, _proc), server(report, db) as (url2, _proc2):
        alice, bob = open_page(browser, url, "alice"), open_page(browser, url2, "bob")
        bob.keyboard.press("j")  # bob starts one answer further down
        for _ in range(10):  # interleaved: both write the same answers, different items
            press(alice, "1")
            press(bob, "2")
            alice.keyboard.press("j")
            bob.keyboard.press("j")
        errors = []

        def hammer(base: str, item: int) -> None:
            ids = json.load(urllib.request.urlopen(api(base, "api/question/3a74adbd")))["answers"]
            for answer in ids:
                body = json.dumps({"answers": [answer["id"]], "item": item, "applied": True, "ta": base[:30]}).encode()
                request = urllib.request.Request(api(base, "api/mark"), body, {"Content-Type": "application/json"})
                if urllib.request.urlopen(request).status != 200:
                    errors.append(answer)

        threads = [threading.Thread(target=hammer, args=(base, item)) for base, item in ((url, 0), (url2, 1), (url, 2))]
        [t.start() for t in threads]
        [t.join() for t in threads]
    assert not errors
    found = marks(db, QUESTION)
    assert sum(0 in s for s in found.values()) == 10 and sum(1 in s for s in found.values()) == 10
    assert sum(s == {0, 1} for s in found.values()) == 9  # the nine answers both TAs marked
    assert all(s == {0, 1, 2} for s in marks(db, "3a74adbd").values()) and len(marks(db, "3a74adbd")) == 20


def test_server_killed_mid_marking_restarts_with_nothing_lost(batch, browser):
    report, _ = batch
    with server(report) as (url, proc):
        page = open_page(browser, url, "alice")
        for _ in range(7):
            press(page, "1")
            page.keyboard.press("j")
        os.killpg(proc.pid, signal.SIGKILL)  # no shutdown of any kind
        proc.wait(10)
    with server(report) as (url, _proc):  # the same database, loaded again from the same report
        page = open_page(browser, url, "alice")
        assert page.locator(".answer[data-items='1']").count() == 7
        assert page.locator(".answer[data-marked='1']").count() == 7


def test_walkthrough_gradebook_totals_are_check_points_plus_marks(batch, browser, tmp_path):
    report, checks = batch
    with server(report) as (url, _proc):
        page = open_page(browser, url, "alice")
        page.keyboard.press("Shift+Digit1")  # the largest group first, confirmed for its unseen answers
        page.wait_for_selector("#confirm:not([hidden])")
        press(page, "a")
        for _ in range(20):
            press(page, "3")
            page.keyboard.press("j")
        page.keyboard.press("]")  # the next question: 3a74adbd
        page.wait_for_function("() => document.getElementById('title').textContent.startsWith('Q2 6.')")
        for _ in range(5):
            press(page, "Digit4")
            page.keyboard.press("j")
    out = tmp_path / "gradebook.csv"
    subprocess.run([sys.executable, "-m", "course_utils", "gradebook", str(report), "--out", str(out)], cwd=ROOT, check=True)
    rows = {r["student"]: r for r in csv.DictReader(out.open())}
    db = report.with_suffix(".marks.sqlite")
    written = {f: len(items - {3}) for f, items in marks(db, QUESTION).items()}  # Q2 1.: items 1-3 worth 1, item 4 is -1
    written_q6 = {f: len(items) for f, items in marks(db, "3a74adbd").items()}
    assert len(rows) == 20 and sum(written_q6.values()) == 5
    for student, row in rows.items():
        files = row["files"].split()
        expected = sum(checks[f] for f in files) + sum(written.get(f, 0) + written_q6.get(f, 0) for f in files)
        assert float(row["total"]) == expected
        assert float(row["total"]) == float(row["checks"]) + float(row["written"])


def slow_answers(page, question: str, ms: int) -> None:
    """Make the page's loads of ``question``'s answers (any question: "") come back ``ms`` later, in the
    page itself (a timer, so the page and the test go on meanwhile)."""
    page.evaluate("""([question, ms]) => { const real = window.fetch;
        window.fetch = async (...args) => { const response = await real(...args);
          if (String(args[0]).includes("/api/question/" + question)) await new Promise(ok => setTimeout(ok, ms));
          return response; }; }""", [question, ms])


def test_a_late_answer_for_an_older_question_never_replaces_the_one_shown(batch, browser):
    """"]" pressed quickly: each press loads its question's answers, and an older load that answers after
    a newer one must be dropped. Before the fix the page showed the older question (its title, its
    answers) while the selector named the newer one, and a key then marked whichever was on screen."""
    report, _ = batch
    with server(report) as (url, _proc):
        page = browser.new_context(bypass_csp=True).new_page()
        page.goto(f"{url}&ta=alice")
        page.wait_for_selector("body[data-ready='1']")
        questions = page.evaluate("questions.map(q => q.question)")
        slow = questions[3]  # the fourth question's answers come back late
        slow_answers(page, slow, 1000)
        for _ in range(4):  # to the fifth question, Q2 1., through the slow fourth
            page.keyboard.press("]")
        page.wait_for_function("t => document.getElementById('title').textContent.startsWith(t)", arg="Q2 1.")
        page.wait_for_timeout(1500)  # the slow answer has come back by now
        assert page.evaluate("document.getElementById('title').textContent").startswith("Q2 1.")
        assert page.evaluate("spec.id") == QUESTION == questions[int(page.evaluate("qIndex"))]
        press(page, "Digit1")
    found = marks(report.with_suffix(".marks.sqlite"), QUESTION)
    assert list(found.values()) == [{0}] and not marks(report.with_suffix(".marks.sqlite"), slow)


def test_two_keys_on_one_answer_before_its_reload_toggle_the_item_off_again(batch, browser):
    """A mark is shown and read by the next key as soon as it is saved, not only after the reload."""
    report, _ = batch
    with server(report) as (url, _proc):
        page = open_page(browser, url, "alice")
        slow_answers(page, "", 500)
        press(page, "Digit1")
        press(page, "Digit1")  # the answers' reload after the first is still under way
        page.wait_for_timeout(1200)
        assert page.locator(".answer.current").get_attribute("data-items") == ""
    found = marks(report.with_suffix(".marks.sqlite"), QUESTION)
    assert all(items == set() for items in found.values())


def test_no_way_in_for_other_pages_without_the_token_or_by_dns_rebinding(batch, tmp_path):
    """Issue 37 (6): the TA's browser has the page open (its cookie set); a page of another local server
    (127.0.0.1, another port: the same *site*, so even a SameSite=Strict cookie goes with its requests)
    posts a mark as a form (text/plain) and with fetch, and a name rebound to 127.0.0.1 (DNS rebinding,
    played by Chromium's host resolver rules) reads the API: nothing is saved, nothing is read, and the
    server's log never shows the token."""
    from playwright.sync_api import sync_playwright

    report, _ = batch
    db = report.with_suffix(".marks.sqlite")
    log: list[str] = []
    with server(report, log=log) as (url, _proc), sync_playwright() as playwright:
        port = int(re.search(r":(\d+)/", url)[1])
        token = url.split("token=")[1]
        base = f"http://127.0.0.1:{port}/"
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                              args=[*CHROMIUM_ARGS, "--host-resolver-rules=MAP rebound.test 127.0.0.1"])
        try:
            context = chromium.new_context(bypass_csp=True)  # older Playwright evaluates wait_for_function by eval
            ta = context.new_page()
            refused = ta.goto(base)  # the URL without its token
            assert refused.status == 403 and "Open the URL that course-utils mark printed" in ta.inner_text("body")
            ta.goto(f"{url}&ta=alice")
            ta.wait_for_selector("body[data-ready='1']")
            assert any(c["name"] == f"course_mark_{port}" and c["httpOnly"] and c["sameSite"] == "Strict"
                       for c in context.cookies())
            answer = json.load(urllib.request.urlopen(api(url, f"api/question/{QUESTION}")))["answers"][0]["id"]
            evil_origin = f"http://127.0.0.1:{_port()}"
            body = json.dumps({"answers": [answer], "item": 0, "applied": True, "ta": "mallory"})
            evil_html = f"""<!doctype html><body><form id="f" method="POST" enctype="text/plain"
                action="{base}api/mark"><input name='{body[:-1]}, "x": "' value='"}}'></form>
                <script>fetch("{base}api/mark", {{method: "POST", mode: "no-cors", credentials: "include",
                  headers: {{"Content-Type": "text/plain"}}, body: {json.dumps(body)}}})
                  .finally(() => document.getElementById("f").submit());</script></body>"""
            context.route(f"{evil_origin}/evil.html", lambda route: route.fulfill(body=evil_html, content_type="text/html"))
            evil = context.new_page()
            with evil.expect_navigation(url=f"{base}api/mark"):
                evil.goto(f"{evil_origin}/evil.html")
            assert "another site" in evil.inner_text("body")  # the form's POST: refused for its Origin
            rebound = context.new_page()
            for path in ("", "api/questions", f"?token={token}", f"api/questions?token={token}"):
                response = rebound.goto(f"http://rebound.test:{port}/{path}")
                assert response.status == 403 and "Host" in rebound.inner_text("body"), path
            # the TA's own page still saves
            before = int(ta.evaluate("document.body.dataset.saved || 0"))
            ta.keyboard.press("]")
            ta.keyboard.press("2")
            ta.wait_for_function("n => Number(document.body.dataset.saved || 0) > n", arg=before)
        finally:
            chromium.close()
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT ta FROM marks WHERE ta = 'mallory'").fetchall() == []
    assert conn.execute("SELECT count(*) FROM marks WHERE ta = 'alice'").fetchone()[0] == 1
    text = "".join(log)
    assert text.count(token) == 1 and "token=[hidden]" in text  # the log never shows the token again
    posts = re.findall(r"POST /api/mark[^\n]*?\" (\d+)", text)  # the fetch: refused, unless the browser
    assert posts[-1] == "200" and set(posts[:-1]) == {"403"}, posts  # stopped it first (local network access)


def test_walkthrough_at_scale_group_marks_blanks_counts_scroll_math_rubric_regrade_pairs(batch, browser, tmp_path):
    """Issue 40 (2), each fix in the page: a group mark reaches the answers seen unless a box, saying how many
    are unseen, is answered "all"; "b" marks the blank answers; the question list's counts follow without a
    reload and the 4-second reload leaves the scroll where the TA put it; the prompt's LaTeX is typeset by the
    vendored KaTeX; a rubric item re-pointed and one added in the page count for every answer with them (the
    gradebook agrees); a regrade with a reason keeps its history; the pairs of the question, both passages
    side by side, judged by key."""
    report, checks = batch
    db = report.with_suffix(".marks.sqlite")
    rubric = tmp_path / "written_rubric.json"
    rubric.write_text((ROOT / DEFAULT_PATH).read_text())
    from course_staff.written import answers as answers_mod

    kept = answers_mod.read_csv(report.with_suffix(".answers.csv"))  # two students left Q2 1. blank
    left = [a.file for a in kept if a.question == QUESTION][-2:]
    answers_mod.write_csv([answers_mod.Answer(a.file, a.handout, a.question, a.prompt, answers_mod.NOT_ANSWERED)
                           if a.question == QUESTION and a.file in left else a for a in kept],
                          report.with_suffix(".answers.csv"))
    written = {a["file"]: a for a in csv.DictReader(report.with_suffix(".answers.csv").open()) if a["question"] == QUESTION}
    files = sorted(written)
    pairs = tmp_path / "pairs.csv"
    pairs.write_text(f"a,b,part,question,score\n{files[0]},{files[1]},prose,{QUESTION},0.91\n"
                     f"{files[0]},{files[2]},code,,0.8\n{files[2]},{files[3]},prose,3a74adbd,0.7\n")
    with server(report, extra=("--rubric", str(rubric), "--pairs", str(pairs))) as (url, _proc):
        page = open_page(browser, url, "alice")
        option = "#question option:checked"
        assert page.locator(option).inner_text().endswith("(0/20)")
        # math: the prompt's $h_t$ typeset by KaTeX, served by the server itself
        assert page.locator("#prompt .katex").count() >= 3 and page.evaluate("typeof katex") == "object"
        # a group mark: the box says how many are unseen; Escape does nothing, "s" marks the seen only
        size = page.locator(".answer[data-group='0']").count()
        assert size > 1 and page.locator(".answer").first.get_attribute("data-group") == "0"
        page.keyboard.press("Shift+Digit2")
        page.wait_for_selector("#confirm:not([hidden])")
        assert f"{size - 1} of its {size} answers you have not seen" in page.locator("#confirm").inner_text()
        page.keyboard.press("Escape")
        page.wait_for_selector("#confirm", state="hidden")
        assert marks(db, QUESTION, rubric) == {}
        page.keyboard.press("Shift+Digit2")
        page.wait_for_selector("#confirm:not([hidden])")
        press(page, "s")
        assert list(marks(db, QUESTION, rubric).values()) == [{1}]
        page.wait_for_function("o => document.querySelector(o).textContent.endsWith('(1/20)')", arg=option)  # live count
        # the blank answers, by one key
        blank = page.locator(".answer[data-blank='1']").count()
        from course_staff.written.groups import is_blank

        shown = [a for a in answers_mod.read_csv(report.with_suffix(".answers.csv")) if a.question == QUESTION]
        assert blank == sum(is_blank(a.answer) for a in shown) >= 2  # the two left blank, and any the batch drew
        press(page, "b")
        page.wait_for_function("n => document.querySelectorAll(\".answer[data-blank='1'][data-marked='1']\").length === n",
                               arg=blank)
        page.wait_for_function("([o, n]) => document.querySelector(o).textContent.endsWith('(' + n + '/20)')",
                               arg=[option, blank + 1])
        # the scroll: the TA scrolls down, another TA marks, the reload shows it and leaves the scroll
        top = page.evaluate("(() => { const m = document.getElementById('main'); m.scrollTop = m.scrollHeight; return m.scrollTop; })()")
        assert top > 500
        other = json.load(urllib.request.urlopen(api(url, f"api/question/{QUESTION}")))["answers"][-1]["id"]
        body = json.dumps({"answers": [other], "item": 0, "ta": "bob"}).encode()
        urllib.request.urlopen(urllib.request.Request(api(url, "api/mark"), body, {"Content-Type": "application/json"}))
        page.wait_for_function("id => document.querySelector(`.answer[data-id='${id}']`).dataset.items === '1'", arg=other,
                               timeout=10000)
        page.wait_for_function("([o, n]) => document.querySelector(o).textContent.endsWith('(' + n + '/20)')",
                               arg=[option, blank + 2], timeout=10000)
        assert page.evaluate("document.getElementById('main').scrollTop") == top
        page.keyboard.press("k")  # the TA's own move still brings the current answer into view
        page.wait_for_timeout(300)
        # the rubric: item 1 re-pointed to 2 (bob's answer follows), an item added and applied by its key
        page.locator(".item[data-key='1'] button.edit").click()
        page.locator(".edit-points").fill("2")
        before = int(page.evaluate("document.body.dataset.saved"))
        page.locator(".edit-points").press("Enter")
        page.wait_for_function("n => Number(document.body.dataset.saved) > n", arg=before)
        page.wait_for_function("id => document.querySelector(`.answer[data-id='${id}'] .group`).textContent.includes(' 2/4 ')",
                               arg=other)
        page.locator("#new-points").fill("0.5")
        page.locator("#new-text").fill("states $h_0 = 0$")
        before = int(page.evaluate("document.body.dataset.saved"))
        page.locator("#add-item").click()
        page.wait_for_function("n => Number(document.body.dataset.saved) > n", arg=before)
        page.wait_for_selector(".item[data-key='5'] .katex")
        page.keyboard.press("Home")
        page.locator(".answer").first.click()
        press(page, "Digit5")
        page.wait_for_function("() => document.querySelector('.answer.current').dataset.items === '2,5'")
        spec = load(rubric).question(QUESTION)
        assert spec.items[0].points == 2 and spec.items[4].text == "states $h_0 = 0$" and spec.max_points == 4.5
        # a regrade: reopened with a reason, an item taken off, closed by 0
        page.keyboard.press("r")
        page.wait_for_selector("#reason:focus")
        page.keyboard.type("the student asked: item 2 was for another reading")
        press(page, "Enter")
        page.wait_for_selector(".answer.current .regrade")
        press(page, "Digit2")
        press(page, "Digit0")
        page.wait_for_function("() => !document.querySelector('.answer.current .regrade')")
        assert "regraded 1x" in page.locator(".answer.current .group").inner_text()
        # the pairs of this question only, both passages side by side, confirmed by key
        page.keyboard.press("p")
        page.wait_for_selector("#pairs:not([hidden]) .pair")
        assert page.locator("#pairs .pair").count() == 1 and page.locator("#answers").is_hidden()
        left, right = (page.locator("#pairs .passage").nth(i).bounding_box() for i in range(2))
        assert left["x"] + left["width"] <= right["x"] and abs(left["y"] - right["y"]) < 2
        assert written[files[1]]["answer"].split()[0] in page.locator("#pairs .passage").nth(1).inner_text()
        press(page, "y")
        page.keyboard.press("p")
        page.wait_for_selector("#answers:not([hidden])")
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT verdict FROM pairs WHERE part = 'prose' AND question = ?", (QUESTION,)).fetchall() == [("confirmed",)]
    from course_staff.written.marking import db as marking_db

    regrades = marking_db.regrades(marking_db.connect(db))
    assert [(r["reason"], len(r["before"]), len(r["after"])) for r in regrades] == [
        ("the student asked: item 2 was for another reading", 2, 1)]
    found = marks(db, QUESTION, rubric)
    assert found[regrades[0]["file"]] == {4} and sum(items == {0} for items in found.values()) == 1
    out = tmp_path / "gradebook.csv"
    subprocess.run([sys.executable, "-m", "course_utils", "gradebook", str(report), "--out", str(out),
                    "--rubric", str(rubric)], cwd=ROOT, check=True)
    rows = {r["student"]: r for r in csv.DictReader(out.open())}
    assert sum(float(r["written"]) for r in rows.values()) == 2 + 0.5  # bob's item 1 re-pointed to 2; the added 0.5
    for row in rows.values():
        assert float(row["total"]) == sum(checks[f] for f in row["files"].split()) + float(row["written"])
