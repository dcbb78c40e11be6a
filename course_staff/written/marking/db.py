"""The marking database: SQLite in WAL mode, one file beside the grading report.

Every mark is one row written in its own committed transaction when a TA makes it, so a crash,
a kill or Ctrl-C loses nothing that a TA saw as saved. Writes set a value (item i of answer a is
applied, or not; this comment) instead of reading and rewriting a record, so two TAs marking at once
never overwrite each other's marks; each connection waits (``busy_timeout``) for the other's write.

Tables: ``answers`` (one per submission file and written question, keyed by ``(file, question)``,
with a hash of its text and its answer group), ``marks`` (answer, rubric item id, applied: see
``rubric.py`` for ids; a database of before ids, whose ``marks.item`` held positions, is migrated
by ``connect`` to ``#N`` and by ``sync_rubric`` to the ids), ``comments``, ``reviewed`` (who marked
an answer last, and the hash of the text they marked: an answer whose text changed since is flagged
until a TA looks again), ``seen`` (which TA has had which answer in front of them: a group mark
reaches only those unless the TA confirms the rest), ``history`` (every change of a mark, with the
regrade it belongs to), ``regrades`` (an answer reopened with a reason, its items before and after),
``pairs`` (similarity pairs with a TA's verdict) and ``log`` (every action, for the record).

For a feedback generator: ``scores`` (items applied per answer), ``comment_of``, ``regrades`` (each
change of mark with its reason, items before and after) and ``history``; price items with
``rubric.load(...).question(q).score(items)`` and name them with ``.item(id).text``.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from pathlib import Path

from course_staff.written.answers import Answer

SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
  id INTEGER PRIMARY KEY, file TEXT NOT NULL, handout TEXT NOT NULL, question TEXT NOT NULL,
  prompt TEXT NOT NULL, text TEXT NOT NULL, text_hash TEXT NOT NULL, anon TEXT NOT NULL,
  grp INTEGER NOT NULL DEFAULT 0, grp_size INTEGER NOT NULL DEFAULT 1, blank INTEGER NOT NULL DEFAULT 0,
  present INTEGER NOT NULL DEFAULT 1, variant TEXT NOT NULL DEFAULT '', UNIQUE (file, question));
CREATE TABLE IF NOT EXISTS marks (
  answer_id INTEGER NOT NULL REFERENCES answers(id), item TEXT NOT NULL, applied INTEGER NOT NULL,
  ta TEXT NOT NULL, at REAL NOT NULL, PRIMARY KEY (answer_id, item));
CREATE TABLE IF NOT EXISTS seen (
  answer_id INTEGER NOT NULL REFERENCES answers(id), ta TEXT NOT NULL, at REAL NOT NULL, PRIMARY KEY (answer_id, ta));
CREATE TABLE IF NOT EXISTS history (
  id INTEGER PRIMARY KEY, answer_id INTEGER NOT NULL REFERENCES answers(id), item TEXT NOT NULL,
  applied INTEGER NOT NULL, ta TEXT NOT NULL, at REAL NOT NULL, regrade INTEGER REFERENCES regrades(id));
CREATE TABLE IF NOT EXISTS regrades (
  id INTEGER PRIMARY KEY, answer_id INTEGER NOT NULL REFERENCES answers(id), ta TEXT NOT NULL, reason TEXT NOT NULL,
  opened REAL NOT NULL, before TEXT NOT NULL, closed REAL, closed_by TEXT, after TEXT);
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


MARKS_TABLE = ("CREATE TABLE marks (answer_id INTEGER NOT NULL REFERENCES answers(id), item TEXT NOT NULL, "
               "applied INTEGER NOT NULL, ta TEXT NOT NULL, at REAL NOT NULL, PRIMARY KEY (answer_id, item))")


def connect(path: Path) -> sqlite3.Connection:
    """A connection in WAL mode, with the schema, waiting up to 30 s for another writer.

    A database made before rubric item ids (``marks.item`` an INTEGER position) is migrated here, once:
    each position N becomes ``#N``, which ``sync_rubric`` then binds to the id of the item at N.
    """
    conn = sqlite3.connect(str(path), timeout=30.0, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA busy_timeout=30000")
    conn.executescript(SCHEMA)
    if "variant" not in {r["name"] for r in conn.execute("PRAGMA table_info(answers)")}:
        with conn:  # a database from before per-student variants: the column, empty until the next import
            conn.execute("BEGIN IMMEDIATE")
            if "variant" not in {r["name"] for r in conn.execute("PRAGMA table_info(answers)")}:
                conn.execute("ALTER TABLE answers ADD COLUMN variant TEXT NOT NULL DEFAULT ''")
    if _positional(conn):
        with conn:
            conn.execute("BEGIN IMMEDIATE")
            if _positional(conn):  # another connection may have migrated it while this one waited
                conn.execute("ALTER TABLE marks RENAME TO marks_by_position")
                conn.execute(MARKS_TABLE)
                conn.execute("INSERT INTO marks SELECT answer_id, '#' || item, applied, ta, at FROM marks_by_position")
                conn.execute("DROP TABLE marks_by_position")
                conn.execute("INSERT INTO log (at, ta, action, detail) VALUES (?, '', 'migrate', "
                             "'marks by position -> #N, bound to item ids by the next sync_rubric')", (time.time(),))
    return conn


def _positional(conn: sqlite3.Connection) -> bool:
    return any(r["name"] == "item" and r["type"].upper() == "INTEGER" for r in conn.execute("PRAGMA table_info(marks)"))


def sync_rubric(conn: sqlite3.Connection, rubric) -> int:
    """Bind marks still stored by position (``#N``: made before item ids, or by ``set_mark`` with an int) to
    the id of item N of their question in ``rubric`` (a ``rubric.WrittenRubric``); the number bound.

    Run by ``course-utils mark`` at each load and start, so the positions are read against the rubric the
    marks were made with (reorder the file only after one run of the new version on an old database).
    """
    bound = 0
    with conn:
        conn.execute("BEGIN IMMEDIATE")
        for table in ("marks", "history"):
            rows = conn.execute(f"SELECT DISTINCT m.item, a.question FROM {table} m JOIN answers a ON a.id = m.answer_id "
                                "WHERE m.item LIKE '#%'").fetchall()
            for row in rows:
                item = rubric.question(row["question"]).item(row["item"])
                if item is None:
                    continue
                ids = "SELECT id FROM answers WHERE question = ?"
                if table == "marks":  # an answer with both: the id's own row stays
                    cursor = conn.execute(f"UPDATE OR IGNORE marks SET item = ? WHERE item = ? AND answer_id IN ({ids})",
                                          (item.id, row["item"], row["question"]))
                    conn.execute(f"DELETE FROM marks WHERE item = ? AND answer_id IN ({ids})", (row["item"], row["question"]))
                    bound += cursor.rowcount
                else:
                    conn.execute(f"UPDATE history SET item = ? WHERE item = ? AND answer_id IN ({ids})",
                                 (item.id, row["item"], row["question"]))
        if bound:
            conn.execute("INSERT INTO log (at, ta, action, detail) VALUES (?, '', 'sync_rubric', ?)",
                         (time.time(), f"{bound} marks bound from positions to item ids"))
    return bound


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
                conn.execute("INSERT INTO answers (file, handout, question, prompt, text, text_hash, anon, blank, "
                             "variant) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                             (answer.file, answer.handout, answer.question, answer.prompt, answer.answer, digest,
                              anon_label(answer.file), is_blank, answer.variant))
                counts["new"] += 1
                continue
            counts["unchanged" if row["text_hash"] == digest else "changed"] += 1
            conn.execute("UPDATE answers SET text = ?, text_hash = ?, prompt = ?, handout = ?, blank = ?, present = 1, "
                         "variant = ? WHERE id = ?", (answer.answer, digest, answer.prompt, answer.handout, is_blank,
                                                      answer.variant, row["id"]))
        conn.execute("INSERT INTO log (at, ta, action, detail) VALUES (?, '', 'import', ?)", (time.time(), repr(counts)))
    return counts


def set_groups(conn: sqlite3.Connection, question: str, groups: dict[int, int], sizes: dict[int, int]) -> None:
    """Store answer id -> group number (0: the largest) and each group's size for one question."""
    with conn:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("UPDATE answers SET grp = ?, grp_size = ? WHERE id = ? AND question = ?",
                         [(g, sizes[g], answer_id, question) for answer_id, g in groups.items()])


def _item_key(item: int | str | None) -> str | None:
    if item is None or item == -1:
        return None
    return f"#{item}" if isinstance(item, int) else str(item)


def _open_regrade(conn: sqlite3.Connection, answer_id: int) -> int | None:
    row = conn.execute("SELECT id FROM regrades WHERE answer_id = ? AND closed IS NULL", (answer_id,)).fetchone()
    return row["id"] if row else None


def set_mark(conn: sqlite3.Connection, answer_ids: list[int], item: int | str, applied: bool, ta: str) -> None:
    """Apply (or take off) rubric item ``item`` on each answer, and record the answers as marked by ``ta``.

    ``item`` is the item's id (a str, ``rubric.Item.id``); an int N is the item at position N (key N + 1),
    kept as ``#N`` until ``sync_rubric`` binds it to an id; -1 (or None) marks the answers with no item.
    Each change goes into ``history``, with the open regrade of its answer if there is one.
    """
    key = _item_key(item)
    now = time.time()
    with conn:
        conn.execute("BEGIN IMMEDIATE")
        for answer_id in answer_ids:
            if key is not None:
                conn.execute("INSERT INTO marks (answer_id, item, applied, ta, at) VALUES (?, ?, ?, ?, ?) "
                             "ON CONFLICT (answer_id, item) DO UPDATE SET applied = excluded.applied, "
                             "ta = excluded.ta, at = excluded.at", (answer_id, key, int(applied), ta, now))
                conn.execute("INSERT INTO history (answer_id, item, applied, ta, at, regrade) VALUES (?, ?, ?, ?, ?, ?)",
                             (answer_id, key, int(applied), ta, now, _open_regrade(conn, answer_id)))
            _reviewed(conn, answer_id, ta, now)
            conn.execute("INSERT INTO log (at, ta, action, answer_id, detail) VALUES (?, ?, 'mark', ?, ?)",
                         (now, ta, answer_id, f"item {key if key is not None else -1} {'on' if applied else 'off'}"))


def set_comment(conn: sqlite3.Connection, answer_id: int, comment: str, ta: str) -> None:
    """Set the TA's comment on an answer (one per answer: the latest wins), and record it as marked by ``ta``."""
    now = time.time()
    with conn:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO comments (answer_id, comment, ta, at) VALUES (?, ?, ?, ?) ON CONFLICT (answer_id) "
                     "DO UPDATE SET comment = excluded.comment, ta = excluded.ta, at = excluded.at",
                     (answer_id, comment, ta, now))
        _reviewed(conn, answer_id, ta, now)
        conn.execute("INSERT INTO log (at, ta, action, answer_id, detail) VALUES (?, ?, 'comment', ?, ?)",
                     (now, ta, answer_id, comment[:200]))


