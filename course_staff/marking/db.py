"""The marking database: SQLite in WAL mode, one file beside the grading report.

Every mark is one row written in its own committed transaction when a TA makes it, so a crash,
a kill or Ctrl-C loses nothing that a TA saw as saved. Writes set a value (item i of answer a is
applied, or not; this comment) instead of reading and rewriting a record, so two TAs marking at once
never overwrite each other's marks; each connection waits (``busy_timeout``) for the other's write.

Tables: ``answers`` (one per submission file and written question, keyed by ``(file, question)``,
with a hash of its text and its answer group), ``marks`` (answer, item, applied), ``comments``,
``reviewed`` (who marked an answer last, and the hash of the text they marked: an answer whose text
changed since is flagged until a TA looks again), ``pairs`` (similarity pairs with a TA's verdict)
and ``log`` (every action, for the record).
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from pathlib import Path

from course_staff.grading.answers import Answer

SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
  id INTEGER PRIMARY KEY, file TEXT NOT NULL, handout TEXT NOT NULL, question TEXT NOT NULL,
  prompt TEXT NOT NULL, text TEXT NOT NULL, text_hash TEXT NOT NULL, anon TEXT NOT NULL,
  grp INTEGER NOT NULL DEFAULT 0, grp_size INTEGER NOT NULL DEFAULT 1, blank INTEGER NOT NULL DEFAULT 0,
  present INTEGER NOT NULL DEFAULT 1, UNIQUE (file, question));
CREATE TABLE IF NOT EXISTS marks (
  answer_id INTEGER NOT NULL REFERENCES answers(id), item INTEGER NOT NULL, applied INTEGER NOT NULL,
  ta TEXT NOT NULL, at REAL NOT NULL, PRIMARY KEY (answer_id, item));
CREATE TABLE IF NOT EXISTS comments (
  answer_id INTEGER PRIMARY KEY REFERENCES answers(id), comment TEXT NOT NULL, ta TEXT NOT NULL, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS reviewed (
  answer_id INTEGER PRIMARY KEY REFERENCES answers(id), text_hash TEXT NOT NULL, ta TEXT NOT NULL, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS pairs (
  id INTEGER PRIMARY KEY, a TEXT NOT NULL, b TEXT NOT NULL, part TEXT NOT NULL, question TEXT NOT NULL,
  score REAL NOT NULL, verdict TEXT NOT NULL DEFAULT '', ta TEXT NOT NULL DEFAULT '', at REAL NOT NULL DEFAULT 0,
  UNIQUE (a, b, part, question));
CREATE TABLE IF NOT EXISTS log (
  id INTEGER PRIMARY KEY, at REAL NOT NULL, ta TEXT NOT NULL, action TEXT NOT NULL, answer_id INTEGER, detail TEXT);
"""


def text_hash(text: str) -> str:
    """What decides whether an answer changed: its text with runs of white space made one space."""
    return hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()


def anon_label(file: str) -> str:
    """A stable pseudonym for a submission file (shown instead of its name until names are asked for)."""
    return "#" + hashlib.sha256(file.encode("utf-8")).hexdigest()[:6]


def connect(path: Path) -> sqlite3.Connection:
    """A connection in WAL mode, with the schema, waiting up to 30 s for another writer."""
    conn = sqlite3.connect(str(path), timeout=30.0, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA busy_timeout=30000")
    conn.executescript(SCHEMA)
    return conn


def import_answers(conn: sqlite3.Connection, answers: list[Answer], blank: set[tuple[str, str]]) -> dict[str, int]:
    """Load a (re)graded batch's written answers; marks of an answer whose text is unchanged stay as they are.

    An answer whose text changed gets the new text; its marks are kept and it is flagged as changed
    (its ``reviewed`` hash no longer matches) until a TA confirms it. Answers missing from the batch
    are kept, not shown. Returns counts: new, unchanged, changed.
    """
    counts = {"new": 0, "unchanged": 0, "changed": 0}
    with conn:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("UPDATE answers SET present = 0")
        for answer in answers:
            digest = text_hash(answer.answer)
            is_blank = int((answer.file, answer.question) in blank)
            row = conn.execute("SELECT id, text_hash FROM answers WHERE file = ? AND question = ?",
                               (answer.file, answer.question)).fetchone()
            if row is None:
                conn.execute("INSERT INTO answers (file, handout, question, prompt, text, text_hash, anon, blank) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (answer.file, answer.handout, answer.question,
                                                                 answer.prompt, answer.answer, digest,
                                                                 anon_label(answer.file), is_blank))
                counts["new"] += 1
                continue
            counts["unchanged" if row["text_hash"] == digest else "changed"] += 1
            conn.execute("UPDATE answers SET text = ?, text_hash = ?, prompt = ?, handout = ?, blank = ?, present = 1 "
                         "WHERE id = ?", (answer.answer, digest, answer.prompt, answer.handout, is_blank, row["id"]))
        conn.execute("INSERT INTO log (at, ta, action, detail) VALUES (?, '', 'import', ?)", (time.time(), repr(counts)))
    return counts


