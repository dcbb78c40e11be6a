"""Written answers without a browser: regrades keep marks, groups, similarity on the synthetic batch, gradebook."""

from __future__ import annotations

import csv
import json
import shutil

import pytest

import written_batch
from course_staff.written import answers as answers_mod
from course_staff.written import gradebook, groups
from course_staff.written.marking import db
from course_staff.written.marking.command import load_batch
from course_staff.written.marking.rubric import DEFAULT_PATH, load
from course_staff.written.pairs import Pair, read_csv, write_csv
from course_staff.written.similarity import compare, write_html
from course_utils import cli

ROOT = written_batch.ROOT


@pytest.fixture(scope="module")
def batch40(tmp_path_factory):
    folder = tmp_path_factory.mktemp("written")
    made = written_batch.make(folder / "subs", students=40, seed=0)
    report = folder / "report.csv"
    checks = written_batch.grade_report(made, report)
    return made, report, checks


def test_commands_are_registered():
    for name in ("mark", "similarity", "gradebook"):
        assert cli.available()[name][0].startswith("course_staff.")


def test_written_rubric_names_every_blank_of_the_handouts():
    from course_staff.formats.handouts import load_handouts

    rubric = load(ROOT / DEFAULT_PATH)
    blanks = {q for h in load_handouts(ROOT / "notebooks").values() for q in h.blanks}
    assert blanks == set(rubric.questions)
    q = rubric.question("df663ae2")
    assert q.max_points == 3 and q.score({0, 1, 2, 3}) == 2 and q.score({3}) == 0


def test_groups_put_blanks_apart_and_the_largest_first():
    texts = ["(not answered)", "", "TODO", "h_t = x_t - h_{t-1}, h_0 = 0", "h_t = x_t - h_{t-1} and h_0 = 0",
             "h_t = x_t - h_{t-1}; h_0 = 0.", "the output is the average of the inputs"]
    labels = groups.group(texts)
    assert len({labels[i] for i in (0, 1, 2)}) == 1
    assert labels[3] == labels[4] == labels[5] and labels[6] not in {labels[0], labels[3]}
    sizes = [labels.count(g) for g in sorted(set(labels))]
    assert sizes == sorted(sizes, reverse=True)


def test_planted_pairs_rank_first_and_the_csv_is_sorted(batch40, tmp_path):
    made, _, _ = batch40
    pairs, works, skipped = compare.run(made.folder, ROOT / "notebooks", threshold=0.0)
    assert not skipped and len(works) == 160
    ranks = {(p.a, p.b, p.part, p.question): i for i, p in enumerate(pairs)}
    code = [frozenset((p.a, p.b)) for p in pairs if p.part == "code"]
    planted = {frozenset((p["a"], p["b"])) for p in made.planted if p["part"] == "code"}
    assert set(code[:len(planted)]) == planted  # the planted code copies are the top code pairs
    copies = min(p.score for p in pairs if p.part == "code" and frozenset((p.a, p.b)) in planted)
    assert max(p.score for p in pairs if p.part == "code" and frozenset((p.a, p.b)) not in planted) < copies
    listed, _, _ = compare.run(made.folder, ROOT / "notebooks")  # the default: relative to the batch
    assert {frozenset((p.a, p.b)) for p in listed if p.part == "code"} >= planted
    assert all(p.why for p in listed) and len(listed) < len(pairs) // 10
    for copy in (p for p in made.planted if p["part"] == "prose"):  # each prose copy in its question's top 3
        ordered = [(p.a, p.b) for p in pairs if p.part == "prose" and p.question == copy["question"]]
        assert (copy["a"], copy["b"]) in ordered[:3] or (copy["b"], copy["a"]) in ordered[:3]
    assert ranks
    out = tmp_path / "pairs.csv"
    write_csv(pairs, out)
    rows = list(csv.reader(out.open()))
    assert rows[0] == ["a", "b", "part", "question", "score", "why"]
    scores = [float(r[4]) for r in rows[1:]]
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)
    assert {r[2] for r in rows[1:]} == {"code", "prose"} and all(r[3] == "" for r in rows[1:] if r[2] == "code")
    assert len(read_csv(out)) == len(pairs)


