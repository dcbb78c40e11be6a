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
from pathlib import Path

from flask import Flask, Response, abort, g, jsonify, request

from course_staff.marking import db
from course_staff.marking.page import PAGE
from course_staff.marking.rubric import WrittenRubric


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
    app = Flask("course_staff.marking")
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
        response.headers["Content-Security-Policy"] = "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'"
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "no-referrer"  # the token in the URL goes nowhere else
        if request.args.get("token") and response.status_code < 400:
            response.set_cookie(cookie, token, httponly=True, samesite="Strict", path="/")
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
        data = request.get_json()
        if "group" in data:
            rows = conn().execute("SELECT id FROM answers WHERE question = ? AND grp = ? AND present = 1",
                                  (data["question"], int(data["group"]))).fetchall()
            return [r[0] for r in rows]
        return [int(a) for a in data.get("answers", [])]

    @app.post("/api/mark")
    def mark():
        data = request.get_json()
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
        data = request.get_json()
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
        data = request.get_json()
        verdict = str(data.get("verdict", ""))
        if verdict not in {"confirmed", "dismissed", ""}:
            abort(400)
        with conn():
            conn().execute("UPDATE pairs SET verdict = ?, ta = ?, at = strftime('%s','now') WHERE id = ?",
                           (verdict, _ta(), int(data["id"])))
        return jsonify({"saved": 1})

    return app
