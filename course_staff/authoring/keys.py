"""Answer keys and student handouts, generated from the masters in ``answers/``.

For each master ``answers/NN_name.ipynb`` (edited by hand, with solution markers):

1. check its markers (a malformed marker stops that notebook before anything is written);
2. execute it with nbclient (tiny mode unless ``COURSE_TINY`` says otherwise) and store the outputs
   back: the executed master is the answer key. Machine-dependent figures in printed text (times,
   free memory, temporary paths) are normalised (``course_staff.authoring.normalise``), and cells tagged
   ``machine-dependent`` (timings, latency plots, and results of floating-point work that another CPU
   rounds differently: training, whose last-bit differences grow into other accuracies) keep their
   stored outputs while the master's code is unchanged, so that running it twice, or on another
   machine, changes no byte;
3. render the key to ``answers/NN_name.md`` (figures under ``answers/figures/``);
4. write the handout ``notebooks/NN_name.ipynb``: solutions replaced, outputs cleared, a generated
   header and a Colab setup cell first (its install line names the release repository of ``course.toml``:
   ``course_staff.settings``).

Before the masters, the check registry ``course_utils/data/checks.json`` is rebuilt from the key modules
(``course_staff.registry``), so that the masters' self-checks run against the current answers.
The run ends with a summary: keys, handouts, figures and the registry, written or unchanged.

Every write is atomic, and the same input gives the same bytes. ``--check`` writes nothing and
fails if the registry, a committed key or a handout is not what the current masters give.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import os
import re
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

from course_staff import settings
from course_staff.authoring import normalise, render
from course_utils.errors import CourseError
from course_utils.files import atomic_write
from course_utils.mode import TINY_ENV, is_tiny
from course_staff.authoring.markers import KEY_ONLY_TAG, MarkerError, handout_cell

# Where the student release is published (the handouts' install line) is course.toml's [release] repository:
# course_staff.settings. The staff repository, with answers/, stays private.
CELL_TIMEOUT_S = 1800
FIGURES = "figures"
MACHINE_TAG = "machine-dependent"  # a cell whose output the machine decides: see keep_measurements
_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # colours in the kernel's tracebacks


class KeysUsageError(CourseError):
    """A masters folder or ``--only`` name that does not exist."""


#: What a run writes, in the order of its summary: keys (the executed masters and their Markdown), handouts,
#: the keys' figures and the check registry.
KINDS = ("keys", "handouts", "figures", "registry")


@dataclass
class Result:
    """What one run did: files written (or stale, with --check) and errors, per notebook.

    tally: kind (``KINDS``) -> status -> count; a status is ``written``, ``unchanged`` or ``removed``
    (with --check: ``stale`` or ``up to date``).
    """

    changed: list[Path] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    tally: dict[str, dict[str, int]] = field(default_factory=dict)

    def count(self, kind: str, status: str, n: int = 1) -> None:
        """Add ``n`` files of ``kind`` with ``status`` to the summary."""
        if n == 0:
            return
        statuses = self.tally.setdefault(kind, {})
        statuses[status] = statuses.get(status, 0) + n


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
    """Run every cell of a copy of ``nb`` in a fresh kernel with working directory ``cwd``; machine-dependent
    text in the outputs is normalised (``normalise.outputs``).

    The kernel talks over Unix sockets in a private temporary folder (IPC), not TCP on localhost: nothing
    else on the machine can connect to it, and it prints no transport warning.
    """
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    nb = copy.deepcopy(nb)
    env = {**os.environ, TINY_ENV: os.environ.get(TINY_ENV) or "1"}  # the main job defaults to tiny mode
    with tempfile.TemporaryDirectory(prefix="course-utils-kernel-") as sockets:
        km = KernelManager(kernel_name="python3", transport="ipc", ip=os.path.join(sockets, "kernel"))
        client = NotebookClient(
            nb, timeout=CELL_TIMEOUT_S, record_timing=False, km=km,
            coalesce_streams=True,  # how stdout is chunked into messages varies run to run; the key must not
            resources={"metadata": {"path": str(cwd)}},
        )
        try:
            client.execute(env=env)
        finally:
            if km.has_kernel:  # a kernel manager passed in is ours to stop (nbclient stops only its own)
                km.shutdown_kernel(now=True)
    normalise.outputs(nb)
    # Merge, never replace: the master's own entries (handout, needs_gpu) must survive execution.
    nb.metadata["course"] = {**nb.metadata.get("course", {}),
                             "mode": "tiny" if is_tiny(env) else "full", "source_sha256": source_digest(nb)}
    return nb


def needs_gpu(nb: nbformat.NotebookNode) -> bool:
    """True when the master's metadata says its full mode needs a GPU (``course.needs_gpu``)."""
    return bool(nb.metadata.get("course", {}).get("needs_gpu", False))