def test_similarity_html_escapes_the_submissions(tmp_path):
    pair = Pair("a.ipynb", "b.ipynb", "prose", "q", 0.9)
    works = [compare.Work("a.ipynb", "h", "x = '<script>'", {"q": "<script>alert(1)</script>"}),
             compare.Work("b.ipynb", "h", "", {"q": "<b>bold</b>"})]
    out = tmp_path / "pairs.html"
    write_html([pair], works, out, 10)
    page = out.read_text()
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<b>" not in page


def _copied_report(batch40, tmp_path):
    """The batch's report and its written answers, copied into ``tmp_path`` (a test may change them)."""
    _, report, _ = batch40
    copy = tmp_path / "report.csv"
    shutil.copy(report, copy)
    shutil.copy(report.with_suffix(".answers.csv"), copy.with_suffix(".answers.csv"))
    return copy


def test_a_regraded_batch_keeps_unchanged_marks_and_flags_changed_ones(batch40, tmp_path):
    report2 = _copied_report(batch40, tmp_path)
    path = tmp_path / "marks.sqlite"
    assert load_batch(report2, path)["new"] == 440
    conn = db.connect(path)
    ids = [a["id"] for a in db.answers_of(conn, "df663ae2")]
    db.set_mark(conn, ids, 0, True, "alice")
    written = answers_mod.read_csv(report2.with_suffix(".answers.csv"))
    target = next(a for a in written if a.question == "df663ae2")
    written = [a if a is not target else answers_mod.Answer(a.file, a.handout, a.question, a.prompt, a.answer + " (edited)")
               for a in written]
    answers_mod.write_csv(written, report2.with_suffix(".answers.csv"))
    assert load_batch(report2, path) == {"new": 0, "unchanged": 439, "changed": 1}
    found = db.answers_of(conn, "df663ae2")
    assert all(a["items"] == ["#0"] for a in found)  # by position (an int) until a rubric binds it to an id
    assert [a["file"] for a in found if a["changed"]] == [target.file]
    db.set_mark(conn, [next(a["id"] for a in found if a["changed"])], -1, True, "bob")  # a TA looks again
    assert not any(a["changed"] for a in db.answers_of(conn, "df663ae2"))


def test_gradebook_adds_marks_to_check_points_and_a_regrade_keeps_marks(batch40, tmp_path):
    _, report, checks = batch40
    report2 = tmp_path / "report.csv"
    shutil.copy(report, report2)
    shutil.copy(report.with_suffix(".answers.csv"), report2.with_suffix(".answers.csv"))
    load_batch(report2, report2.with_suffix(".marks.sqlite"))
    conn = db.connect(report2.with_suffix(".marks.sqlite"))
    for answer in db.answers_of(conn, "3a74adbd"):
        db.set_mark(conn, [answer["id"]], 0, True, "alice")
    rubric = load(ROOT / DEFAULT_PATH)
    rows, check_ids, written = gradebook.build(report2, report2.with_suffix(".marks.sqlite"), rubric)
    assert len(rows) == 40 and "written:3a74adbd" in written
    for row in rows:
        assert row["total"] == sum(checks[f] for f in row["files"]) + 1
    text = report2.read_text().replace(",pass,", ",fail,")  # regraded: every check score changes
    lines = text.splitlines()
    header = lines[0].split(",")
    regraded = [header] + [r.split(",") for r in lines[1:]]
    for r in regraded[1:]:
        r[2] = "0"
    report2.write_text("\n".join(",".join(r) for r in regraded) + "\n")
    load_batch(report2, report2.with_suffix(".marks.sqlite"))
    rows, _, written = gradebook.build(report2, report2.with_suffix(".marks.sqlite"), rubric)
    assert all(row["checks"] == 0 and row["written"] == 1 and row["total"] == 1 for row in rows)
    gradebook.write_canvas(rows, "Assignment 3", tmp_path / "canvas.csv")
    canvas = list(csv.reader((tmp_path / "canvas.csv").open()))
    assert canvas[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Assignment 3"]
    assert canvas[1][0] == "Points Possible" and len(canvas) == 42 and canvas[2][1] == "1000"
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"score": 3, "tests": [{"name": "q2.step", "score": 2, "max_score": 2}]}))
    gradebook.add_to_gradescope(results, rows[0], rubric, written)
    data = json.loads(results.read_text())
    assert [t["name"] for t in data["tests"]][:2] == ["q2.step", "written: Q1 (a1) CNN benefit 1: parallel, fixed number of dependent steps"]
    assert any(t["name"] == "written: Q2 6. what y_2N computes" and t["score"] == 1 for t in data["tests"])


