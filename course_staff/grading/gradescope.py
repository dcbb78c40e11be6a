"""Gradescope: ``results.json`` for one graded submission, and the autograder bundle that writes it.

Field names follow Gradescope's autograder specification
(https://gradescope-autograders.readthedocs.io/en/latest/specs/): top level ``score``,
``execution_time``, ``output``, ``stdout_visibility``, ``tests``; per test ``name``, ``score``,
``max_score``, ``status`` (``passed``/``failed``), ``output``, ``visibility``. One test per check id
(its rubric points) and one "notebook" test worth 0 points that carries the run's status and detail.

``course-utils autograder DIR`` writes ``setup.sh`` (run once by Gradescope when it builds the image),
``run_autograder`` (run per submission: ``/autograder/submission`` in, ``/autograder/results/results.json``
out), the handouts, the rubric, the instructor package as a wheel built from this checkout
(``wheels/course_utils-*.whl``: the staff repository is private and the student release has neither
``course_staff`` nor the ``grade`` extra), and ``autograder.zip`` holding them all at its root, ready to
upload. setup.sh installs from the zip's wheel and the public package index only (torch's CPU build
from the PyTorch index).

Environment variables for running the bundle outside Gradescope (tests): ``COURSE_AUTOGRADER_ROOT``
replaces ``/autograder``; ``COURSE_AUTOGRADER_VENV`` the grader's venv (default ``/opt/course-grader``);
``COURSE_AUTOGRADER_PYTHON`` the Python run_autograder grades with (default the venv's);
``COURSE_AUTOGRADER_SKIP_APT=1`` skips setup.sh's apt-get lines; ``COURSE_AUTOGRADER_TORCH_INDEX``
the index torch comes from (empty: pip's configured index); ``COURSE_AUTOGRADER_BASE_PYTHON`` the
Python the venv is made from (default ``python3``).

User separation: setup.sh installs bubblewrap, creates the unprivileged user ``student`` (as root) and
makes the instructor package (``course_staff`` in the grader's site-packages) readable by root only.
run_autograder (as root) makes ``/autograder``'s source, submission and results root-only and grades
with ``--kernel-user student``: each sandbox, and so the kernel, runs as ``student``. Students' work is
never graded unsandboxed (issue 37): where no sandbox can be made, results.json says the submission
could not be graded safely, with no points, and the log says why.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import shutil
import sys
import zipfile
from pathlib import Path

from course_staff.formats.report import Row

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
                  "output": _notebook_output(row),
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
    """A check's output as the student reads it: its points, and for a lost one the self-check's hint and a
    fixed reason (``course_staff.written.feedback``), never the grader's own note, which may quote a hidden case."""
    from course_staff.written.feedback import CheckLine, check_hint, check_text, why_lost

    line = CheckLine(question, row.checks[question], row.check_max[question])
    if line.lost:
        line.hint, line.why = check_hint(question), why_lost(question, row.detail)
    return check_text(line)


def _notebook_output(row: Row) -> str:
    """The notebook test's output: its status and the detail's notes about cells and the run, less the notes
    on single checks (those are in each check's test, said safely)."""
    notes = [part for part in row.detail.split("; ") if part and not any(part.startswith(f"{q}:") for q in row.check_max)]
    return f"status: {row.status}" + (f"\n{'; '.join(notes)}" if notes else "")


RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this once per submission, in /autograder: the student's files are in submission/,
# results/results.json is what Gradescope reads. COURSE_AUTOGRADER_ROOT replaces /autograder (tests);
# COURSE_AUTOGRADER_VENV the venv setup.sh made, COURSE_AUTOGRADER_PYTHON the Python to grade with.
# The kernel runs as the unprivileged user student (setup.sh made it) in a bubblewrap sandbox. Where no
# sandbox can be made the submission is not run at all: students' work is never graded unconfined.
set -u
ROOT="${{COURSE_AUTOGRADER_ROOT:-/autograder}}"
VENV="${{COURSE_AUTOGRADER_VENV:-{venv}}}"
PYTHON="${{COURSE_AUTOGRADER_PYTHON:-$VENV/bin/python}}"
mkdir -p "$ROOT/results"
USER_ARGS=()
if [ "$(id -u)" = 0 ] && id -u student >/dev/null 2>&1; then
  chmod -R go-rwx "$ROOT/source" "$ROOT/submission" "$ROOT/results"
  USER_ARGS=(--kernel-user student)
fi
if ! WHY="$("$PYTHON" -c "import pwd, sys; from course_staff.grading import sandbox
u = pwd.getpwnam(sys.argv[1]) if len(sys.argv) > 1 else None
why = sandbox.available((u.pw_uid, u.pw_gid) if u else None); print(why or ''); sys.exit(why is not None)" \\
    "${{USER_ARGS[@]:1}}" 2>&1)"; then
  echo "run_autograder: no sandbox can be made here, the submission is not run: $WHY" >&2
  exec "$PYTHON" -c "import sys; from pathlib import Path; from course_staff.grading import gradescope