def make_handout(nb: nbformat.NotebookNode, name: str, course: settings.CourseSettings) -> nbformat.NotebookNode:
    """The student handout of master ``nb``; raises MarkerError naming the notebook and cell.

    course: the settings (``course.toml``): the Colab setup cell installs the package from its release repository.
    """
    cells = []
    for index, cell in enumerate(nb.cells):
        if KEY_ONLY_TAG in cell.metadata.get("tags", []):
            continue
        try:
            cells.append(nbformat.from_dict(handout_cell(cell)))
        except MarkerError as exc:
            raise MarkerError(f"answers/{name}.ipynb, cell {index + 1} ({cell.cell_type}): {exc}") from None
    # The student reads the instructions only; where the file comes from is for staff, in the metadata.
    header = nbformat.v4.new_markdown_cell(
        "> Fill in every `...` and every *YOUR ANSWER HERE*, then run the self-checks below them.",
        id="course-generated",
    )
    gpu = "True" if needs_gpu(nb) else "False"
    setup = nbformat.v4.new_code_cell(
        "# Setup: in Google Colab, install the course package (elsewhere this line does nothing).\n"
        "import sys\n"
        f"if \"google.colab\" in sys.modules: get_ipython().run_line_magic(\"pip\", \"install -q '{course.install_spec}'\")\n"
        "from course_utils.mode import report_environment\n"
        f"report_environment(needs_gpu={gpu});  # prints the mode and the device, once",
        id="course-setup",
    )
    # Fixed metadata: the handout must not depend on whether or where the master was executed.
    # course.handout names the handout for the grader; Colab opens a GPU runtime for "accelerator": "GPU".
    metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                "language_info": {"name": "python"}, "colab": {"provenance": []},
                "course": {"handout": name, **({"needs_gpu": True} if needs_gpu(nb) else {}),
                           "generated_from": f"answers/{name}.ipynb", "generated_by": "course-utils keys"}}
    if needs_gpu(nb):
        metadata["accelerator"] = "GPU"
        metadata["colab"]["gpuType"] = "T4"
    return nbformat.v4.new_notebook(cells=[header, setup, *cells], metadata=metadata)


def _master_files(answers: Path, only: str | None) -> list[Path]:
    if not answers.is_dir():
        raise KeysUsageError(f"no {answers}/ here; run it from the repository root or pass --answers DIR")
    files = sorted(answers.glob("[0-9][0-9]_*.ipynb"))
    if only:
        files = [f for f in files if f.stem == only or f.name == only]
        if not files:
            raise KeysUsageError(f"no master named {only!r} in {answers}/")
    return files