# -- the marking server is no way in: token, Host, Origin, JSON bodies (issue 37, item 6) ----------------------

PORT = 8765
BASE = f"http://127.0.0.1:{PORT}"


@pytest.fixture()
def mark_app(batch40, tmp_path):
    from course_staff.written.marking.app import create_app

    report2 = _copied_report(batch40, tmp_path)
    path = tmp_path / "marks.sqlite"
    load_batch(report2, path)
    token = "t0ken-" + "x" * 40
    app = create_app(path, load(ROOT / DEFAULT_PATH), token=token, host="127.0.0.1", port=PORT)
    return app, token, path


def _marks_in(path) -> int:
    conn = db.connect(path)
    try:
        return conn.execute("SELECT count(*) FROM marks").fetchone()[0]
    finally:
        conn.close()


def _mark_body(client, token: str) -> bytes:
    answers = client.get(f"/api/question/df663ae2?token={token}", base_url=BASE).get_json()["answers"]
    return json.dumps({"answers": [answers[0]["id"]], "item": 0, "applied": True, "ta": "alice"}).encode()


def test_mark_app_answers_nothing_without_its_token(mark_app):
    app, token, path = mark_app
    client = app.test_client()
    for url in ("/", "/api/questions", "/api/question/df663ae2", "/api/pairs"):
        refused = client.get(url, base_url=BASE)
        assert refused.status_code == 403, url
        assert "Open the URL that course-utils mark printed" in refused.get_data(as_text=True)
        assert token not in refused.get_data(as_text=True)
    for wrong in ("", "x", token[:-1], token + "x", token.upper()):
        assert client.get(f"/api/questions?token={wrong}", base_url=BASE).status_code == 403
        assert client.get("/api/questions", base_url=BASE, headers={"Authorization": f"token {wrong}"}).status_code == 403
    body = json.dumps({"answers": [1], "item": 0, "ta": "mallory"})
    assert client.post("/api/mark", base_url=BASE, data=body, content_type="application/json").status_code == 403
    assert client.post("/api/mark?token=nope", base_url=BASE, data=body, content_type="application/json").status_code == 403
    assert _marks_in(path) == 0


def test_mark_app_with_its_token_works_and_the_cookie_carries_it(mark_app):
    app, token, path = mark_app
    page = app.test_client().get(f"/?token={token}&ta=alice", base_url=BASE)
    assert page.status_code == 200 and "<script>" in page.get_data(as_text=True)
    cookie = page.headers["Set-Cookie"]
    assert cookie.startswith(f"course_mark_{PORT}={token};")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert page.headers["Referrer-Policy"] == "no-referrer"
    client = app.test_client()
    client.set_cookie(f"course_mark_{PORT}", token, domain="127.0.0.1")
    assert client.get("/api/questions", base_url=BASE).status_code == 200  # the page's own fetches: the cookie
    body = _mark_body(client, token)
    saved = client.post("/api/mark", base_url=BASE, data=body, content_type="application/json",
                        headers={"Origin": BASE})  # what the browser sends with the page's POSTs
    assert saved.status_code == 200 and saved.get_json()["saved"] == 1 and _marks_in(path) == 1
    scripted = app.test_client().get("/api/questions", base_url=BASE, headers={"Authorization": f"token {token}"})
    assert scripted.status_code == 200 and "Set-Cookie" not in scripted.headers
    for host in ("localhost", "[::1]"):
        assert app.test_client().get(f"/api/questions?token={token}", base_url=f"http://{host}:{PORT}").status_code == 200


def test_mark_app_refuses_other_hosts_and_other_sites(mark_app):
    app, token, path = mark_app
    client = app.test_client()
    for host in ("evil.example", f"evil.example:{PORT}", f"127.0.0.1:{PORT + 1}", "127.0.0.1", f"10.1.2.3:{PORT}",
                 f"localhost.evil.example:{PORT}", ""):
        refused = client.get(f"/api/questions?token={token}", base_url=BASE, headers={"Host": host})
        assert refused.status_code == 403 and "Host" in refused.get_data(as_text=True), host
    body = _mark_body(client, token)
    for origin in ("http://evil.example", f"http://evil.example:{PORT}", "null", f"https://127.0.0.1:{PORT}",
                   f"http://127.0.0.1:{PORT + 1}", f"http://localhost:{PORT}"):
        refused = client.post(f"/api/mark?token={token}", base_url=BASE, data=body, content_type="application/json",
                              headers={"Origin": origin})
        assert refused.status_code == 403 and "another site" in refused.get_data(as_text=True), origin
        assert client.get(f"/api/questions?token={token}", base_url=BASE, headers={"Origin": origin}).status_code == 403
    assert _marks_in(path) == 0