def log(conn: sqlite3.Connection, ta: str, action: str, answer_id: int | None, detail: str) -> None:
    """Add a line to the record (``log``): an action with no table of its own, such as a rubric edit."""
    with conn:
        conn.execute("INSERT INTO log (at, ta, action, answer_id, detail) VALUES (?, ?, ?, ?, ?)",
                     (time.time(), ta, action, answer_id, detail[:2000]))


def comment_of(conn: sqlite3.Connection, answer_id: int) -> str:
    """The TA's comment on an answer ("" if none)."""
    row = conn.execute("SELECT comment FROM comments WHERE answer_id = ?", (answer_id,)).fetchone()
    return row["comment"] if row else ""


def mark_seen(conn: sqlite3.Connection, answer_ids: list[int], ta: str) -> None:
    """Record that ``ta`` has had these answers in front of them (a group mark reaches only answers seen)."""
    now = time.time()
    with conn:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT INTO seen (answer_id, ta, at) VALUES (?, ?, ?) ON CONFLICT (answer_id, ta) DO NOTHING",
                         [(int(a), ta, now) for a in answer_ids])


def seen_by(conn: sqlite3.Connection, ta: str, answer_ids: list[int] | None = None) -> set[int]:
    """The answers (of ``answer_ids``, or all) that ``ta`` has seen."""
    found = {r[0] for r in conn.execute("SELECT answer_id FROM seen WHERE ta = ?", (ta,))}
    return found if answer_ids is None else found & {int(a) for a in answer_ids}