def set_groups(conn: sqlite3.Connection, question: str, groups: dict[int, int], sizes: dict[int, int]) -> None:
    """Store answer id -> group number (0: the largest) and each group's size for one question."""
    with conn:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("UPDATE answers SET grp = ?, grp_size = ? WHERE id = ? AND question = ?",
                         [(g, sizes[g], answer_id, question) for answer_id, g in groups.items()])


def set_mark(conn: sqlite3.Connection, answer_ids: list[int], item: int, applied: bool, ta: str) -> None:
    """Apply (or take off) rubric item ``item`` on each answer, and record the answers as marked by ``ta``."""
    now = time.time()
    with conn:
        conn.execute("BEGIN IMMEDIATE")
        for answer_id in answer_ids:
            if item >= 0:
                conn.execute("INSERT INTO marks (answer_id, item, applied, ta, at) VALUES (?, ?, ?, ?, ?) "
                             "ON CONFLICT (answer_id, item) DO UPDATE SET applied = excluded.applied, "
                             "ta = excluded.ta, at = excluded.at", (answer_id, item, int(applied), ta, now))
            _reviewed(conn, answer_id, ta, now)
            conn.execute("INSERT INTO log (at, ta, action, answer_id, detail) VALUES (?, ?, 'mark', ?, ?)",
                         (now, ta, answer_id, f"item {item} {'on' if applied else 'off'}"))


def set_comment(conn: sqlite3.Connection, answer_id: int, comment: str, ta: str) -> None:
    now = time.time()
    with conn:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO comments (answer_id, comment, ta, at) VALUES (?, ?, ?, ?) ON CONFLICT (answer_id) "
                     "DO UPDATE SET comment = excluded.comment, ta = excluded.ta, at = excluded.at",
                     (answer_id, comment, ta, now))
        _reviewed(conn, answer_id, ta, now)
        conn.execute("INSERT INTO log (at, ta, action, answer_id, detail) VALUES (?, ?, 'comment', ?, ?)",
                     (now, ta, answer_id, comment[:200]))


def _reviewed(conn: sqlite3.Connection, answer_id: int, ta: str, now: float) -> None:
    conn.execute("INSERT INTO reviewed (answer_id, text_hash, ta, at) SELECT id, text_hash, ?, ? FROM answers "
                 "WHERE id = ? ON CONFLICT (answer_id) DO UPDATE SET text_hash = excluded.text_hash, "
                 "ta = excluded.ta, at = excluded.at", (ta, now, answer_id))


def answers_of(conn: sqlite3.Connection, question: str) -> list[dict]:
    """One question's present answers, largest group first, with their marks, comment and flags."""
    rows = conn.execute(
        "SELECT a.*, r.ta AS marked_by, r.text_hash AS marked_hash, c.comment FROM answers a "
        "LEFT JOIN reviewed r ON r.answer_id = a.id LEFT JOIN comments c ON c.answer_id = a.id "
        "WHERE a.question = ? AND a.present = 1 ORDER BY a.grp, a.anon", (question,)).fetchall()
    applied: dict[int, list[int]] = {}
    for mark in conn.execute("SELECT m.answer_id, m.item FROM marks m JOIN answers a ON a.id = m.answer_id "
                             "WHERE a.question = ? AND m.applied = 1 ORDER BY m.item", (question,)):
        applied.setdefault(mark["answer_id"], []).append(mark["item"])
    return [{"id": r["id"], "file": r["file"], "anon": r["anon"], "text": r["text"], "group": r["grp"],
             "group_size": r["grp_size"], "blank": bool(r["blank"]), "items": applied.get(r["id"], []),
             "comment": r["comment"] or "", "marked_by": r["marked_by"] or "",
             "changed": r["marked_hash"] is not None and r["marked_hash"] != r["text_hash"]} for r in rows]


def questions(conn: sqlite3.Connection) -> list[dict]:
    """Every written question with its prompt and how many of its answers are marked, in batch order."""
    rows = conn.execute(
        "SELECT a.question, a.handout, MIN(a.id) AS first, MAX(a.prompt) AS prompt, COUNT(*) AS answers, "
        "COUNT(r.answer_id) AS marked FROM answers a LEFT JOIN reviewed r ON r.answer_id = a.id "
        "WHERE a.present = 1 GROUP BY a.question, a.handout ORDER BY a.handout, first").fetchall()
    return [dict(r) for r in rows]


def scores(conn: sqlite3.Connection) -> dict[tuple[str, str], dict]:
    """(file, question) -> applied items, whether marked, whether changed since: what the gradebook reads."""
    found = {}
    for r in conn.execute("SELECT a.id, a.file, a.question, a.text_hash, r.text_hash AS marked_hash FROM answers a "
                          "LEFT JOIN reviewed r ON r.answer_id = a.id WHERE a.present = 1"):
        found[(r["file"], r["question"])] = {"id": r["id"], "items": set(), "marked": r["marked_hash"] is not None,
                                             "changed": r["marked_hash"] not in (None, r["text_hash"])}
    by_id = {v["id"]: v for v in found.values()}
    for m in conn.execute("SELECT answer_id, item FROM marks WHERE applied = 1"):
        if m["answer_id"] in by_id:
            by_id[m["answer_id"]]["items"].add(m["item"])
    return found