def test_mark_app_refuses_bodies_that_are_not_json(mark_app):
    app, token, path = mark_app
    client = app.test_client()
    body = _mark_body(client, token)
    for content_type in ("text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded",
                         "multipart/form-data; boundary=x", None):
        kwargs = {"content_type": content_type} if content_type else {}
        refused = client.post(f"/api/mark?token={token}", base_url=BASE, data=body, **kwargs)
        assert refused.status_code == 415, content_type
        assert "application/json" in refused.get_data(as_text=True)
    assert _marks_in(path) == 0
    assert client.post(f"/api/mark?token={token}", base_url=BASE, data=body,
                       content_type="application/json; charset=utf-8").status_code == 200
    assert _marks_in(path) == 1


def test_mark_app_on_all_addresses_takes_ip_hosts_but_not_names(mark_app):
    from course_staff.written.marking.app import create_app

    app, token, path = mark_app
    wide = create_app(path, load(ROOT / DEFAULT_PATH), token=token, host="0.0.0.0", port=PORT)
    client = wide.test_client()
    assert client.get(f"/api/questions?token={token}", base_url=f"http://10.1.2.3:{PORT}").status_code == 200
    assert client.get(f"/api/questions?token={token}", base_url=f"http://evil.example:{PORT}").status_code == 403
    with pytest.raises(ValueError):
        create_app(path, load(ROOT / DEFAULT_PATH), token="")


def test_mark_command_prints_a_new_token_each_start_and_keeps_it_out_of_its_log(batch40, tmp_path, monkeypatch, capsys):
    import argparse
    import re

    import werkzeug.serving

    from course_staff.written.marking import command

    _, report, _ = batch40
    report2 = tmp_path / "report.csv"
    shutil.copy(report, report2)
    shutil.copy(report.with_suffix(".answers.csv"), report2.with_suffix(".answers.csv"))
    served = []
    monkeypatch.setattr(werkzeug.serving, "run_simple", lambda *a, **k: served.append((a, k)))
    parser = argparse.ArgumentParser()
    command.mark_arguments(parser)
    tokens = []
    for _ in range(2):
        assert command.mark(parser.parse_args([str(report2), "--port", "9999"])) == 0
        url = re.search(r"marking at (\S+)", capsys.readouterr().out)[1]
        found = re.fullmatch(r"http://127\.0\.0\.1:9999/\?token=([A-Za-z0-9_-]{40,})", url)
        assert found, url
        tokens.append(found[1])
    assert tokens[0] != tokens[1]
    (host, port, app), options = served[-1]
    assert (host, port) == ("127.0.0.1", 9999)
    client = app.test_client()
    assert client.get("/api/questions", base_url="http://127.0.0.1:9999").status_code == 403
    assert client.get(f"/api/questions?token={tokens[0]}", base_url="http://127.0.0.1:9999").status_code == 403
    assert client.get(f"/api/questions?token={tokens[1]}", base_url="http://127.0.0.1:9999").status_code == 200
    assert command._TOKEN.sub(r"\1[hidden]", f"/?token={tokens[1]}&ta=alice") == "/?token=[hidden]&ta=alice"
    assert issubclass(options["request_handler"], werkzeug.serving.WSGIRequestHandler)


# -- marking that scales: item ids, rubric edits, seen answers, blanks, regrades, pairs, Markdown (issue 40, 2) --

def _app_on(batch40, tmp_path, pairs=None):
    """The app on a copy of the batch and of the written rubric (which the page's edits rewrite)."""
    from course_staff.written.marking.app import create_app

    report2 = _copied_report(batch40, tmp_path)
    rubric_path = tmp_path / "written_rubric.json"
    shutil.copy(ROOT / DEFAULT_PATH, rubric_path)
    path = tmp_path / "marks.sqlite"
    load_batch(report2, path, pairs, load(rubric_path))
    token = "t0ken-" + "y" * 40
    app = create_app(path, load(rubric_path), token=token, host="127.0.0.1", port=PORT)
    client = app.test_client()
    client.set_cookie(f"course_mark_{PORT}", token, domain="127.0.0.1")
    return client, path, rubric_path, report2


