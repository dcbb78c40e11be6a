"""``course-utils similarity DIR --handouts notebooks --out pairs.csv [--html pairs.html]``: unusually alike work.

One CSV row per pair and part (``a, b, part, question, score, why``: ``pairs``), highest score first. Which pairs
are listed is relative to the batch (``compare``): each question's top pairs whatever their score, the
batch's outliers, answer groups of two with unusual shared wording, and with ``--threshold`` every pair at
or above it (``--threshold 0`` lists them all). Code is compared after an ``ast`` normalisation that
undoes renaming, reordering, parenthesised numbers, junk lines and loop/comprehension rewrites
(``normalise``). The HTML page
shows each pair's matching passages side by side, every submission's text escaped. Nothing is
penalised: a TA confirms or dismisses each pair in ``course-utils mark --pairs pairs.csv``.
"""

from __future__ import annotations

import argparse
import html
import sys
from pathlib import Path

from course_staff.written.pairs import Pair, write_csv
from course_staff.written.similarity.compare import TOP, Work, run


def similarity_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", type=Path, metavar="DIR", help="folder of submitted *.ipynb")
    parser.add_argument("--handouts", type=Path, default=Path("notebooks"), help="the handouts (default: notebooks)")
    parser.add_argument("--out", type=Path, default=Path("pairs.csv"), help="CSV of pairs (default: pairs.csv)")
    parser.add_argument("--html", type=Path, default=None, help="also an HTML page, the pairs side by side")
    parser.add_argument("--threshold", type=float, default=None,
                        help="also list every pair at or above this score, 0 to 1 (default: none; the pairs listed "
                             "are each question's top ones and the batch's outliers)")
    parser.add_argument("--per-question", type=int, default=TOP,
                        help=f"pairs always listed per question and per handout's code (default: {TOP})")
    parser.add_argument("--top", type=int, default=200, help="pairs shown in the HTML page (default: 200)")
    parser.add_argument("--roster", type=Path, default=None, metavar="CSV",
                        help="with per-student variants on: the class's ids and files, as for course-utils grade")


def _code_view(source: str, lines: tuple[int, ...]) -> str:
    marked = set(lines)
    return "\n".join(f'<span class="hit">{html.escape(line)}</span>' if n in marked else html.escape(line)
                     for n, line in enumerate(source.splitlines(), start=1))


def write_html(pairs: list[Pair], works: list[Work], path: Path, top: int) -> None:
    by_file = {w.file: w for w in works}
    parts = ['<!doctype html><html><head><meta charset="utf-8"><title>Similar pairs</title><style>',
             "body{font-family:sans-serif;margin:2em}pre{white-space:pre-wrap;margin:0;font-size:12px}"
             "td{border:1px solid #ccc;vertical-align:top;width:50%;padding:.4em}table{border-collapse:collapse;"
             "width:100%;margin-bottom:2em}.hit{background:#ffe08a}</style></head><body>",
             f"<h1>Similar pairs ({len(pairs)}; the first {min(top, len(pairs))} shown)</h1>",
             "<p>Handout text and scaffold code removed; nothing is penalised: confirm or dismiss each pair in "
             "<code>course-utils mark</code>.</p>"]
    for rank, pair in enumerate(pairs[:top], start=1):
        if pair.part == "variant":  # no text side by side: the evidence is the number or the id cell itself
            parts.append(f"<h2>{rank}. {html.escape(pair.a)} &rarr; {html.escape(pair.b or '?')}: another student's "
                         f"variant {html.escape(pair.question)} ({html.escape(pair.why)})</h2>")
            continue
        a, b = by_file[pair.a], by_file[pair.b]
        what = "code" if pair.part == "code" else f"prose, question {html.escape(pair.question)}"
        parts.append(f"<h2>{rank}. {html.escape(pair.a)} &harr; {html.escape(pair.b)}: {what}, score {pair.score:.2f}"
                     + (f" ({html.escape(pair.why)})" if pair.why else "") + "</h2>")
        if pair.part == "code":
            left, right = _code_view(a.code, pair.lines_a), _code_view(b.code, pair.lines_b)
        else:
            left, right = html.escape(a.prose.get(pair.question, "")), html.escape(b.prose.get(pair.question, ""))
        parts.append(f"<table><tr><td><pre>{left}</pre></td><td><pre>{right}</pre></td></tr></table>")
    parts.append("</body></html>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts) + "\n", encoding="utf-8")


def similarity(args: argparse.Namespace) -> int:
    if not args.dir.is_dir() or not args.handouts.is_dir():
        print(f"course-utils similarity: {args.dir} and --handouts {args.handouts} must be folders", file=sys.stderr)
        return 2
    from course_staff.formats import identity

    try:
        roster = identity.load_roster(args.roster) if args.roster is not None else None
    except identity.RosterError as exc:
        print(f"course-utils similarity: {exc}", file=sys.stderr)
        return 2
    pairs, works, skipped = run(args.dir, args.handouts, args.threshold, args.per_question, roster)
    write_csv(pairs, args.out)
    if args.html is not None:
        write_html(pairs, works, args.html, args.top)
    if skipped:
        print(f"skipped (not a notebook of a handout): {', '.join(skipped)}", file=sys.stderr)
    rule = f"top {args.per_question} per question, outliers" + (
        f", score >= {args.threshold:g}" if args.threshold is not None else "")
    print(f"{len(pairs)} pairs ({rule}) among {len(works)} submissions: {args.out}")
    return 0
