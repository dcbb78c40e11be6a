"""Gradescope: ``results.json`` for one graded submission, and the autograder bundle that writes it.

Field names follow Gradescope's autograder specification
(https://gradescope-autograders.readthedocs.io/en/latest/specs/): top level ``score``,
``execution_time``, ``output``, ``stdout_visibility``, ``tests``; per test ``name``, ``score``,
``max_score``, ``status`` (``passed``/``failed``), ``output``, ``visibility``. One test per check id
(its rubric points) and one "notebook" test worth 0 points that carries the run's status and detail.

``course-utils autograder DIR`` writes ``setup.sh`` (run once by Gradescope when it builds the image),
``run_autograder`` (run per submission: ``/autograder/submission`` in, ``/autograder/results/results.json``
out; ``COURSE_AUTOGRADER_ROOT`` replaces ``/autograder`` in tests), the handouts, the rubric, and
``autograder.zip`` holding them all at its root, ready to upload.

User separation: setup.sh installs bubblewrap, creates the unprivileged user ``student`` and makes the
instructor package (``course_staff`` in the grader's site-packages) readable by root only.
run_autograder (as root) makes ``/autograder``'s source, submission and results root-only and grades
with ``--kernel-user student``: each sandbox, and so the kernel, runs as ``student``. Where the image
cannot create namespaces it grades ``--no-sandbox`` (said in the results): the container is the
sandbox, the kernel still runs as ``student``, which can neither read the autograder's files nor
import ``course_staff``.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import shutil
import sys
import zipfile
from pathlib import Path

from course_staff.grading.report import Row
from course_staff.authoring.keys import INSTALL_SPEC

VISIBILITY = "visible"  # one of: hidden, after_due_date, after_published, visible
VENV = "/opt/course-grader"


def results(row: Row, visibility: str = VISIBILITY) -> dict:
    """Gradescope's results.json content for one report row."""
    tests = [{"name": question, "score": row.checks[question], "max_score": row.check_max[question],
              "status": "passed" if row.checks[question] == row.check_max[question] else "failed",
              "output": _check_output(row, question), "visibility": visibility}
             for question in row.check_max]
    tests.append({"name": "notebook", "score": 0.0, "max_score": 0.0,
                  "status": "passed" if row.status == "pass" else "failed",
                  "output": f"status: {row.status}" + (f"\n{row.detail}" if row.detail else ""),
                  "visibility": visibility})
    return {"score": row.score, "execution_time": round(row.seconds), "stdout_visibility": "hidden",
            "output": f"{row.file}: {row.status}, {row.score:g} / {row.max_score:g} points "
                      f"(handout {row.handout or 'unknown'}, submitted in {row.mode or 'unknown'} mode)",
            "tests": tests}


def failure(message: str) -> dict:
    """results.json when no notebook could be graded (none submitted, several, ...)."""
    return {"score": 0.0, "output": message, "stdout_visibility": "hidden", "tests": []}


def write(data: dict, path: Path) -> None:
    """Write results.json (pretty, UTF-8)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


def _check_output(row: Row, question: str) -> str:
    if row.checks[question] == row.check_max[question]:
        return f"{question}: correct when the grader ran your notebook."
    notes = [part for part in row.detail.split("; ") if part.startswith(question + ":")]
    return f"{question}: not correct when the grader ran your notebook." + (f" ({notes[0]})" if notes else "")


RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this once per submission, in /autograder: the student's files are in submission/,
# results/results.json is what Gradescope reads. COURSE_AUTOGRADER_ROOT replaces /autograder (tests);
# COURSE_AUTOGRADER_PYTHON the Python that setup.sh installed the course package into.
# The kernel runs as the unprivileged user student (setup.sh made it) in a bubblewrap sandbox; where
# namespaces are not allowed, unsandboxed but still as student (the container is the sandbox).
set -u
ROOT="${{COURSE_AUTOGRADER_ROOT:-/autograder}}"
PYTHON="${{COURSE_AUTOGRADER_PYTHON:-{venv}/bin/python}}"
mkdir -p "$ROOT/results"
USER_ARGS=()
if [ "$(id -u)" = 0 ] && id -u student >/dev/null 2>&1; then
  chmod -R go-rwx "$ROOT/source" "$ROOT/submission" "$ROOT/results"
  USER_ARGS=(--kernel-user student)
fi
if ! "$PYTHON" -c "import pwd, sys; from course_staff.grading import sandbox
u = pwd.getpwnam(sys.argv[1]) if len(sys.argv) > 1 else None
why = sandbox.available((u.pw_uid, u.pw_gid) if u else None); print(why or '', file=sys.stderr); sys.exit(why is not None)" \\
    "${{USER_ARGS[@]:1}}"; then
  USER_ARGS+=(--no-sandbox)
fi
exec "$PYTHON" -m course_utils grade "$ROOT/submission" --gradescope "$ROOT/results/results.json" \\
  --report "$ROOT/results/report.csv" --handouts "$ROOT/source/handouts" --rubric "$ROOT/source/rubric.json" \\
  --timeout {timeout:g} --jobs 1{full} "${{USER_ARGS[@]}}"
"""