def _post(client, path, body):
    return client.post(path, base_url=BASE, data=json.dumps(body), content_type="application/json")


def _view(client, question="df663ae2", ta="alice"):
    return client.get(f"/api/question/{question}?ta={ta}", base_url=BASE).get_json()


def test_marks_name_item_ids_and_reordering_the_rubric_file_moves_none(batch40, tmp_path):
    client, path, rubric_path, report2 = _app_on(batch40, tmp_path)
    view = _view(client)
    ids = [item["id"] for item in view["question"]["items"]]
    first, second = view["answers"][0]["id"], view["answers"][1]["id"]
    assert _post(client, "/api/mark", {"answers": [first], "item": ids[1], "ta": "alice"}).status_code == 200
    assert _post(client, "/api/mark", {"answers": [second], "item": 3, "ta": "alice"}).status_code == 200  # a position
    assert _post(client, "/api/mark", {"answers": [first], "item": "nope", "ta": "alice"}).status_code == 400
    data = json.loads(rubric_path.read_text())
    data["questions"]["df663ae2"]["items"].reverse()  # an instructor reorders the items by hand
    rubric_path.write_text(json.dumps(data))
    after = {a["id"]: a for a in _view(client)["answers"]}
    assert after[first]["items"] == [ids[1]] and after[second]["items"] == [ids[3]]
    reordered = load(rubric_path).question("df663ae2")
    assert reordered.item(ids[1]).text == load(ROOT / DEFAULT_PATH).question("df663ae2").items[1].text
    assert after[first]["score"] == 1 and after[second]["score"] == 0
    assert reordered.items[0].id == ids[3] and after[second]["items"] == [reordered.items[0].id]
    rows, _, _ = gradebook.build(report2, path, load(rubric_path))
    assert sum(r["written"] for r in rows) == 1  # the gradebook reads the same marks by id


def test_a_database_of_marks_by_position_is_migrated_to_item_ids(batch40, tmp_path):
    import sqlite3

    report2 = _copied_report(batch40, tmp_path)
    path = tmp_path / "old.sqlite"
    old = sqlite3.connect(path)  # the schema before item ids: marks.item an INTEGER position
    old.executescript(db.SCHEMA.replace("item TEXT NOT NULL", "item INTEGER NOT NULL"))
    old.close()
    load_batch(report2, path)
    conn = sqlite3.connect(path)
    answer_ids = [r[0] for r in conn.execute("SELECT id FROM answers WHERE question = 'df663ae2' ORDER BY id LIMIT 2")]
    conn.execute("DROP TABLE marks")
    conn.execute("CREATE TABLE marks (answer_id INTEGER NOT NULL, item INTEGER NOT NULL, applied INTEGER NOT NULL, "
                 "ta TEXT NOT NULL, at REAL NOT NULL, PRIMARY KEY (answer_id, item))")
    conn.executemany("INSERT INTO marks VALUES (?, ?, 1, 'alice', 0)", [(answer_ids[0], 0), (answer_ids[0], 2),
                                                                          (answer_ids[1], 3)])
    conn.commit()
    conn.close()
    rubric = load(ROOT / DEFAULT_PATH)
    before, _, _ = gradebook.build(report2, path, rubric)  # read as positions before the migration binds them
    migrated = db.connect(path)
    assert {r["item"] for r in migrated.execute("SELECT item FROM marks")} == {"#0", "#2", "#3"}
    assert db.sync_rubric(migrated, rubric) == 3
    spec = rubric.question("df663ae2")
    found = {a["id"]: set(a["items"]) for a in db.answers_of(migrated, "df663ae2")}
    assert found[answer_ids[0]] == {spec.items[0].id, spec.items[2].id} and found[answer_ids[1]] == {spec.items[3].id}
    assert db.connect(path).execute("SELECT typeof(item) FROM marks LIMIT 1").fetchone()[0] == "text"
    after, _, _ = gradebook.build(report2, path, rubric)
    assert [r["written"] for r in after] == [r["written"] for r in before] and sum(r["written"] for r in after) == 2


