"""``course-utils mark REPORT.csv``: load a graded batch's written answers and serve the marking page.

Reads ``REPORT.answers.csv`` (written by ``course-utils grade`` beside the report) into the marking
database (default ``REPORT.marks.sqlite``), groups each question's answers, loads the similarity pairs
of ``--pairs`` for TAs to confirm or dismiss, and serves the page on ``--host``/``--port`` (local
only by default). Run it again after a regrade: marks of unchanged answers stay, changed answers are
flagged. Several TAs: open the same URL, or start a server each on the same database file.

The URL it prints holds a token, new at each start (``http://127.0.0.1:8765/?token=...``): the server
answers nothing without it (see ``app.py``), so keep it to the TAs; the server's log hides it.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

from course_staff.written import groups
from course_staff.written.answers import read_csv
from course_staff.written.marking import db
from course_staff.written.marking.rubric import DEFAULT_PATH, WrittenRubric, load
from course_staff.written.pairs import read_csv as read_pairs


def mark_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``course-utils mark``."""
    parser.add_argument("report", type=Path, metavar="REPORT.csv", help="the grading report (its .answers.csv beside it)")
    parser.add_argument("--db", type=Path, default=None, help="marking database (default: REPORT.marks.sqlite)")
    parser.add_argument("--rubric", type=Path, default=None,
                        help=f"written rubric (default: {DEFAULT_PATH}); the page's rubric edits are written into it")
    parser.add_argument("--pairs", type=Path, default=None, help="pairs.csv of course-utils similarity, to review")
    parser.add_argument("--host", default="127.0.0.1", help="address to serve on (default: 127.0.0.1, this machine only)")
    parser.add_argument("--port", type=int, default=8765, help="port (default: 8765)")
    parser.add_argument("--no-serve", action="store_true", help="load the batch into the database and stop")


def database_path(report: Path, given: Path | None) -> Path:
    """The marking database: ``given``, or ``REPORT.marks.sqlite`` beside the report."""
    return given or report.with_suffix(".marks.sqlite")


def load_batch(report: Path, db_path: Path, pairs: Path | None = None, rubric: WrittenRubric | None = None) -> dict[str, int]:
    """(Re)load the batch's answers, their groups and the pairs into ``db_path``; the import counts.

    With ``rubric``, marks still stored by position (a database from before item ids) are bound to its ids
    (``db.sync_rubric``); the marking app does the same when it starts."""
    answers_csv = report.with_suffix(".answers.csv")
    if not answers_csv.is_file():
        raise ValueError(f"no written answers {answers_csv} (course-utils grade writes it beside {report})")
    answers = read_csv(answers_csv)
    blank = {(a.file, a.question) for a in answers if groups.is_blank(a.answer)}
    conn = db.connect(db_path)
    try:
        counts = db.import_answers(conn, answers, blank)
        for question in dict.fromkeys(a.question for a in answers):
            rows = conn.execute("SELECT id, text FROM answers WHERE question = ? AND present = 1 ORDER BY id",
                                (question,)).fetchall()
            labels = groups.group([r["text"] for r in rows])
            sizes = {label: labels.count(label) for label in set(labels)}
            db.set_groups(conn, question, {r["id"]: label for r, label in zip(rows, labels)}, sizes)
        if pairs is not None:
            with conn:
                conn.execute("BEGIN IMMEDIATE")
                for p in read_pairs(pairs):  # a pair already reviewed keeps its verdict
                    conn.execute("INSERT INTO pairs (a, b, part, question, score) VALUES (?, ?, ?, ?, ?) "
                                 "ON CONFLICT (a, b, part, question) DO UPDATE SET score = excluded.score",
                                 (p["a"], p["b"], p["part"], p["question"], p["score"]))
        if rubric is not None:
            db.sync_rubric(conn, rubric)
    finally:
        conn.close()
    return counts


def mark(args: argparse.Namespace) -> int:
    """``course-utils mark``: load the batch, then serve the page until Ctrl-C; the exit status."""
    from course_staff.written.marking.app import create_app, new_token, url_host

    db_path = database_path(args.report, args.db)
    try:
        rubric = load(args.rubric or DEFAULT_PATH)
        started = time.perf_counter()
        counts = load_batch(args.report, db_path, args.pairs, rubric)
    except ValueError as exc:
        print(f"course-utils mark: {exc}", file=sys.stderr)
        return 2
    print(f"{db_path}: {counts['new']} new answers, {counts['unchanged']} unchanged, {counts['changed']} changed "
          f"since the last load (flagged) [{time.perf_counter() - started:.1f}s]", flush=True)
    if args.no_serve:
        return 0
    from werkzeug.serving import run_simple

    token = new_token()
    app = create_app(db_path, rubric, token=token, host=args.host, port=args.port)
    print(f"marking at http://{url_host(args.host)}:{args.port}/?token={token}  (open this URL: the server answers "
          "nothing without its token; Ctrl-C stops; every mark is already saved)", flush=True)
    run_simple(args.host, args.port, app, threaded=True, request_handler=_quiet_handler())
    return 0


_TOKEN = re.compile(r"(token=)[^&\s]*")


def _quiet_handler():
    """Werkzeug's request handler, with the token left out of the request lines it logs."""
    from werkzeug.serving import WSGIRequestHandler

    class Handler(WSGIRequestHandler):
        def log_request(self, code="-", size="-") -> None:
            path = getattr(self, "path", None)
            if path is not None:
                self.path = _TOKEN.sub(r"\1[hidden]", path)
            try:
                super().log_request(code, size)
            finally:
                if path is not None:
                    self.path = path

    return Handler