SETUP = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image (Ubuntu, network on).
set -euo pipefail
apt-get install -y --no-install-recommends python3 python3-venv python3-pip git bubblewrap
id -u student >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin student
python3 -m venv {venv}
{venv}/bin/pip install --no-cache-dir "torch=={torch}" --index-url https://download.pytorch.org/whl/cpu
{venv}/bin/pip install --no-cache-dir "{spec}"
# the instructor package is the grader's alone: the kernel user (student) cannot read or import it
chmod -R go-rwx "$({venv}/bin/python -c 'import course_staff, os; print(os.path.dirname(course_staff.__file__))')"
"""


def autograder_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``course-utils autograder``."""
    parser.add_argument("dir", type=Path, metavar="DIR", help="folder to write the bundle into (created)")
    parser.add_argument("--handouts", type=Path, default=Path("notebooks"), help="handouts folder (default: notebooks)")
    parser.add_argument("--rubric", type=Path, default=Path("answers/rubric.json"),
                        help="points per check id (default: answers/rubric.json)")
    parser.add_argument("--ref", default="main", help="git ref of the course package setup.sh installs (default: main)")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per submission (default: 1800)")
    parser.add_argument("--full", action="store_true", help="grade in full mode (needs the caches in the image)")


def autograder(args: argparse.Namespace) -> int:
    """Write the bundle; 0 on success, 2 if the handouts or the rubric are missing."""
    handouts = sorted(args.handouts.glob("*.ipynb")) if args.handouts.is_dir() else []
    if not handouts or not args.rubric.is_file():
        print(f"course-utils autograder: needs handouts in {args.handouts}/ and a rubric {args.rubric} "
              "(run it from the repository root, or pass --handouts and --rubric)", file=sys.stderr)
        return 2
    torch = importlib.metadata.version("torch").split("+")[0]
    files = {
        "setup.sh": SETUP.format(venv=VENV, torch=torch, spec=f"{INSTALL_SPEC}@{args.ref}".replace(
            "course-utils @", "course-utils[grade] @")),
        "run_autograder": RUN_AUTOGRADER.format(venv=VENV, timeout=args.timeout, full=" --full" if args.full else ""),
    }
    args.dir.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (args.dir / name).write_text(text, encoding="utf-8")
        (args.dir / name).chmod(0o755)
    (args.dir / "handouts").mkdir(exist_ok=True)
    for path in handouts:
        shutil.copyfile(path, args.dir / "handouts" / path.name)
    shutil.copyfile(args.rubric, args.dir / "rubric.json")
    with zipfile.ZipFile(args.dir / "autograder.zip", "w", zipfile.ZIP_DEFLATED) as bundle:
        for path in sorted(args.dir.rglob("*")):
            if path.is_file() and path.name != "autograder.zip":
                info = zipfile.ZipInfo(str(path.relative_to(args.dir)))
                info.external_attr = (0o755 if path.name in files else 0o644) << 16
                bundle.writestr(info, path.read_bytes(), zipfile.ZIP_DEFLATED)
    print(f"wrote {args.dir}/ (setup.sh, run_autograder, {len(handouts)} handouts, rubric.json) "
          f"and {args.dir / 'autograder.zip'} to upload")
    return 0
