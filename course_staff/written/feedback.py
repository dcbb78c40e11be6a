"""``course-utils feedback REPORT.csv``: one feedback file per student, to hand back with the grade.

Per student (the same students as ``course-utils gradebook``: one per Canvas user id, only the latest
upload of each notebook) an HTML file (self-contained: inline style, no script, no link out) and a
Markdown file, each with

- each check of each notebook: its points, and for a check that lost points the self-check's hint (the
  text the student's own ``check`` prints, which never states the answer) and why the grader did not
  count it, in words a student can act on. The grader's notes are never copied as they are: they may
  quote a hidden case or an error message built from one; only a fixed set of phrases is said
  (:func:`why_lost`);
- each written answer: the student's text, the rubric items the TA applied (with their points), the
  points and the TA's comment (``report.marks.sqlite``, ``course-utils mark``);
- the total, as the gradebook has it.

Files are named after the student's Canvas download (``doe_123_456_hw3.ipynb`` gives
``doe_123_456_hw3.html`` and ``.md``), so that Canvas's "re-upload submissions" attaches each to its
student's submission as a comment. Everything a student or a TA wrote is escaped (HTML; in Markdown,
text in fenced blocks and backslash-escaped punctuation), so no renderer runs it.

``--gradescope results.json`` writes the same feedback into a Gradescope result (its one submission):
each check's test gets its points and hint as output, each written question a test whose output is the
items applied and the comment. As the gradebook, nothing is written while written answers are unmarked
(they would read 0) unless ``--allow-unmarked``.
"""

from __future__ import annotations

import argparse
import html
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from course_staff.formats.report import read_report
from course_staff.formats.scoring import Rubric, load_rubric
from course_staff.written import gradebook
from course_staff.written.answers import read_csv as read_answers
from course_staff.written.marking.command import database_path
from course_staff.written.marking.rubric import DEFAULT_PATH, WrittenRubric, load
from course_staff.written.marks import WrittenLine, read_comments, read_regrades, read_scores, written_line, written_text

CHECKS_RUBRIC = Path("answers/rubric.json")


@dataclass
class CheckLine:
    """One check of one notebook, as the student reads it."""

    check: str
    points: float
    max_points: float
    hint: str = ""  # the self-check's hint (lost checks only)
    why: str = ""  # a safe reason from the grader's note (lost checks only)

    @property
    def lost(self) -> bool:
        return self.points < self.max_points


@dataclass
class Feedback:
    """Everything one student's feedback file says."""

    student: str
    name: str  # the file name without extension (the Canvas download's)
    files: list[str]
    notes: list[str] = field(default_factory=list)  # per notebook: how the run went, where it matters
    checks: list[tuple[str, list[CheckLine]]] = field(default_factory=list)  # (file, its checks)
    written: list[WrittenLine] = field(default_factory=list)
    superseded: list[str] = field(default_factory=list)
    total: float = 0.0
    max_points: float = 0.0
    variant: list[str] = field(default_factory=list)  # "q2=7": the variants graded (per-student variants on)