def _applied(conn: sqlite3.Connection, answer_id: int) -> list[str]:
    return [r[0] for r in conn.execute("SELECT item FROM marks WHERE answer_id = ? AND applied = 1 ORDER BY at, item",
                                       (answer_id,))]


def reopen(conn: sqlite3.Connection, answer_id: int, ta: str, reason: str) -> int:
    """Reopen a marked answer for a regrade, with the reason (a student's request, a TA's second look);
    the regrade's id. Its items now are kept as "before"; the mark changes made until ``close_regrade``
    belong to it (``history``). Reopening an answer already open changes only the reason."""
    reason = " ".join(str(reason).split())[:2000]
    if not reason:
        raise ValueError("a regrade needs a reason")
    now = time.time()
    with conn:
        conn.execute("BEGIN IMMEDIATE")
        regrade = _open_regrade(conn, answer_id)
        if regrade is not None:
            conn.execute("UPDATE regrades SET reason = ? WHERE id = ?", (reason, regrade))
        else:
            regrade = conn.execute("INSERT INTO regrades (answer_id, ta, reason, opened, before) VALUES (?, ?, ?, ?, ?)",
                                   (answer_id, ta, reason, now, json.dumps(_applied(conn, answer_id)))).lastrowid
        conn.execute("INSERT INTO log (at, ta, action, answer_id, detail) VALUES (?, ?, 'reopen', ?, ?)",
                     (now, ta, answer_id, reason[:200]))
    return regrade


