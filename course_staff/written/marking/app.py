"""The marking web app (Flask): a page for TAs and the JSON API it calls; every write is committed at once.

Each request opens its own SQLite connection (WAL: readers never wait, writers wait their turn), so
several TAs, in several browsers or through several servers on one database file, mark the same batch
at once without losing a mark. File names are left out of every answer unless ``names=1`` is asked
for (the page's "show names" switch): marking is anonymous by default.

The TAs' page is no way in for anyone else (a web page in the TA's browser, another user of the machine):

- every request carries the server's random token (``secrets.token_urlsafe``, new at each start, in the URL
  ``course-utils mark`` prints: ``/?token=...``); once the page has presented it, a cookie (HttpOnly,
  SameSite=Strict, named by the port) carries it for the page's own calls. ``Authorization: token ...`` also
  works (scripts). Without it: 403, saying to open the printed URL;
- a ``Host`` that is not this server's (``127.0.0.1``, ``localhost``, ``[::1]`` or the address it was bound
  to, with its port; any IP address where it serves on all addresses) is refused (403): DNS rebinding;
- an ``Origin`` (when sent) other than the server's own is refused (403): cross-site requests;
- a POST whose body is not ``application/json`` is refused (415): the ``text/plain`` bodies a cross-site
  form or ``fetch`` may send without asking.
"""

from __future__ import annotations

import ipaddress
import secrets
import socket
import sqlite3
from collections.abc import Iterable
from contextlib import closing
from pathlib import Path

from flask import Flask, Response, abort, g, jsonify, request

from course_staff.written.marking import db, render
from course_staff.written.marking.page import PAGE
from course_staff.written.marking.rubric import WrittenRubric, add_item, edit_item
from course_staff.written.marking.rubric import load as load_rubric


WILDCARDS = {"", "0.0.0.0", "::"}
REFUSED = ("course-utils mark: {what}. Open the URL that course-utils mark printed when it started "
           "(http://{host}/?token=...), or start it again for a new one.\n")


def new_token() -> str:
    return secrets.token_urlsafe(32)


def url_host(host: str) -> str:
    """``host`` as written in a URL (an IPv6 address in brackets; all addresses as 127.0.0.1)."""
    if host in WILDCARDS:
        return "127.0.0.1"
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def cookie_name(port: int) -> str:
    return f"course_mark_{port}"  # cookies are not kept apart by port: one per server


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


def host_names(host: str) -> set[str]:
    """The names a request's ``Host`` may give for a server bound to ``host`` (lower case, no port)."""
    names = {"127.0.0.1", "localhost", "[::1]", url_host(host).lower()}
    if host in WILDCARDS:
        names |= {socket.gethostname().lower(), socket.getfqdn().lower()}
    return names


