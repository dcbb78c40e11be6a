"""The grader's side inside a submission's kernel: it collects values and nothing else.

This file is grader-provided code that runs in the student's kernel (unsandboxed or inside the
sandbox, where ``course_staff`` cannot be imported): it imports only the standard library and the
student package ``course_utils``. The grader copies it into the run's I/O folder (the path in the
environment variable ``COURSE_GRADER_IO``) and its grader cells load it from there:

1. ``start`` (before every other cell): ``H = Harness()``; it also makes ``course_staff`` unimportable
   for the rest of the run (an answer built on the key fails here as it fails at home);
2. after every restored check cell: ``H.capture(cell_id, {question: lambda: value, ...})``, the values
   the check cell passed, re-evaluated in the notebook's namespace. A plain answer (number, list,
   dict, tensor, sympy expression) is turned into plain data (``course_utils.checks.plain.to_plain``)
   at once; a function answer of a *probe* check is kept for the end;
3. ``finish`` (last): reads the hidden cases the grader drew for this run from the FIFO ``cases``
   (the grader writes them only once this cell opens it), calls ``spec.probe(function, case)`` per
   case with a time limit per call (printing, progress bars and logging inside go nowhere) and
   writes ``answers.json``.

The verdicts printed by ``check`` are the student's feedback. Nothing this module computes is a
verdict: ``answers.json`` holds values, judged by the grader in its own process against keys and
oracles no kernel can read. So a student who patches this module, the checks or the file itself can
only hand in other values, which are judged like any answer.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import sys
import time
from typing import Any, Callable

IO_VARIABLE = "COURSE_GRADER_IO"
OUT_VARIABLE = "COURSE_GRADER_OUT"  # where answers.json goes (the I/O folder is read-only in the sandbox)
ANSWERS_FILE = "answers.json"
CASES_FIFO = "cases"
CALL_LIMIT_S = 10.0  # seconds per call of a student's function on one hidden case
CASES_WAIT_S = 30.0  # how long finish waits for the grader's cases
MAX_CASES_BYTES = 16 * 2 ** 20
BLOCKED = ("course_staff",)  # instructor code: never imported by an answer


class CallTimeout(BaseException):
    """Raised in a student's function that runs past its time limit (not an Exception: harder to swallow)."""


class _Blocker:
    """A meta-path finder that refuses instructor modules (the sandbox hides them too; this holds without it)."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

    def find_module(self, name: str, path: Any = None) -> None:  # pragma: no cover - old importers
        return self.find_spec(name)


class _Sink:
    """Where a student's function prints while the grader calls it: nowhere."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


