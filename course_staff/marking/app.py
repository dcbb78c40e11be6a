"""The marking web app (Flask): a page for TAs and the JSON API it calls; every write is committed at once.

Each request opens its own SQLite connection (WAL: readers never wait, writers wait their turn), so
several TAs, in several browsers or through several servers on one database file, mark the same batch
at once without losing a mark. File names are left out of every answer unless ``names=1`` is asked
for (the page's "show names" switch): marking is anonymous by default.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from flask import Flask, Response, abort, g, jsonify, request

from course_staff.marking import db
from course_staff.marking.page import PAGE
from course_staff.marking.rubric import WrittenRubric


def create_app(db_path: Path, rubric: WrittenRubric) -> Flask:
    app = Flask("course_staff.marking")
    app.config["DB"] = db_path

    def conn() -> sqlite3.Connection:
        if "conn" not in g:
            g.conn = db.connect(app.config["DB"])
        return g.conn

    @app.teardown_appcontext
    def _close(_exc) -> None:
        connection = g.pop("conn", None)
        if connection is not None:
            connection.close()

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'"
        response.headers["Cache-Control"] = "no-store"
        return response

    def _ta() -> str:
        ta = str((request.get_json(silent=True) or {}).get("ta", "")).strip()[:40]
        return ta or "TA"

    def _question_view(question: str) -> dict:
        spec = rubric.question(question)
        return {"id": question, "title": spec.title, "max": spec.max_points,
                "items": [{"key": i + 1, "points": item.points, "text": item.text} for i, item in enumerate(spec.items)]}

    @app.get("/")
    def index() -> Response:
        return Response(PAGE, mimetype="text/html")

    @app.get("/api/questions")
    def questions():
        return jsonify([dict(q, title=rubric.question(q["question"]).title) for q in db.questions(conn())])

    @app.get("/api/question/<question>")
    def question(question: str):
        answers = db.answers_of(conn(), question)
        if not answers:
            abort(404)
        names = request.args.get("names") == "1"
        spec = rubric.question(question)
        for answer in answers:
            answer["score"] = spec.score(set(answer["items"]))
            if not names:
                answer.pop("file")
        prompt = conn().execute("SELECT prompt FROM answers WHERE question = ? LIMIT 1", (question,)).fetchone()[0]
        return jsonify({"question": dict(_question_view(question), prompt=prompt), "answers": answers})

    def _ids(question: str | None = None) -> list[int]:
        data = request.get_json(force=True)
        if "group" in data:
            rows = conn().execute("SELECT id FROM answers WHERE question = ? AND grp = ? AND present = 1",
                                  (data["question"], int(data["group"]))).fetchall()
            return [r[0] for r in rows]
        return [int(a) for a in data.get("answers", [])]

    @app.post("/api/mark")
    def mark():
        data = request.get_json(force=True)
        item = int(data.get("item", -1))
        ids = _ids()
        if not ids:
            abort(400)
        question_id = conn().execute("SELECT question FROM answers WHERE id = ?", (ids[0],)).fetchone()
        if question_id is None or not (-1 <= item < len(rubric.question(question_id[0]).items)):
            abort(400)
        db.set_mark(conn(), ids, item, bool(data.get("applied", True)), _ta())
        return jsonify({"saved": len(ids), "answers": ids})

    @app.post("/api/comment")
    def comment():
        data = request.get_json(force=True)
        db.set_comment(conn(), int(data["answer"]), str(data.get("comment", ""))[:5000], _ta())
        return jsonify({"saved": 1})

    @app.get("/api/pairs")
    def pairs():
        rows = conn().execute("SELECT * FROM pairs ORDER BY score DESC, id").fetchall()
        names = request.args.get("names") == "1"
        anon = {}
        for r in rows:
            anon[r["a"]], anon[r["b"]] = db.anon_label(r["a"]), db.anon_label(r["b"])
        return jsonify([dict(dict(r), a=r["a"] if names else anon[r["a"]], b=r["b"] if names else anon[r["b"]])
                        for r in rows])

    @app.post("/api/pair")
    def pair():
        data = request.get_json(force=True)
        verdict = str(data.get("verdict", ""))
        if verdict not in {"confirmed", "dismissed", ""}:
            abort(400)
        with conn():
            conn().execute("UPDATE pairs SET verdict = ?, ta = ?, at = strftime('%s','now') WHERE id = ?",
                           (verdict, _ta(), int(data["id"])))
        return jsonify({"saved": 1})

    return app