def close_regrade(conn: sqlite3.Connection, answer_id: int, ta: str) -> dict | None:
    """Close the answer's open regrade: its items now are kept as "after" and the answer is marked by ``ta``
    again; the regrade (as ``regrades`` gives it), or None if none was open."""
    now = time.time()
    with conn:
        conn.execute("BEGIN IMMEDIATE")
        regrade = _open_regrade(conn, answer_id)
        if regrade is None:
            return None
        after = _applied(conn, answer_id)
        conn.execute("UPDATE regrades SET closed = ?, closed_by = ?, after = ? WHERE id = ?",
                     (now, ta, json.dumps(after), regrade))
        _reviewed(conn, answer_id, ta, now)
        conn.execute("INSERT INTO log (at, ta, action, answer_id, detail) VALUES (?, ?, 'regraded', ?, ?)",
                     (now, ta, answer_id, json.dumps(after)))
    return next(r for r in regrades(conn) if r["id"] == regrade)


def regrades(conn: sqlite3.Connection, question: str | None = None, file: str | None = None) -> list[dict]:
    """Every regrade (of ``question`` and/or ``file`` if given), oldest first: what the feedback shows as a
    change of mark. Each: ``id``, ``answer_id``, ``file``, ``question``, ``ta`` (who reopened), ``reason``,
    ``opened`` (epoch seconds), ``before`` (item ids applied then), ``closed`` (None while open),
    ``closed_by``, ``after`` (item ids applied when closed; None while open). Price ``before``/``after``
    with ``rubric.Question.score``."""
    query = ("SELECT g.*, a.file, a.question FROM regrades g JOIN answers a ON a.id = g.answer_id WHERE 1 = 1"
             + (" AND a.question = :question" if question is not None else "")
             + (" AND a.file = :file" if file is not None else "") + " ORDER BY g.opened, g.id")
    return [{"id": r["id"], "answer_id": r["answer_id"], "file": r["file"], "question": r["question"], "ta": r["ta"],
             "reason": r["reason"], "opened": r["opened"], "before": json.loads(r["before"]), "closed": r["closed"],
             "closed_by": r["closed_by"], "after": json.loads(r["after"]) if r["after"] is not None else None}
            for r in conn.execute(query, {"question": question, "file": file})]


def history(conn: sqlite3.Connection, answer_id: int) -> list[dict]:
    """Every change of the answer's marks, oldest first: ``item`` (id), ``applied``, ``ta``, ``at``, ``regrade``
    (the regrade's id, or None)."""
    return [{"item": r["item"], "applied": bool(r["applied"]), "ta": r["ta"], "at": r["at"], "regrade": r["regrade"]}
            for r in conn.execute("SELECT * FROM history WHERE answer_id = ? ORDER BY id", (answer_id,))]