def feedback_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``course-utils feedback``."""
    parser.add_argument("report", type=Path, metavar="REPORT.csv", help="the grading report (course-utils grade)")
    parser.add_argument("--marks", type=Path, default=None, help="marking database (default: REPORT.marks.sqlite)")
    parser.add_argument("--rubric", type=Path, default=None, help=f"written rubric (default: {DEFAULT_PATH})")
    parser.add_argument("--checks-rubric", type=Path, default=CHECKS_RUBRIC,
                        help=f"points per check id, as the batch was graded with (default: {CHECKS_RUBRIC})")
    parser.add_argument("--out", type=Path, default=Path("feedback"),
                        help="folder for the files, one .html and one .md per student (default: feedback/)")
    parser.add_argument("--gradescope", type=Path, default=None, metavar="results.json",
                        help="write the feedback of its one submission into this Gradescope results.json instead")
    parser.add_argument("--allow-unmarked", action="store_true",
                        help="write feedback although written answers are unmarked (they read 'not marked yet', 0)")


# -- why a check lost its points, in words that neither quote a hidden case nor give the answer -----------------

_HIDDEN = "on one of the grader's own cases (other inputs than the public example in the notebook)"
#: (pattern of the grader's note after ``<check id>: ``, what the student reads). Notes that match none are
#: left out: the hint alone is said. The patterns read only the grader's fixed phrases; a captured group is
#: used only where it is an exception's class name.
_REASONS: tuple[tuple[re.Pattern, str], ...] = tuple((re.compile(p), r) for p, r in (
    (r"^check cell did not run", "The check's cell did not run when the grader ran your notebook from the top: "
                                 "make sure Kernel > Restart & Run All runs every cell above it without an error."),
    (r"^no answer yet", "The blank still holds ... (no answer): fill it in and run its check."),
    (r"^hidden case \d+: the function raised ([A-Za-z_][A-Za-z0-9_.]*)",
     "Your function raised {0} " + _HIDDEN + ": try it on inputs of other sizes and values."),
    (r"^hidden case \d+: the function ran past its time limit",
     "Your function ran past the time limit " + _HIDDEN + ": look for a loop that does not end."),
    (r"^hidden case \d+: no output", "Your function returned nothing the grader could read " + _HIDDEN + "."),
    (r"^hidden case \d+: the output's shape differs",
     "Your function's output has another shape than the reference's " + _HIDDEN + ": check it for other sizes."),
    (r"^hidden case \d+: a value is not a number",
     "Your function's output holds something that is not a number " + _HIDDEN + "."),
    (r"^hidden case \d+: the base case fails", "Your claim fails the base case: at N = 0 it must equal h_0 = 0."),
    (r"^hidden case \d+: the claim could not be read", "Your claim could not be read as a sympy expression."),
    (r"^hidden case \d+: sympy cannot verify the induction step",
     "sympy cannot verify the induction step of your claim for a symbolic N (write it as one sp.Sum over k)."),
    (r"^hidden case \d+: ", "Your function's result differs from the reference's " + _HIDDEN
                            + ": it works on the public example only; make it follow the definition for any input."),
    (r"^the function (could not be used|was not run on the hidden cases)",
     "The grader could not call your function (is it defined, with the name and arguments the notebook asks for, "
     "after Restart & Run All?)."),
    (r"^the value (could not be read|is not plain answer data)",
     "The grader could not read your answer's value: give it as the kind of value the prompt asks for."),
))
_STATUS = {
    "fail": "When the grader ran this notebook from the top, a cell raised an error, an output differed from the "
            "one you handed in, or a locked cell had been changed: run Kernel > Restart & Run All before you submit.",
    "error": "The grader could not run this notebook (not a notebook, not one of the handouts, or its kernel "
             "stopped): ask the course staff.",
    "timeout": "This notebook ran past the grader's time limit: the checks after the point it reached got 0.",
}


def why_lost(check: str, detail: str) -> str:
    """What the student reads about why ``check`` lost its points: one of the fixed phrases of ``_REASONS``
    chosen by the grader's note for it in ``detail`` (the report's column), or "" (no note, or one not safe
    to say: the hint alone is said then)."""
    for part in detail.split("; "):
        if not part.startswith(f"{check}: "):
            continue
        note = part[len(check) + 2:]
        for pattern, text in _REASONS:
            found = pattern.match(note)
            if found:
                return text.format(*found.groups())
    return ""


def check_hint(check: str) -> str:
    """The self-check's hint for ``check`` (what ``check`` prints with "not yet"; written not to give the
    answer away), or "" for an id the package does not know."""
    from course_utils import checks

    try:
        return checks.spec_of(check).hint.strip()
    except Exception:  # noqa: BLE001 - an unknown or unloadable check: no hint, still feedback
        return ""


# -- assembling -----------------------------------------------------------------------------------------------


def build(report: Path, marks: Path, rubric: WrittenRubric, check_rubric: Rubric) -> tuple[list[Feedback], list[dict]]:
    """Every student's feedback, and the gradebook rows it agrees with (``gradebook.build``).

    ValueError when ``check_rubric`` does not give a notebook's points possible as the report has them
    (the feedback would show other maxima than the grade).
    """
    rows, check_ids, _ = gradebook.build(report, marks, rubric)
    report_rows = {r["file"]: r for r in read_report(report)[0]}
    answers_csv = report.with_suffix(".answers.csv")
    answers = read_answers(answers_csv) if answers_csv.is_file() else []
    scores, comments, changes = read_scores(marks), read_comments(marks), read_regrades(marks)
    found = []
    for row in rows:
        files = row["files"]
        item = Feedback(row["student"], Path(files[0]).stem if files else row["student"], list(files),
                        superseded=list(row["superseded"]), total=row["total"], max_points=row["max"],
                        variant=list(row.get("variant", [])))
        for file in files:
            graded = report_rows[file]
            lines = []
            for check in check_ids:
                if graded.get(check, "") == "":
                    continue
                line = CheckLine(check, float(graded[check]), check_rubric.of(check))
                if line.lost:
                    line.hint, line.why = check_hint(check), why_lost(check, graded.get("detail") or "")
                lines.append(line)
            most = sum(line.max_points for line in lines)
            if lines and abs(most - float(graded.get("max_score") or 0)) > 1e-9:
                raise ValueError(f"the checks rubric gives {file} {most:g} points possible, the report "
                                 f"{graded.get('max_score')}: pass the rubric the batch was graded with "
                                 "(--checks-rubric)")
            if graded.get("status") in _STATUS:
                item.notes.append(f"{file}: {_STATUS[graded['status']]}")
            item.checks.append((file, lines))
        item.written = [written_line(rubric, a, scores, comments, changes) for a in answers if a.file in files]
        found.append(item)
    return found, rows


# -- texts ----------------------------------------------------------------------------------------------------

def _n(value: float) -> str:
    return f"{value:g}"


def check_text(line: CheckLine) -> str:
    """One check's feedback as plain text (a Gradescope test's output)."""
    if not line.lost:
        return (f"{line.check}: {_n(line.points)} / {_n(line.max_points)} points: correct when the grader ran "
                "your notebook.")
    parts = [f"{line.check}: {_n(line.points)} / {_n(line.max_points)} points: not correct when the grader ran "
             "your notebook."]
    parts += [text for text in (line.why, f"Hint: {line.hint}" if line.hint else "") if text]
    return " ".join(parts)


# -- HTML -----------------------------------------------------------------------------------------------------

def _e(text: str) -> str:
    return html.escape(str(text), quote=True)


STYLE = ("body{font-family:system-ui,sans-serif;max-width:52em;margin:2em auto;padding:0 1em;color:#222}"
         "h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ddd}"
         "table{border-collapse:collapse;width:100%}td,th{border:1px solid #ddd;padding:.35em .5em;"
         "vertical-align:top;text-align:left}td.pts{white-space:nowrap;text-align:right}"
         "tr.lost td{background:#fff6e5}pre{white-space:pre-wrap;word-break:break-word;margin:0;"
         "font-family:ui-monospace,monospace}.answer{background:#f6f6f6;padding:.6em;border-radius:4px}"
         ".comment{background:#eef5ff;padding:.6em;border-left:3px solid #4a7bd0}.comment pre{font-family:inherit}"
         ".total{font-size:1.2em}"
         ".muted{color:#666}.note{background:#fdecea;padding:.5em}")


def render_html(item: Feedback) -> str:
    """The student's feedback as one self-contained HTML page (nothing loaded, nothing run)."""
    out = ["<!doctype html>", '<html lang="en"><head><meta charset="utf-8">',
           # no script, no remote anything: the page only shows text, whoever opens it and wherever
           "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">",
           f"<title>Feedback: {_e(item.name)}</title><style>{STYLE}</style></head><body>",
           f"<h1>Feedback: {_e(item.name)}</h1>",
           f'<p class="total" id="total">Total: <b>{_e(_n(item.total))} / {_e(_n(item.max_points))}</b> points</p>',
           f'<p class="muted">Graded: {_e(", ".join(item.files))}</p>']
    if item.variant:
        out.append(f'<p class="muted">Graded in your variant: {_e(_variant_text(item.variant))}</p>')
    if item.superseded:
        out.append(f'<p class="muted">Earlier uploads, not counted (only your latest upload of each notebook '
                   f'counts): {_e(", ".join(item.superseded))}</p>')
    out += [f'<p class="note">{_e(note)}</p>' for note in item.notes]
    for file, lines in item.checks:
        if not lines:
            continue
        got, most = sum(x.points for x in lines), sum(x.max_points for x in lines)
        out.append(f"<h2>Checks: {_e(file)} ({_e(_n(got))} / {_e(_n(most))})</h2>")
        out.append("<table><tr><th>check</th><th>points</th><th>what to look at</th></tr>")
        for line in lines:
            says = " ".join(filter(None, [line.why, f"Hint: {line.hint}" if line.hint else ""])) if line.lost \
                else "correct"
            out.append(f'<tr class="{"lost" if line.lost else "ok"}"><td><code>{_e(line.check)}</code></td>'
                       f'<td class="pts">{_e(_n(line.points))} / {_e(_n(line.max_points))}</td>'
                       f"<td>{_e(says)}</td></tr>")
        out.append("</table>")
    if item.written:
        got = sum(w.points for w in item.written)
        most = sum(w.max_points for w in item.written)
        out.append(f"<h2>Written answers ({_e(_n(got))} / {_e(_n(most))})</h2>")
    for line in item.written:
        out.append(f'<section class="written"><h3>{_e(line.title)}: '
                   f'{_e(_n(line.points))} / {_e(_n(line.max_points))}</h3>')
        out.append(f'<div class="answer"><pre>{_e(line.answer)}</pre></div>')
        if not line.marked:
            out.append('<p class="muted">Not marked yet (0 points for now).</p>')
        elif line.items:
            out.append("<ul>" + "".join(f'<li><b>{_e(f"{p:+g}")}</b> {_e(t)}</li>' for p, t in line.items) + "</ul>")
        else:
            out.append('<p class="muted">No rubric item applied.</p>')
        if line.comment:
            out.append(f'<div class="comment"><b>TA\'s comment</b><pre>{_e(line.comment)}</pre></div>')
        out += [f'<p class="regrade">{_e(change)}</p>' for change in line.regrades]
        out.append("</section>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


# -- Markdown -------------------------------------------------------------------------------------------------

_MD_INLINE = re.compile(r"([\\`*_\[\]<>&~$|^])")  # marks that act anywhere in a line (or in a math plugin)
_MD_LEAD = re.compile(r"^([#>+\-=]|\d+(?=[.)]))")  # marks that act at a line's start: headings, quotes, lists


def md_inline(text: str) -> str:
    """Text for one line of Markdown, shown as typed: the marks that act anywhere backslash-escaped (CommonMark
    allows a backslash before any ASCII punctuation), a block marker at its start too; line breaks made spaces."""
    escaped = _MD_INLINE.sub(r"\\\1", " ".join(str(text).split()))
    lead = _MD_LEAD.match(escaped)
    if lead and lead.group(1).isdigit():
        return escaped[: lead.end()] + "\\" + escaped[lead.end():]
    return "\\" + escaped if lead else escaped


def md_block(text: str) -> str:
    """Text as a fenced code block whose fence is longer than any run of backticks in it (so it cannot close early)."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"


def _variant_text(variant: list[str]) -> str:
    """``["q2=7", "lab=3"]`` as "q2 variant 7, lab variant 3" (the numbers ``course-utils keys --variant`` names)."""
    return ", ".join(f"{v.split('=', 1)[0]} variant {v.split('=', 1)[-1]}" for v in variant)


def render_markdown(item: Feedback) -> str:
    """The student's feedback as Markdown (what a student's text holds never becomes markup)."""
    out = [f"# Feedback: {md_inline(item.name)}", "",
           f"**Total: {md_inline(_n(item.total))} / {md_inline(_n(item.max_points))} points**", "",
           f"Graded: {md_inline(', '.join(item.files))}", ""]
    if item.variant:
        out += [f"Graded in your variant: {md_inline(_variant_text(item.variant))}", ""]
    if item.superseded:
        out += [f"Earlier uploads, not counted (only your latest upload of each notebook counts): "
                f"{md_inline(', '.join(item.superseded))}", ""]
    out += [f"> {md_inline(note)}\n" for note in item.notes]
    for file, lines in item.checks:
        if not lines:
            continue
        got, most = sum(x.points for x in lines), sum(x.max_points for x in lines)
        out += [f"## Checks: {md_inline(file)} ({md_inline(_n(got))} / {md_inline(_n(most))})", ""]
        for line in lines:
            head = f"- {md_inline(line.check)}: {md_inline(_n(line.points))} / {md_inline(_n(line.max_points))}"
            if not line.lost:
                out.append(f"{head}, correct")
                continue
            out.append(f"{head}, not correct when the grader ran your notebook.")
            out += [f"  {md_inline(t)}" for t in (line.why, f"Hint: {line.hint}" if line.hint else "") if t]
        out.append("")
    if item.written:
        got = sum(w.points for w in item.written)
        most = sum(w.max_points for w in item.written)
        out += [f"## Written answers ({md_inline(_n(got))} / {md_inline(_n(most))})", ""]
    for line in item.written:
        out += [f"### {md_inline(line.title)}: {md_inline(_n(line.points))} / {md_inline(_n(line.max_points))}", "",
                "Your answer:", "", md_block(line.answer), ""]
        if not line.marked:
            out += ["Not marked yet (0 points for now).", ""]
        elif line.items:
            out += [f"- {md_inline(f'{p:+g}')} {md_inline(t)}" for p, t in line.items] + [""]
        else:
            out += ["No rubric item applied.", ""]
        if line.comment:
            out += ["TA's comment:", "", md_block(line.comment), ""]
        out += [f"{md_inline(change)}\n" for change in line.regrades]
    return "\n".join(out).rstrip("\n") + "\n"


# -- the command ----------------------------------------------------------------------------------------------

def feedback(args: argparse.Namespace) -> int:
    """Write the feedback files (or the Gradescope result); 0 done, 2 a usage error or unmarked answers."""
    try:
        rubric = load(args.rubric or DEFAULT_PATH)
        checks_rubric = load_rubric(args.checks_rubric if args.checks_rubric.is_file() else None)
        marks = database_path(args.report, args.marks)
        items, rows = build(args.report, marks, rubric, checks_rubric)
    except (OSError, ValueError) as exc:
        print(f"course-utils feedback: {exc}", file=sys.stderr)
        return 2
    if not args.checks_rubric.is_file():
        print(f"course-utils feedback: no checks rubric {args.checks_rubric}: every check counted as 1 point "
              "(pass --checks-rubric)", file=sys.stderr)
    target = str(args.gradescope or f"{args.out}/")
    refusal = gradebook.unmarked_refusal(rows, "feedback", args.report, f"the feedback in {target}")
    if refusal and not args.allow_unmarked:
        print(refusal, file=sys.stderr)
        return 2
    if refusal:
        print(f"course-utils feedback: --allow-unmarked: {sum(r['unmarked'] for r in rows)} unmarked written answers "
              "read 'not marked yet' (0 points)", file=sys.stderr)
    if args.gradescope is not None:
        if not items:
            print(f"course-utils feedback: no graded submission in {args.report}", file=sys.stderr)
            return 2
        item, row = items[0], rows[0]
        written = [f"written:{w.question}" for w in item.written]
        outputs = {f"written:{w.question}": written_text(w) for w in item.written}
        checks = {line.check: check_text(line) for _, lines in item.checks for line in lines}
        try:
            gradebook.add_to_gradescope(args.gradescope, row, rubric, written, outputs, checks)
        except (OSError, ValueError) as exc:
            print(f"course-utils feedback: cannot update {args.gradescope}: {exc}", file=sys.stderr)
            return 2
        print(f"feedback of {item.name} written into {args.gradescope}")
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    for item in items:
        (args.out / f"{item.name}.html").write_text(render_html(item), encoding="utf-8")
        (args.out / f"{item.name}.md").write_text(render_markdown(item), encoding="utf-8")
    print(f"{len(items)} students: {args.out}/ (one .html and one .md each, named as the Canvas download, "
          "ready for Canvas's re-upload submissions or to attach as comments)")
    return 0