def test_rubric_items_added_and_repointed_in_the_page_apply_to_every_answer_marked(batch40, tmp_path):
    client, path, rubric_path, report2 = _app_on(batch40, tmp_path)
    view = _view(client)
    answers = [a["id"] for a in view["answers"]][:3]
    added = _post(client, "/api/rubric", {"question": "df663ae2", "points": 0.5, "text": "states h_0 = 0", "ta": "alice"})
    assert added.status_code == 200
    new_id = added.get_json()["id"]
    assert [i["key"] for i in added.get_json()["question"]["items"]][-1] == 5
    assert _post(client, "/api/mark", {"answers": answers, "item": new_id, "ta": "alice"}).status_code == 200
    assert {a["id"]: a["score"] for a in _view(client)["answers"] if a["id"] in answers} == dict.fromkeys(answers, 0.5)
    assert _post(client, "/api/rubric", {"question": "df663ae2", "id": new_id, "points": 1, "ta": "bob"}).status_code == 200
    assert {a["id"]: a["score"] for a in _view(client)["answers"] if a["id"] in answers} == dict.fromkeys(answers, 1)
    text = rubric_path.read_text()
    assert '"id": "' + new_id + '", "points": 1, "text": "states h_0 = 0"' in text
    assert load(rubric_path).question("df663ae2").max_points == 4  # the gradebook reads the file
    rows, _, _ = gradebook.build(report2, path, load(rubric_path))
    assert sum(r["written"] for r in rows) == 3
    for bad in ({"question": "df663ae2", "points": 1, "text": " "}, {"question": "df663ae2", "text": "no points"},
                {"question": "nope", "points": 1, "text": "x"}):
        assert _post(client, "/api/rubric", bad).status_code == 400, bad
    assert _post(client, "/api/rubric", {"question": "df663ae2", "id": "gone", "points": 1}).status_code == 404
    for n in range(4):  # up to nine items: one key each
        assert _post(client, "/api/rubric", {"question": "df663ae2", "points": 0, "text": f"extra {n}"}).status_code == 200
    refused = _post(client, "/api/rubric", {"question": "df663ae2", "points": 0, "text": "a tenth"})
    assert refused.status_code == 400 and "9 items" in refused.get_json()["error"]


def test_a_group_mark_reaches_only_the_answers_the_ta_has_seen_unless_all(batch40, tmp_path):
    client, path, _, _ = _app_on(batch40, tmp_path)
    view = _view(client)
    item = view["question"]["items"][0]["id"]
    group = [a["id"] for a in view["answers"] if a["group"] == 0]
    assert len(group) > 2
    _post(client, "/api/seen", {"answers": group[:2], "ta": "alice"})
    body = {"question": "df663ae2", "group": 0, "item": item, "ta": "alice"}
    saved = _post(client, "/api/mark", body).get_json()
    assert saved["saved"] == 2 and saved["unseen"] == len(group) - 2 and sorted(saved["answers"]) == sorted(group[:2])
    assert [a["id"] for a in _view(client)["answers"] if a["marked_by"]] == group[:2]
    assert _post(client, "/api/mark", dict(body, ta="bob")).get_json()["saved"] == 0  # bob has seen none
    assert _post(client, "/api/mark", dict(body, all=True)).get_json()["saved"] == len(group)
    assert {a["id"] for a in _view(client, ta="alice")["answers"] if a["seen"]} == set(group[:2])


def test_the_blank_key_marks_every_blank_answer_with_no_item(batch40, tmp_path):
    client, path, _, _ = _app_on(batch40, tmp_path)
    view = _view(client)
    blank = {a["id"] for a in view["answers"] if a["blank"]}
    assert blank
    saved = _post(client, "/api/mark", {"question": "df663ae2", "blank": True, "ta": "alice"}).get_json()
    assert set(saved["answers"]) == blank
    after = _view(client)["answers"]
    assert {a["id"] for a in after if a["marked_by"]} == blank and all(a["score"] == 0 for a in after if a["blank"])