def _reviewed(conn: sqlite3.Connection, answer_id: int, ta: str, now: float) -> None:
    conn.execute("INSERT INTO reviewed (answer_id, text_hash, ta, at) SELECT id, text_hash, ?, ? FROM answers "
                 "WHERE id = ? ON CONFLICT (answer_id) DO UPDATE SET text_hash = excluded.text_hash, "
                 "ta = excluded.ta, at = excluded.at", (ta, now, answer_id))


def variant_values(variant: str) -> dict:
    from course_staff.written.marking.rubric import variant_values as values

    return values(variant)


def variant_numbers(variant: str) -> str:
    """``"q2=7"`` with the numbers of that variant, as a TA reads an answer against them:
    ``"q2=7 (w_in 2, w_rec -1, w_out 1000)"``; "" without variants."""
    from course_utils import variants

    shown = []
    for part in variant.split():
        prefix, _, number = part.partition("=")
        try:
            numbers = variants.table(prefix)[int(number)]
        except (ValueError, IndexError, ImportError):
            numbers = {}
        plain = [f"{k} {v}" for k, v in numbers.items() if isinstance(v, (int, float, str)) and not isinstance(v, bool)]
        shown.append(f"{part} ({', '.join(plain)})" if plain else part)
    return "; ".join(shown)


def answers_of(conn: sqlite3.Connection, question: str, ta: str | None = None) -> list[dict]:
    """One question's present answers, largest group first, with their marks, comment and flags.

    ``items``: the item ids applied (see ``set_mark``); ``seen``: whether ``ta`` has seen it (False without
    ``ta``); ``regrade``: the reason of its open regrade ("" if none); ``regrades``: how many it had.
    """
    rows = conn.execute(
        "SELECT a.*, r.ta AS marked_by, r.text_hash AS marked_hash, c.comment FROM answers a "
        "LEFT JOIN reviewed r ON r.answer_id = a.id LEFT JOIN comments c ON c.answer_id = a.id "
        "WHERE a.question = ? AND a.present = 1 ORDER BY a.grp, a.anon", (question,)).fetchall()
    applied: dict[int, list[int]] = {}
    for mark in conn.execute("SELECT m.answer_id, m.item FROM marks m JOIN answers a ON a.id = m.answer_id "
                             "WHERE a.question = ? AND m.applied = 1 ORDER BY m.at, m.item", (question,)):
        applied.setdefault(mark["answer_id"], []).append(mark["item"])
    seen = seen_by(conn, ta) if ta else set()
    reopened: dict[int, list] = {}
    for r in regrades(conn, question):
        reopened.setdefault(r["answer_id"], []).append(r)
    return [{"id": r["id"], "file": r["file"], "anon": r["anon"], "text": r["text"], "group": r["grp"],
             "variant": variant_numbers(r["variant"]), "values": variant_values(r["variant"]),
             "group_size": r["grp_size"], "blank": bool(r["blank"]), "items": applied.get(r["id"], []),
             "comment": r["comment"] or "", "marked_by": r["marked_by"] or "",
             "changed": r["marked_hash"] is not None and r["marked_hash"] != r["text_hash"],
             "seen": r["id"] in seen, "regrades": len(reopened.get(r["id"], [])),
             "regrade": next((g["reason"] for g in reopened.get(r["id"], []) if g["closed"] is None), "")}
            for r in rows]


def questions(conn: sqlite3.Connection) -> list[dict]:
    """Every written question with its prompt and how many of its answers are marked, in batch order."""
    rows = conn.execute(
        "SELECT a.question, a.handout, MIN(a.id) AS first, MAX(a.prompt) AS prompt, COUNT(*) AS answers, "
        "COUNT(r.answer_id) AS marked FROM answers a LEFT JOIN reviewed r ON r.answer_id = a.id "
        "WHERE a.present = 1 GROUP BY a.question, a.handout ORDER BY a.handout, first").fetchall()
    return [dict(r) for r in rows]


def scores(conn: sqlite3.Connection) -> dict[tuple[str, str], dict]:
    """(file, question) -> ``id`` (the answer's), ``items`` (the item ids applied: see ``set_mark``), ``marked``,
    ``changed`` (its text changed since it was marked): what the gradebook and the feedback read."""
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