def create_app(db_path: Path, rubric: WrittenRubric, token: str, host: str = "127.0.0.1", port: int = 8765,
               extra_hosts: Iterable[str] = ()) -> Flask:
    """The app, answering only requests that carry ``token`` and name this server (``host``, ``port``)."""
    if not token:
        raise ValueError("the marking app needs a token")
    app = Flask("course_staff.written.marking")
    app.config["DB"] = db_path
    names = host_names(host) | {h.lower() for h in extra_hosts}
    any_ip = host in WILDCARDS
    cookie = cookie_name(port)

    def _host_ok(value: str) -> bool:
        value = value.strip().lower()
        name, sep, given = value.rpartition(":")
        if not sep or name.endswith(":") or (name.startswith("[") is not name.endswith("]")):
            name, given = value, "80"  # no port (or a bare IPv6 address): http's default
        if not given.isdigit() or int(given) != port:
            return False
        return name in names or (any_ip and _is_ip(name))

    def _refuse(status: int, what: str) -> Response:
        return Response(REFUSED.format(what=what, host=f"{url_host(host)}:{port}"), status=status,
                        mimetype="text/plain")

    def _presented() -> list[str]:
        found = [request.args.get("token", ""), request.cookies.get(cookie, "")]
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() in {"token", "bearer"}:
            found.append(value.strip())
        return [t for t in found if t]

    @app.before_request
    def _guard():
        if not _host_ok(request.headers.get("Host", "")):
            return _refuse(403, f"refused: the Host header {request.headers.get('Host', '')!r} is not this server's")
        origin = request.headers.get("Origin")
        if origin is not None and origin.lower() != f"http://{request.headers['Host'].strip().lower()}":
            return _refuse(403, f"refused: a request from another site (Origin {origin!r})")
        if not any(secrets.compare_digest(t.encode(), token.encode()) for t in _presented()):
            return _refuse(403, "no valid token in this request")
        if request.method not in {"GET", "HEAD", "OPTIONS"} and request.mimetype != "application/json":
            return _refuse(415, f"refused: a {request.method} body must be application/json, not "
                                f"{request.mimetype or 'none'!r}")
        return None

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
        # 'self': the vendored KaTeX (static/katex), its fonts and its style sheet; nothing from elsewhere
        response.headers["Content-Security-Policy"] = ("default-src 'self'; script-src 'self' 'unsafe-inline'; "
                                                       "style-src 'self' 'unsafe-inline'")
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "no-referrer"  # the token in the URL goes nowhere else
        if request.args.get("token") and response.status_code < 400:
            response.set_cookie(cookie, token, httponly=True, samesite="Strict", path="/")
        return response

    def _ta() -> str:
        source = request.get_json(silent=True) or {} if request.method == "POST" else request.args
        ta = str(source.get("ta", "")).strip()[:40]
        return ta or "TA"

    # The rubric file may change under the server: the page's edits (add_item, edit_item), another TA's
    # server on the same file, or an instructor's hand. It is read again whenever its mtime moves, and
    # marks still stored by position are bound to ids against the rubric they were made with.
    state = {"rubric": rubric, "mtime": _mtime(rubric.path)}
    with closing(db.connect(db_path)) as first:
        db.sync_rubric(first, rubric)

    def current_rubric() -> WrittenRubric:
        mtime = _mtime(state["rubric"].path)
        if mtime != state["mtime"]:
            state["rubric"], state["mtime"] = load_rubric(state["rubric"].path), mtime
        return state["rubric"]

    def _question_view(question: str) -> dict:
        spec = current_rubric().question(question)
        return {"id": question, "title": spec.title, "max": spec.max_points, "editable": rubric.path is not None,
                "items": [{"key": i + 1, "id": item.id, "points": item.points, "text": item.text,
                           "html": render.to_html(item.text)} for i, item in enumerate(spec.items)]}

    @app.get("/")
    def index() -> Response:
        return Response(PAGE, mimetype="text/html")

    @app.get("/api/questions")
    def questions():
        return jsonify([dict(q, title=current_rubric().question(q["question"]).title) for q in db.questions(conn())])

    @app.get("/api/question/<question>")
    def question(question: str):
        answers = db.answers_of(conn(), question, request.args.get("ta") or None)
        if not answers:
            abort(404)
        names = request.args.get("names") == "1"
        spec = current_rubric().question(question)
        for answer in answers:
            answer["items"] = [spec.item(key).id if spec.item(key) else key for key in answer["items"]]
            answer["gone"] = [key for key in answer["items"] if spec.item(key) is None]  # items no longer in the rubric
            answer["score"] = spec.score(answer["items"])
            answer["html"] = render.to_html(answer["text"])
            if not names:
                answer.pop("file")
        prompt = conn().execute("SELECT prompt FROM answers WHERE question = ? LIMIT 1", (question,)).fetchone()[0]
        return jsonify({"question": dict(_question_view(question), prompt=prompt, prompt_html=render.to_html(prompt)),
                        "answers": answers})

    def _item(question: str, value) -> str | None:
        """The stored key of the item ``value`` names: an id of the question's rubric, or a position (an int,
        from 0: older pages and scripts); None for -1 (marked, no item). 400 for anything else."""
        spec = current_rubric().question(question)
        if value in (None, -1):
            return None
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(spec.items):
            return spec.items[value].id
        if isinstance(value, str) and spec.item(value) is not None and not value.startswith("#"):
            return value
        abort(400)

    def _group_ids(data: dict) -> list[int]:
        rows = conn().execute("SELECT id FROM answers WHERE question = ? AND grp = ? AND present = 1",
                              (str(data["question"]), int(data["group"]))).fetchall()
        return [r[0] for r in rows]

    @app.post("/api/mark")
    def mark():
        """Body: ``{answers: [ids], item, applied}``; or ``{question, group, item, applied}``: the answers of the
        group this TA has seen, ``all: true`` for every one (after the page's confirmation, which names how many
        are unseen); or ``{question, blank: true}``: every blank answer of the question marked with no item.
        ``item``: a rubric item id, -1 for none (an int position also works). Answers: saved, ids, unseen."""
        data = request.get_json()
        ta = _ta()
        unseen = 0
        if data.get("blank"):
            ids = [r[0] for r in conn().execute("SELECT id FROM answers WHERE question = ? AND blank = 1 AND present = 1",
                                                (str(data.get("question", "")),))]
            data["item"] = -1
        elif "group" in data:
            group = _group_ids(data)
            ids = group if data.get("all") else sorted(db.seen_by(conn(), ta, group))
            unseen = len(group) - len(db.seen_by(conn(), ta, group))
        else:
            ids = [int(a) for a in data.get("answers", [])]
        if not ids:
            return jsonify({"saved": 0, "answers": [], "unseen": unseen})
        questions_of = {r[0] for r in conn().execute(
            f"SELECT DISTINCT question FROM answers WHERE id IN ({','.join('?' * len(ids))})", ids)}
        if len(questions_of) != 1:
            abort(400)
        item = _item(questions_of.pop(), data.get("item", -1))
        db.set_mark(conn(), ids, -1 if item is None else item, bool(data.get("applied", True)), ta)
        if "group" not in data and not data.get("blank"):
            db.mark_seen(conn(), ids, ta)  # marked one by one: in front of the TA
        return jsonify({"saved": len(ids), "answers": ids, "unseen": unseen})

    @app.post("/api/seen")
    def seen():
        """Body ``{answers: [ids]}``: the TA has these answers in front of them (a group mark reaches them)."""
        ids = [int(a) for a in request.get_json().get("answers", [])][:1000]
        db.mark_seen(conn(), ids, _ta())
        return jsonify({"saved": len(ids)})

    @app.post("/api/comment")
    def comment():
        data = request.get_json()
        db.set_comment(conn(), int(data["answer"]), str(data.get("comment", ""))[:5000], _ta())
        return jsonify({"saved": 1})

    @app.post("/api/regrade")
    def regrade():
        """Body ``{answer, reason}``: reopen the answer for a regrade; ``{answer, close: true}``: close it,
        keeping its items before and after (``db.regrades``)."""
        data = request.get_json()
        answer = int(data["answer"])
        if data.get("close"):
            closed = db.close_regrade(conn(), answer, _ta())
            return jsonify({"saved": int(closed is not None), "regrade": closed})
        try:
            regrade_id = db.reopen(conn(), answer, _ta(), str(data.get("reason", "")))
        except ValueError as exc:
            return jsonify({"error": str(exc)}), 400
        return jsonify({"saved": 1, "regrade": regrade_id})

    @app.post("/api/rubric")
    def edit_rubric():
        """Body ``{question, points, text}``: a new item (the next key); ``{question, id, points?, text?}``: an
        item's points or text changed, for every answer already marked with it. Written to the rubric file."""
        data = request.get_json()
        path = rubric.path
        question_id = str(data.get("question", ""))
        if path is None or not conn().execute("SELECT 1 FROM answers WHERE question = ?", (question_id,)).fetchone():
            abort(400)
        try:
            points = None if data.get("points") in (None, "") else float(data["points"])
            if data.get("id"):
                edit_item(path, question_id, str(data["id"]), points, data.get("text"))
                item_id = str(data["id"])
            else:
                if points is None:
                    raise ValueError("a new item needs its points")
                item_id = add_item(path, question_id, points, str(data.get("text", "")))
        except KeyError:
            abort(404)
        except ValueError as exc:
            return jsonify({"error": str(exc)}), 400
        db.log(conn(), _ta(), "rubric", None, f"{question_id} {item_id} points={points} text={data.get('text')!r}")
        return jsonify({"saved": 1, "id": item_id, "question": _question_view(question_id)})

    @app.get("/api/pairs")
    def pairs():
        """Similar pairs, best first; ``?question=Q``: that question's pairs only, each with both passages
        (``text_a``, ``html_a``, ...). Labels are the answers' anonymous ones unless ``names=1``."""
        question_id = request.args.get("question")
        query = "SELECT * FROM pairs" + (" WHERE question = ?" if question_id else "") + " ORDER BY score DESC, id"
        rows = conn().execute(query, (question_id,) if question_id else ()).fetchall()
        names = request.args.get("names") == "1"
        found = []
        for r in rows:
            entry = dict(dict(r), a=r["a"] if names else db.anon_label(r["a"]), b=r["b"] if names else db.anon_label(r["b"]))
            if question_id:
                for side in ("a", "b"):
                    answer = conn().execute("SELECT text FROM answers WHERE file = ? AND question = ?",
                                            (r[side], question_id)).fetchone()
                    text = answer["text"] if answer else ""
                    entry[f"text_{side}"], entry[f"html_{side}"] = text, render.to_html(text)
            found.append(entry)
        return jsonify(found)

    @app.post("/api/pair")
    def pair():
        data = request.get_json()
        verdict = str(data.get("verdict", ""))
        if verdict not in {"confirmed", "dismissed", ""}:
            abort(400)
        with conn():
            conn().execute("UPDATE pairs SET verdict = ?, ta = ?, at = strftime('%s','now') WHERE id = ?",
                           (verdict, _ta(), int(data["id"])))
        return jsonify({"saved": 1})

    return app


def _mtime(path: Path | None) -> float | None:
    try:
        return path.stat().st_mtime_ns if path is not None else None
    except OSError:
        return None