def keep_measurements(stored: nbformat.NotebookNode, executed: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """``executed`` with the stored outputs of its cells tagged ``machine-dependent`` put back (in place).

    Such a cell measures the machine (timings, a latency plot), or shows results that another CPU's
    floating-point arithmetic changes (its instruction set and thread count decide the rounding, and
    training amplifies it): a new run gives other numbers and other pixels, so a committed key would
    change on every run or every machine. Its outputs are kept as long as no code cell of
    the master changed since they were made (the stored ``source_sha256``); after a change, or with
    ``course-utils keys --remeasure``, they are the new run's.
    """
    if stored.metadata.get("course", {}).get("source_sha256") != source_digest(stored):
        return executed
    previous = {cell.get("id"): cell for cell in stored.cells}
    for cell in executed.cells:
        old = previous.get(cell.get("id"))
        if MACHINE_TAG in cell.metadata.get("tags", []) and old is not None and old.get("outputs"):
            cell.outputs = copy.deepcopy(old.outputs)
    return executed


def build(answers: Path, notebooks: Path, *, run: bool = True, check: bool = False, only: str | None = None,
          remeasure: bool = False, course: settings.CourseSettings | None = None,
          result: Result | None = None) -> Result:
    """Regenerate keys and handouts for the masters in ``answers`` (see the module docstring).

    run: execute the masters first (ignored with ``check``); remeasure: store new outputs for the cells tagged
    ``machine-dependent`` too (see ``keep_measurements``). check: write nothing; report what is
    stale in ``Result.changed`` (stale outputs too: a master whose code changed since it ran).
    course: the settings (default: ``course.toml`` in the working folder); result: add to this one.
    """
    result = Result() if result is None else result
    masters = _master_files(answers, only)
    course = settings.load() if course is None else course
    for path in masters:
        name = path.stem
        try:
            master = nbformat.read(path, as_version=4)
            handout = make_handout(master, name, course)
            if run and not check:
                print(f"executing {path} ...", flush=True)
                executed = execute(master, answers)
                master = executed if remeasure else keep_measurements(master, executed)
            key_md, figures = render.markdown(master, name, f"{FIGURES}/{name}")
        except MarkerError as exc:
            result.errors.append(str(exc))
            continue
        except (CellExecutionError, CellTimeoutError, DeadKernelError) as exc:
            # a master that fails (the cell's traceback is in the message), hangs or kills its kernel: report it
            # whole and go on with the others; any other exception is a bug here and propagates
            result.errors.append(f"{path}: {type(exc).__name__}: {_ANSI.sub('', str(exc))}")
            continue
        outputs = {path: dumps(master), answers / f"{name}.md": key_md.encode(),
                   notebooks / f"{name}.ipynb": dumps(handout)}
        outputs.update({answers / rel: data for rel, data in figures.items()})
        kinds = {path: "keys", answers / f"{name}.md": "keys", notebooks / f"{name}.ipynb": "handouts"}
        if check:
            stored = master.metadata.get("course", {}).get("source_sha256")
            if stored != source_digest(master):
                result.errors.append(f"{path}: its code changed since it was executed: run course-utils keys")
            for p, data in outputs.items():
                stale = not p.exists() or p.read_bytes() != data
                result.count(kinds.get(p, "figures"), "stale" if stale else "up to date")
                result.changed += [p] if stale else []
            extra = [p for p in (answers / FIGURES / name).glob("*") if p not in outputs]
            result.count("figures", "stale", len(extra))
            result.changed += extra
        else:
            for p, data in outputs.items():
                written = write_if_changed(p, data)
                result.count(kinds.get(p, "figures"), "written" if written else "unchanged")
                result.changed += [p] if written else []
            for old in sorted((answers / FIGURES / name).glob("*")):
                if old not in outputs:
                    old.unlink()
                    result.count("figures", "removed")
                    result.changed.append(old)
    return result


def update_registry(path: Path | None = None, *, check: bool = False, result: Result | None = None) -> Result:
    """Rebuild the check registry (``course_staff.registry``) into ``path`` (default: the package's
    ``course_utils/data/checks.json``), atomically and only if its text changes; with ``check``, write nothing
    and report it stale. Its pinned entries are carried over from the file there (else from the package's).

    Imports the key modules (and so torch): the answers the registry hashes are computed by them.
    """
    from course_staff import registry
    from course_utils import checks

    result = Result() if result is None else result
    path = checks.REGISTRY if path is None else Path(path)
    try:
        previous = checks.load_registry(path) if path.is_file() else None
    except (ValueError, KeyError, TypeError) as exc:  # not JSON, or not a registry
        result.errors.append(f"{path}: not a check registry ({type(exc).__name__}: {exc}): restore the committed "
                             "one (its pinned entries are kept from it), then run course-utils keys again")
        result.count("registry", "not built (error above)")
        return result
    try:
        text = registry.dump_registry(registry.build_registry(previous)).encode("utf-8")
    except ValueError as exc:  # a check without an answer or a judge: the message names it
        result.errors.append(f"{path}: the check registry cannot be built: {exc}")
        result.count("registry", "not built (error above)")
        return result
    if check:
        stale = not path.is_file() or path.read_bytes() != text
        result.count("registry", "stale" if stale else "up to date")
        result.changed += [path] if stale else []
    elif write_if_changed(path, text):
        result.count("registry", "written")
        result.changed.append(path)
    else:
        result.count("registry", "unchanged")
    return result


def update_variants(course: settings.CourseSettings, *, check: bool = False, result: Result | None = None) -> Result:
    """Write ``[variants] term`` of ``course.toml`` into the student package (``course_utils/data/variants.json``),
    where every handout reads it: counted with the registry in the summary (both are the package's data)."""
    from course_utils import variants

    result = Result() if result is None else result
    text = (json.dumps({"term": course.variants}, indent=1) + "\n").encode()
    path = variants.SETTINGS
    if check:
        if not path.is_file() or path.read_bytes() != text:
            result.count("registry", "stale")
            result.changed.append(path)
    elif write_if_changed(path, text):
        result.count("registry", "written")
        result.changed.append(path)
    return result


def key_for_student(answers: Path, out: Path, student: str, course: settings.CourseSettings,
                    only: str | None = None) -> list[str]:
    """Execute every master (or ``only``) as ``student``'s variant and render its key to ``out``/NAME.md, with its
    figures beside it: the complete key of one student (regrades, a TA's questions). Returns the lines to print:
    which variant of each question the student has. Writes nothing else (not the masters, not the handouts)."""
    from course_utils import variants

    if not course.variants:
        raise KeysUsageError("variants are off: set [variants] term in course.toml (docs/variants.md) first")
    student = variants.normalise_id(student)
    if not student:
        raise KeysUsageError("--variant needs a course id, e.g. --variant 123456")
    lines = []
    saved = {name: os.environ.get(name) for name in (variants.GRADER_ENV, variants.TERM_ENV)}
    os.environ.update({variants.GRADER_ENV: student, variants.TERM_ENV: course.variants})
    try:
        for prefix in sorted(_question_prefixes()):
            n = variants.count(prefix)
            lines.append(f"{prefix}: variant {variants.number_for(prefix, student, course.variants)} of {n}")
        for path in _master_files(answers, only):
            name = path.stem
            print(f"executing {path} as {student!r} ...", flush=True)
            executed = execute(nbformat.read(path, as_version=4), answers)
            key_md, figures = render.markdown(executed, name, f"{FIGURES}/{name}")
            header = (f"<!-- the key for student {student!r} in term {course.variants!r}: "
                      f"{'; '.join(line for line in lines if not line.startswith('wrote '))} -->\n\n")
            atomic_write(out / f"{name}.md", (header + key_md).encode())
            for rel, data in figures.items():
                atomic_write(out / rel, data)
            lines.append(f"wrote {out / f'{name}.md'}")
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return lines


def _question_prefixes() -> list[str]:
    from course_utils import checks

    return list(checks.parts())


def summary(result: Result, where: dict[str, Path]) -> list[str]:
    """The closing lines of a run: one per kind (``KINDS``), with counts, and where they are."""
    lines = []
    width = max(map(len, KINDS))
    for kind in KINDS:
        statuses = result.tally.get(kind, {})
        if kind == "registry":  # one file: its status alone
            counts = ", ".join(statuses) or "not built (--no-registry)"
        else:
            counts = ", ".join(f"{n} {status}" for status, n in sorted(statuses.items(), key=_status_order)) or "none"
        lines.append(f"{kind + ':':<{width + 1}} {counts} ({where[kind]})")
    if result.errors:
        lines.append(f"{'errors:':<{width + 1}} {len(result.errors)} (above)")
    return lines


def _status_order(item: tuple[str, int]) -> int:
    order = ("written", "removed", "unchanged", "stale", "up to date")
    return order.index(item[0]) if item[0] in order else len(order)


def keys_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``course-utils keys``."""
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if the registry, a key or a handout is stale")
    parser.add_argument("--no-execute", action="store_true", help="reuse the outputs stored in the masters")
    parser.add_argument("--remeasure", action="store_true",
                        help="also store new outputs for cells tagged machine-dependent (timings); by default "
                             "they keep their stored outputs while the master's code is unchanged")
    parser.add_argument("--only", metavar="NAME", help="one master, e.g. 02_rnn_recurrence")
    parser.add_argument("--answers", type=Path, default=Path("answers"), help="masters folder (default: answers)")
    parser.add_argument("--notebooks", type=Path, default=Path("notebooks"), help="handouts folder (default: notebooks)")
    parser.add_argument("--settings", type=Path, default=settings.DEFAULT_PATH,
                        help=f"the course's settings (default: {settings.DEFAULT_PATH}; docs/course-settings.md)")
    parser.add_argument("--registry", type=Path, default=None, metavar="FILE",
                        help="where to build the check registry (default: course_utils/data/checks.json)")
    parser.add_argument("--no-registry", action="store_true", help="leave the check registry as it is")
    parser.add_argument("--variant", metavar="ID", default=None,
                        help="render the complete key of one student's variant (course id ID) into --out; writes "
                             "nothing else (docs/variants.md)")
    parser.add_argument("--out", type=Path, default=None, metavar="DIR",
                        help="with --variant: where its keys go (default: keys-by-student/ID)")


def keys(args: argparse.Namespace) -> int:
    """Run ``course-utils keys``; returns the exit code (2: a usage error, 1: a stale file, a failing master or
    a question whose premise fails).

    The registry is built first (the masters' self-checks read it), then the masters; the last lines
    are the summary (``summary``).
    """
    try:
        course = settings.load(args.settings)
        _master_files(args.answers, args.only)  # a usage error before the registry's work
    except (KeysUsageError, settings.CourseSettingsError) as err:
        print(f"course-utils keys: {err}", file=sys.stderr)
        return 2
    student = getattr(args, "variant", None)  # a Namespace made by a caller of its own may lack the new options
    if student is not None:
        try:
            out = getattr(args, "out", None) or Path("keys-by-student") / str(student).strip().lower()
            lines = key_for_student(args.answers, out, student, course, args.only)
        except (KeysUsageError, CourseError) as err:
            print(f"course-utils keys: {err}", file=sys.stderr)
            return 2
        except (CellExecutionError, CellTimeoutError, DeadKernelError) as exc:
            print(f"course-utils keys: a master failed in this variant: {_ANSI.sub('', str(exc))}", file=sys.stderr)
            return 1
        print("\n".join(lines))
        return 0
    result = Result()
    update_variants(course, check=args.check, result=result)
    if not args.no_registry:
        from course_staff.keys import PremiseBroken

        print("building the check registry ...", flush=True)
        try:
            update_registry(args.registry, check=args.check, result=result)
        except PremiseBroken as err:  # nothing is written for numbers that no longer carry the lesson
            print(f"course-utils keys: {err}", file=sys.stderr)
            return 1
    build(args.answers, args.notebooks, run=not args.no_execute, check=args.check, only=args.only,
          remeasure=args.remeasure, course=course, result=result)
    for error in result.errors:
        print(f"error: {error}", file=sys.stderr)
    from course_utils import checks

    where = {"keys": args.answers, "handouts": args.notebooks, "figures": args.answers / FIGURES,
             "registry": args.registry or Path(os.path.relpath(checks.REGISTRY))}
    if args.check:
        for path in result.changed:
            print(f"stale: {path}", file=sys.stderr)
    else:
        for path in result.changed:
            print(f"wrote {path}" if path.exists() else f"removed {path}")
    print("\n".join(summary(result, where)))
    if args.check and not (result.changed or result.errors):
        print("the registry, keys and handouts are up to date" if not args.no_registry else
              "keys and handouts are up to date")
    if result.errors:
        return 1
    return 1 if args.check and result.changed else 0
