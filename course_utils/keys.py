"""Answer keys and student handouts, generated from the masters in ``answers/``.

For each master ``answers/NN_name.ipynb`` (edited by hand, with solution markers):

1. check its markers (a malformed marker stops that notebook before anything is written);
2. execute it with nbclient (tiny mode unless ``COURSE_TINY`` says otherwise) and store the outputs
   back: the executed master is the answer key;
3. render the key to ``answers/NN_name.md`` (figures under ``answers/figures/``);
4. write the handout ``notebooks/NN_name.ipynb``: solutions replaced, outputs cleared, a generated
   header and a Colab setup cell first.

Every write is atomic, and the same input gives the same bytes. ``--check`` writes nothing and
fails if a committed key or handout is not what the current masters give.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from course_utils import render
from course_utils.files import atomic_write
from course_utils.mode import TINY_ENV, is_tiny
from course_utils.solutions import KEY_ONLY_TAG, MarkerError, handout_cell

#: Where the student release (``course-utils release``) is published: the one setting that the Colab
#: badges and the handouts' install line use. The staff repository, with answers/, stays private.
REPOSITORY = "course-dl/dl-assignment3-student"
INSTALL_SPEC = f"course-utils @ git+https://github.com/{REPOSITORY}"
CELL_TIMEOUT_S = 1800
FIGURES = "figures"


@dataclass
class Result:
    """What one run did: files written (or stale, with --check) and errors, per notebook."""

    changed: list[Path] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def source_digest(nb: nbformat.NotebookNode) -> str:
    """SHA-256 over the code cells' sources: tells whether stored outputs match the code."""
    h = hashlib.sha256()
    for cell in nb.cells:
        if cell.cell_type == "code":
            h.update(cell.source.encode() + b"\0")
    return h.hexdigest()


def write_if_changed(path: Path, data: bytes) -> bool:
    """Atomically write ``data`` to ``path`` unless it already holds exactly that; True if written."""
    if path.exists() and path.read_bytes() == data:
        return False
    atomic_write(path, data)
    return True


def dumps(nb: nbformat.NotebookNode) -> bytes:
    """Serialise a notebook the same way every time (sorted keys, one-space indent, final newline)."""
    return (nbformat.writes(nb) + "\n").encode()


def execute(nb: nbformat.NotebookNode, cwd: Path) -> nbformat.NotebookNode:
    """Run every cell of a copy of ``nb`` in a fresh kernel with working directory ``cwd``."""
    from nbclient import NotebookClient

    nb = copy.deepcopy(nb)
    env = {**os.environ, TINY_ENV: os.environ.get(TINY_ENV) or "1"}  # the main job defaults to tiny mode
    client = NotebookClient(
        nb, timeout=CELL_TIMEOUT_S, kernel_name="python3", record_timing=False,
        coalesce_streams=True,  # how stdout is chunked into messages varies run to run; the key must not
        resources={"metadata": {"path": str(cwd)}},
    )
    client.execute(env=env)
    # Merge, never replace: the master's own entries (handout, needs_gpu) must survive execution.
    nb.metadata["course"] = {**nb.metadata.get("course", {}),
                             "mode": "tiny" if is_tiny(env) else "full", "source_sha256": source_digest(nb)}
    return nb


def needs_gpu(nb: nbformat.NotebookNode) -> bool:
    """True when the master's metadata says its full mode needs a GPU (``course.needs_gpu``)."""
    return bool(nb.metadata.get("course", {}).get("needs_gpu", False))