def test_a_regrade_keeps_its_reason_and_history_for_the_feedback(batch40, tmp_path):
    client, path, rubric_path, _ = _app_on(batch40, tmp_path)
    view = _view(client)
    ids = [item["id"] for item in view["question"]["items"]]
    answer = view["answers"][0]["id"]
    _post(client, "/api/mark", {"answers": [answer], "item": ids[0], "ta": "alice"})
    assert _post(client, "/api/regrade", {"answer": answer, "reason": " "}).status_code == 400
    assert _post(client, "/api/regrade", {"answer": answer, "reason": "the bias is h_0", "ta": "bob"}).status_code == 200
    assert next(a for a in _view(client)["answers"] if a["id"] == answer)["regrade"] == "the bias is h_0"
    _post(client, "/api/mark", {"answers": [answer], "item": ids[1], "ta": "bob"})
    closed = _post(client, "/api/regrade", {"answer": answer, "close": True, "ta": "bob"}).get_json()["regrade"]
    assert closed["before"] == [ids[0]] and closed["after"] == [ids[0], ids[1]] and closed["closed_by"] == "bob"
    conn = db.connect(path)
    regrades = db.regrades(conn)
    assert [(r["reason"], r["before"], r["after"]) for r in regrades] == [("the bias is h_0", [ids[0]], [ids[0], ids[1]])]
    spec = load(rubric_path).question("df663ae2")
    assert (spec.score(regrades[0]["before"]), spec.score(regrades[0]["after"])) == (1, 2)
    assert db.regrades(conn, question="df663ae2", file=regrades[0]["file"]) == regrades
    assert db.regrades(conn, question="3a74adbd") == []
    history = db.history(conn, answer)
    assert [(h["item"], h["applied"], h["ta"], h["regrade"]) for h in history] == [
        (ids[0], True, "alice", None), (ids[1], True, "bob", regrades[0]["id"])]
    after = next(a for a in _view(client)["answers"] if a["id"] == answer)
    assert after["regrade"] == "" and after["regrades"] == 1 and after["marked_by"] == "bob"


def test_pairs_of_one_question_with_both_passages(batch40, tmp_path):
    _, report, _ = batch40
    answers = [a for a in answers_mod.read_csv(report.with_suffix(".answers.csv")) if a.question == "df663ae2"]
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("a,b,part,question,score\n"
                     f"{answers[0].file},{answers[1].file},prose,df663ae2,0.9\n"
                     f"{answers[0].file},{answers[2].file},code,,0.8\n"
                     f"{answers[2].file},{answers[3].file},prose,3a74adbd,0.7\n")
    client, path, _, _ = _app_on(batch40, tmp_path, pairs)
    found = client.get("/api/pairs?question=df663ae2", base_url=BASE).get_json()
    assert len(found) == 1 and found[0]["a"] == db.anon_label(answers[0].file)
    assert found[0]["text_a"] == answers[0].answer and found[0]["text_b"] == answers[1].answer
    assert "<p>" in found[0]["html_a"] and "<script" not in found[0]["html_a"]
    assert len(client.get("/api/pairs", base_url=BASE).get_json()) == 3


def test_markdown_and_latex_rendered_and_sanitised():
    from course_staff.written.marking.render import to_html

    html = to_html('**bold** $h_t = x_t - h_{t-1}$ <script>alert(1)</script> <img src=x onerror="alert(2)">\n\n'
                   '[a](javascript:alert(3)) [b](https://example.org) <a href="x" onclick="y">raw</a>\n\n$$\n\\frac{1}{2}\n$$')
    from html.parser import HTMLParser

    class Elements(HTMLParser):
        def __init__(self):
            super().__init__()
            self.found = []

        def handle_starttag(self, tag, attrs):
            self.found.append((tag, dict(attrs)))

    parsed = Elements()
    parsed.feed(html)
    assert {tag for tag, _ in parsed.found} <= {"p", "strong", "span", "a", "div"}  # no script, img, ...
    assert not [name for _, attrs in parsed.found for name in attrs if name.startswith("on")]
    assert [attrs["href"] for tag, attrs in parsed.found if tag == "a"] == ["https://example.org"]
    assert "<strong>bold</strong>" in html and '<span class="math inline">h_t = x_t - h_{t-1}</span>' in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # shown as text
    assert '<a href="https://example.org" rel="noopener noreferrer">b</a>' in html
    assert '<div class="math block">' in html and "\\frac{1}{2}" in html
    assert to_html("<b>x</b>") == "<p>&lt;b&gt;x&lt;/b&gt;</p>\n"