class Harness:
    """Values of one run's checks, written to ``answers.json`` in the I/O folder."""

    def __init__(self, io_dir: str | None = None, block: bool = True) -> None:
        self.io_dir = io_dir or os.environ.get(IO_VARIABLE) or "."
        self.out_dir = (os.environ.get(OUT_VARIABLE) if io_dir is None else None) or self.io_dir
        self.answers: dict[str, dict] = {}
        self.functions: dict[str, Any] = {}
        self._dumps, self._replace, self._open = json.dumps, os.replace, open
        if block:  # False only in the grader's own tests, which run it in their process
            for name in list(sys.modules):
                if name.split(".")[0] in BLOCKED:
                    del sys.modules[name]
            sys.meta_path.insert(0, _Blocker())

    # -- after each check cell ------------------------------------------------------------------
    def capture(self, cell_id: str, values: dict[str, Callable[[], Any]]) -> None:
        """Record the value each question of one check cell was given (see the module's docstring)."""
        for question, get in values.items():
            try:
                value = get()
            except BaseException as exc:  # noqa: BLE001 - a missing name, a raising value: no answer
                self.answers[question] = {"cell": cell_id, "error": _describe(exc)}
                self.functions.pop(question, None)
                continue
            kind = self._kind(question)
            if kind == "probe":
                self.functions[question] = value
                self.answers[question] = {"cell": cell_id, "probe": None}
            elif kind == "custom":  # an object that cannot travel as data: its canonical texts, one per entry
                self.functions.pop(question, None)
                self.answers[question] = {"cell": cell_id, **self._forms(question, value)}
            elif callable(value) and not isinstance(value, type) and kind in ("rate", "expr"):
                # a function is a right form of these answers, but cannot travel: its canonical texts do
                self.functions.pop(question, None)
                self.answers[question] = {"cell": cell_id, **self._neighbours(question, value)}
            else:
                self.functions.pop(question, None)
                self.answers[question] = {"cell": cell_id, **self._plain(value)}
        self._write(done=False)

    # -- last cell --------------------------------------------------------------------------------
    def finish(self) -> None:
        """Call the kept functions on the grader's hidden cases; write every answer."""
        self._write(done=False)
        if self.functions:
            from course_utils import checks

            cases = self._read_cases()
            for question, function in self.functions.items():
                entry = self.answers.setdefault(question, {})
                todo = cases.get(question) if isinstance(cases, dict) else None
                if not isinstance(todo, list):
                    entry["probe"], entry["error"] = None, "the grader's cases did not arrive"
                    continue
                spec = checks.spec_of(question)
                entry["probe"] = [self._call(spec, function, case) for case in todo]
                self._write(done=False)
        self._write(done=True)

    # -- helpers ----------------------------------------------------------------------------------
    def _kind(self, question: str) -> str:
        """The check's kind (``checks.spec_of`` imports only its question's module: a Q2 notebook never pays
        for torch); "" for an unknown id."""
        from course_utils import checks

        try:
            return checks.spec_of(question).kind
        except Exception:  # noqa: BLE001 - an unknown id (KeyError) or a broken package: the grader judges what arrives
            return ""

    def _plain(self, value: Any) -> dict:
        from course_utils.checks.plain import to_plain

        try:
            return {"plain": to_plain(value)}
        except BaseException as exc:  # noqa: BLE001 - too large, or a value that cannot be read
            return {"error": _describe(exc)}

    def _neighbours(self, question: str, value: Any) -> dict:
        from course_utils import checks

        try:
            with contextlib.redirect_stdout(_Sink()), contextlib.redirect_stderr(_Sink()):
                forms = checks.candidate_forms(checks.spec_of(question), value)
            return {"neighbours": [[str(form)[:1000] for form in entry[:3]] for entry in forms[:64]]}
        except BaseException as exc:  # noqa: BLE001 - not the object the check reads
            return {"error": _describe(exc)}

    def _forms(self, question: str, value: Any) -> dict:
        try:
            with contextlib.redirect_stdout(_Sink()), contextlib.redirect_stderr(_Sink()):
                from course_utils import checks

                return {"forms": [str(entry[0])[:1000] for entry in checks.spec_of(question).forms(value)]}
        except BaseException as exc:  # noqa: BLE001 - not the object the check reads
            return {"error": _describe(exc)}

    def _call(self, spec: Any, function: Any, case: Any) -> dict:
        """One probe call: ``{"output": plain}`` or ``{"error"|"no_answer"|"timeout": ...}``."""
        from course_utils.checks import NoAnswer
        from course_utils.checks.plain import to_plain

        def on_alarm(signum: int, frame: Any) -> None:
            raise CallTimeout()

        previous = signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, CALL_LIMIT_S)
        try:
            with contextlib.redirect_stdout(_Sink()), contextlib.redirect_stderr(_Sink()):
                output = spec.probe(function, case)
                result = {"output": to_plain(output)}
        except CallTimeout:
            result = {"timeout": True}
        except NoAnswer:
            result = {"no_answer": True}
        except BaseException as exc:  # noqa: BLE001 - the student's function failed on this case
            result = {"error": _describe(exc)}
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
        return result

    def _read_cases(self) -> Any:
        """The grader's hidden cases from the FIFO: JSON ended by a newline; {} if none arrive in time."""
        path = os.path.join(self.io_dir, CASES_FIFO)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        except OSError:
            return {}
        data, deadline = b"", time.monotonic() + CASES_WAIT_S
        try:
            while not data.endswith(b"\n") and len(data) <= MAX_CASES_BYTES:
                left = deadline - time.monotonic()
                if left <= 0:
                    return {}
                ready, _, _ = select.select([fd], [], [], min(left, 0.05))
                try:
                    chunk = os.read(fd, 65536) if ready else b""
                except BlockingIOError:  # a writer, no data yet
                    chunk = b""
                if not chunk:
                    time.sleep(0.01)  # no writer yet (EOF on an unopened FIFO): wait for the grader
                data += chunk
        finally:
            os.close(fd)
        try:
            return json.loads(data.decode("utf-8"))
        except ValueError:
            return {}

    def _write(self, done: bool) -> None:
        path = os.path.join(self.out_dir, ANSWERS_FILE)
        try:
            text = self._dumps({"version": 1, "done": done, "answers": self.answers})
        except (TypeError, ValueError) as exc:
            text = self._dumps({"version": 1, "done": done, "answers": {}, "error": _describe(exc)})
        with self._open(path + ".part", "w", encoding="utf-8") as handle:
            handle.write(text)
        self._replace(path + ".part", path)


def _describe(exc: BaseException) -> str:
    try:
        return f"{type(exc).__name__}: {exc}"[:200]
    except Exception:  # noqa: BLE001 - an exception whose str raises
        return type(exc).__name__[:200]