def make_handout(nb: nbformat.NotebookNode, name: str) -> nbformat.NotebookNode:
    """The student handout of master ``nb``; raises MarkerError naming the notebook and cell."""
    cells = []
    for index, cell in enumerate(nb.cells):
        if KEY_ONLY_TAG in cell.metadata.get("tags", []):
            continue
        try:
            cells.append(nbformat.from_dict(handout_cell(cell)))
        except MarkerError as exc:
            raise MarkerError(f"answers/{name}.ipynb, cell {index + 1} ({cell.cell_type}): {exc}") from None
    header = nbformat.v4.new_markdown_cell(
        f"> **Generated file.** This handout is made from `answers/{name}.ipynb` by `course-utils keys`; "
        "edit the master, not this file.\n>\n"
        "> Fill in every `...` and every *YOUR ANSWER HERE*, then run the self-checks below them.",
        id="course-generated",
    )
    gpu = "True" if needs_gpu(nb) else "False"
    setup = nbformat.v4.new_code_cell(
        "# Setup: in Google Colab, install the course package (elsewhere this line does nothing).\n"
        "import sys\n"
        f"if \"google.colab\" in sys.modules: get_ipython().run_line_magic(\"pip\", \"install -q '{INSTALL_SPEC}'\")\n"
        "from course_utils.mode import report_environment\n"
        f"report_environment(needs_gpu={gpu})",
        id="course-setup",
    )
    # Fixed metadata: the handout must not depend on whether or where the master was executed.
    # course.handout names the handout for the grader; Colab opens a GPU runtime for "accelerator": "GPU".
    metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                "language_info": {"name": "python"}, "colab": {"provenance": []},
                "course": {"handout": name, **({"needs_gpu": True} if needs_gpu(nb) else {})}}
    if needs_gpu(nb):
        metadata["accelerator"] = "GPU"
        metadata["colab"]["gpuType"] = "T4"
    return nbformat.v4.new_notebook(cells=[header, setup, *cells], metadata=metadata)


def _master_files(answers: Path, only: str | None) -> list[Path]:
    if not answers.is_dir():
        raise SystemExit(f"course-utils keys: no {answers}/ here; run it from the repository root or pass --answers DIR")
    files = sorted(answers.glob("[0-9][0-9]_*.ipynb"))
    if only:
        files = [f for f in files if f.stem == only or f.name == only]
        if not files:
            raise SystemExit(f"course-utils keys: no master named {only!r} in {answers}/")
    return files


def build(answers: Path, notebooks: Path, *, run: bool = True, check: bool = False, only: str | None = None) -> Result:
    """Regenerate keys and handouts for the masters in ``answers`` (see the module docstring).

    run: execute the masters first (ignored with ``check``). check: write nothing; report what is
    stale in ``Result.changed`` (stale outputs too: a master whose code changed since it ran).
    """
    result = Result()
    for path in _master_files(answers, only):
        name = path.stem
        try:
            master = nbformat.read(path, as_version=4)
            handout = make_handout(master, name)
            if run and not check:
                print(f"executing {path} ...", flush=True)
                master = execute(master, answers)
            key_md, figures = render.markdown(master, name, f"{FIGURES}/{name}")
        except MarkerError as exc:
            result.errors.append(str(exc))
            continue
        except Exception as exc:  # a failing cell: report it and go on with the other masters
            result.errors.append(f"{path}: {type(exc).__name__}: {str(exc)[-2000:]}")
            continue
        outputs = {path: dumps(master), answers / f"{name}.md": key_md.encode(),
                   notebooks / f"{name}.ipynb": dumps(handout)}
        outputs.update({answers / rel: data for rel, data in figures.items()})
        if check:
            stored = master.metadata.get("course", {}).get("source_sha256")
            if stored != source_digest(master):
                result.errors.append(f"{path}: its code changed since it was executed: run course-utils keys")
            stale = [p for p, data in outputs.items() if not p.exists() or p.read_bytes() != data]
            known = set(outputs)
            stale += [p for p in (answers / FIGURES / name).glob("*") if p not in known]
            result.changed += stale
        else:
            result.changed += [p for p, data in outputs.items() if write_if_changed(p, data)]
            for old in (answers / FIGURES / name).glob("*"):
                if old not in outputs:
                    old.unlink()
                    result.changed.append(old)
    return result


def keys_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``course-utils keys``."""
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a key or handout is stale")
    parser.add_argument("--no-execute", action="store_true", help="reuse the outputs stored in the masters")
    parser.add_argument("--only", metavar="NAME", help="one master, e.g. 02_rnn_recurrence")
    parser.add_argument("--answers", type=Path, default=Path("answers"), help="masters folder (default: answers)")
    parser.add_argument("--notebooks", type=Path, default=Path("notebooks"), help="handouts folder (default: notebooks)")


def keys(args: argparse.Namespace) -> int:
    """Run ``course-utils keys``; returns the exit code."""
    result = build(args.answers, args.notebooks, run=not args.no_execute, check=args.check, only=args.only)
    for error in result.errors:
        print(f"error: {error}", file=sys.stderr)
    if args.check:
        for path in result.changed:
            print(f"stale: {path}", file=sys.stderr)
        if not (result.changed or result.errors):
            print("keys and handouts are up to date")
        return 1 if (result.changed or result.errors) else 0
    for path in result.changed:
        print(f"wrote {path}")
    return 1 if result.errors else 0