gradescope.write(gradescope.unsafe(sys.argv[2]), Path(sys.argv[1]))" "$ROOT/results/results.json" "$WHY"
fi
exec "$PYTHON" -m course_utils grade "$ROOT/submission" --gradescope "$ROOT/results/results.json" \\
  --report "$ROOT/results/report.csv" --handouts "$ROOT/source/handouts" --rubric "$ROOT/source/rubric.json" \\
  --timeout {timeout:g} --jobs 1{full} "${{USER_ARGS[@]}}"
"""

SETUP = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image (Ubuntu, network on), from
# /autograder/source (the zip's files). It installs from the zip's wheel (the instructor package, built
# when the bundle was made) and the public package index only. Variables for tests: see gradescope.py.
set -euo pipefail
ROOT="${{COURSE_AUTOGRADER_ROOT:-/autograder}}"
VENV="${{COURSE_AUTOGRADER_VENV:-{venv}}}"
TORCH_INDEX="${{COURSE_AUTOGRADER_TORCH_INDEX-https://download.pytorch.org/whl/cpu}}"
if [ -z "${{COURSE_AUTOGRADER_SKIP_APT:-}}" ]; then
  apt-get update
  apt-get install -y --no-install-recommends python3 python3-venv python3-pip bubblewrap libseccomp2 util-linux
fi
if [ "$(id -u)" = 0 ]; then
  id -u student >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin student
fi
"${{COURSE_AUTOGRADER_BASE_PYTHON:-python3}}" -m venv "$VENV"
"$VENV/bin/pip" install --no-cache-dir "torch=={torch}" ${{TORCH_INDEX:+--index-url "$TORCH_INDEX"}}
"$VENV/bin/pip" install --no-cache-dir "$ROOT/source/wheels/{wheel}[grade]"
# the instructor package is the grader's alone: the kernel user (student) cannot read or import it
STAFF="$("$VENV/bin/python" -c 'import course_staff, os; print(os.path.dirname(course_staff.__file__))')"
chmod -R go-rwx "$STAFF"
# but nbval inside the sandbox reads the sanitizer (bound in read-only): its patterns are no secret
chmod go+r "$STAFF/grading/in_kernel/nbval_sanitize.cfg"
"""


def unsafe(why: str) -> dict:
    """results.json when no sandbox can be made: not graded, no points, the reason said (issue 37)."""
    return failure("This submission could not be graded safely: the autograder could not confine it "
                   "(no sandbox), so it was not run. Your instructor has been told; nothing is lost. "
                   f"Reason: {why.strip() or 'unknown'}")


def build_wheel(out: Path) -> Path:
    """The instructor package (course_utils and course_staff) as a wheel in ``out``, built from this checkout.

    The sources are copied to a scratch folder first, so the build leaves nothing (build/, egg-info) in
    the checkout; ``--no-build-isolation`` uses this environment's setuptools, so no index is needed.
    """
    import subprocess
    import tempfile

    source = Path(__file__).resolve().parents[2]
    if not (source / "pyproject.toml").is_file():
        raise FileNotFoundError(f"no pyproject.toml in {source}: the bundle is built from a checkout")
    out.mkdir(parents=True, exist_ok=True)
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    with tempfile.TemporaryDirectory(prefix="course-wheel-") as tmp:
        for name in ("pyproject.toml", "README.md", "LICENSE"):
            if (source / name).is_file():
                shutil.copyfile(source / name, Path(tmp) / name)
        for package in ("course_utils", "course_staff"):
            shutil.copytree(source / package, Path(tmp) / package, ignore=skip)
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
                        "--wheel-dir", str(out), tmp], check=True)
    wheels = sorted(out.glob("course_utils-*.whl"))
    if len(wheels) != 1:
        raise RuntimeError(f"expected one course_utils wheel in {out}, found {[w.name for w in wheels]}")
    return wheels[0]


def autograder_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``course-utils autograder``."""
    parser.add_argument("dir", type=Path, metavar="DIR", help="folder to write the bundle into (created)")
    parser.add_argument("--handouts", type=Path, default=Path("notebooks"), help="handouts folder (default: notebooks)")
    parser.add_argument("--rubric", type=Path, default=Path("answers/rubric.json"),
                        help="points per check id (default: answers/rubric.json)")
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
    if (args.dir / "wheels").is_dir():
        shutil.rmtree(args.dir / "wheels")  # a wheel of an earlier bundle must not ride along
    wheel = build_wheel(args.dir / "wheels")
    files = {
        "setup.sh": SETUP.format(venv=VENV, torch=torch, wheel=wheel.name),
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
    print(f"wrote {args.dir}/ (setup.sh, run_autograder, {len(handouts)} handouts, rubric.json, wheels/{wheel.name}) "
          f"and {args.dir / 'autograder.zip'} to upload")
    return 0
