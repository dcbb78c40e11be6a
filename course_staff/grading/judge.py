"""Judging one run's answers in the grader's process, never in the student's.

The kernel's harness (``in_kernel/harness.py``) hands back ``answers.json``: values only. Here each check of
the handout is judged from it against what no kernel can read, the staff install's registry and
oracles:

- a plain answer: ``from_plain`` (no code of the sender runs; sympy rebuilt from ``srepr`` by a reader
  that calls only sympy's classes), then ``course_utils.checks.verify(id, value)``;
- a function answer of a probe check: its outputs on this run's hidden cases, then
  ``course_staff.judging.judge_outputs`` (the instructor's oracle on the same cases).

Old check ids (an older handout) are read as their new ones (``course_utils.checks.canonical_id``).
A forged, oversized or malformed file makes those checks wrong, never the grader fail: judging runs
in a worker subprocess (``python -m course_staff.grading.judge``: one JSON payload per line on stdin,
one JSON verdict line on stdout) with a time limit per notebook (:func:`judge_run`). A worker lives
for ``WORKER_USES`` notebooks, so the interpreter and its imports (torch, sympy, the keys: about as
long as a kernel's own imports) are paid once per worker, not once per notebook. No code of a
submission runs there: what the worker reads is data. A worker that runs past the limit, dies or
answers nonsense is killed, those checks are wrong, and the next notebook gets a fresh worker.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import select
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

JUDGE_TIMEOUT_S = 120.0
NOT_RUN = "check cell did not run"
WORKER_USES = 100  # notebooks a judging worker serves before a fresh one takes over (bounds its memory)
MAX_REPLY_BYTES = 4 * 2 ** 20


def probe_checks(check_ids: list[str]) -> list[str]:
    """The ids among ``check_ids`` whose answer is a function judged on hidden cases (``checks.spec_of``
    reads old ids through the aliases and imports only the question's module)."""
    from course_utils import checks

    probes = []
    for question in check_ids:
        try:
            if checks.spec_of(question).kind == "probe":
                probes.append(question)
        except KeyError:  # an unknown id: judged "unknown check id", never probed
            continue
    return probes


def draw_cases(check_ids: list[str], seed: int, student: str = "", term: str | None = None) -> dict[str, list]:
    """Fresh hidden cases for this run's probe checks, by the handout's id, in ``student``'s variant of
    ``term`` (default: the installed term; no student: variant 0)."""
    from course_staff.judging import hidden_cases
    from course_utils import variants
    from course_utils.checks import canonical_id

    probes = probe_checks(check_ids)
    with variants.as_student(student, term):
        drawn = hidden_cases([canonical_id(q) for q in probes], seed)
    return {q: drawn[canonical_id(q)] for q in probes if canonical_id(q) in drawn}


def other_variants(check_ids: list[str], answers_text: str | None, cases: dict, results: dict) -> dict[str, list[int]]:
    """For each wrong check of a question with variants: the other variants whose right answer the notebook gave
    (a classmate's numbers, or a notebook worked under another id). Plain answers are judged against each
    variant's hashes; a function's outputs on the hidden cases against each variant's oracle."""
    from course_utils import checks, variants

    found: dict[str, list[int]] = {}
    for question in check_ids:
        if results.get(question, (True, ""))[0]:
            continue
        prefix = checks.canonical_id(question).split(".", 1)[0]
        own = variants.number(prefix)
        matched = []
        for number in range(variants.count(prefix)):
            if number == own:
                continue
            with variants.pinned(prefix, number):
                ok, _ = judge_answers([question], answers_text, cases, others=False)[question]
            if ok:
                matched.append(number)
        if matched:
            found[question] = matched
    return found


def judge_answers(check_ids: list[str], answers_text: str | None, cases: dict,
                  others: bool = False) -> dict[str, tuple[bool, str]]:
    """(ok, detail) per check id from the harness's file (in this process; see :func:`judge_run`), in the
    variant this thread is in (``course_utils.variants``). others: add to each wrong check's detail which other
    variants its answer is right for (:func:`other_variants`)."""
    try:
        data = json.loads(answers_text) if answers_text is not None else {}
    except (ValueError, RecursionError):
        data = {"malformed": True}
    answers = data.get("answers") if isinstance(data, dict) else None
    malformed = not isinstance(answers, dict) and answers_text is not None
    answers = answers if isinstance(answers, dict) else {}
    results = {}
    for question in check_ids:
        try:
            results[question] = _judge_one(question, answers.get(question), cases.get(question))
        except Exception as exc:  # noqa: BLE001 - whatever the answer is, it is one wrong answer
            results[question] = (False, f"the answer cannot be judged ({type(exc).__name__})")
        if malformed and not results[question][0]:
            results[question] = (False, "the answers file is not the harness's")
    if others and not malformed:
        for question, numbers in other_variants(check_ids, answers_text, cases, results).items():
            ok, detail = results[question]
            listed = ", ".join(map(str, numbers))
            results[question] = (ok, f"{OTHER_VARIANT} {listed} (not this student's)" + (f"; {detail}" if detail else ""))
    return results


OTHER_VARIANT = "right for variant"  # the start of a wrong check's detail when it is another variant's answer


def _judge_one(question: str, entry: Any, cases: Any) -> tuple[bool, str]:
    from course_utils import checks
    from course_utils.checks.plain import Opaque, PlainError, from_plain

    current = checks.canonical_id(question)
    try:
        spec = checks.spec_of(current)
    except KeyError:
        return False, "unknown check id"
    if not isinstance(entry, dict):
        return False, NOT_RUN
    if spec.kind == "probe":
        from course_staff.judging import judge_outputs, judges

        if current not in judges():
            return False, "no judge for this function check"
        outputs = entry.get("probe")
        if outputs is None:
            error = entry.get("error")
            return False, (f"the function could not be used ({str(error)[:120]})" if error
                           else "the function was not run on the hidden cases")
        if not isinstance(cases, list):
            return False, "no hidden cases were drawn"
        return judge_outputs(current, cases, outputs)
    if spec.kind == "custom":  # an object that cannot travel (a built model): its canonical texts do
        texts = entry.get("forms")
        if not isinstance(texts, list) or not all(isinstance(x, str) and len(x) <= 1000 for x in texts):
            return False, f"the value could not be read ({str(entry.get('error', ''))[:120]})"
        if checks.verify_forms(current, texts):
            return True, ""
        return False, (checks.named_mistake(current, texts).strip() or "the model is not the one the lab asks for")
    if "neighbours" in entry and spec.kind in ("rate", "expr"):  # a function answer's canonical texts
        forms = entry["neighbours"]
        if not (isinstance(forms, list) and all(isinstance(e, list) and 1 <= len(e) <= 3 and all(
                isinstance(x, str) and len(x) <= 1000 for x in e) for e in forms)):
            return False, "the value could not be read"
        if checks.verify_neighbours(current, forms):
            return True, ""
        return False, checks.named_mistake(current, [e[0] for e in forms]).strip() or "not the right value"
    if "plain" not in entry:
        return False, f"the value could not be read ({str(entry.get('error', ''))[:120]})"
    try:
        value = from_plain(entry["plain"])
    except (PlainError, RecursionError) as exc:
        return False, f"the value is not plain answer data ({str(exc)[:80]})"
    if isinstance(value, Opaque) and spec.kind == "judge":
        return False, "a function check without a probe cannot be judged outside the kernel"
    result = checks.verify(current, value)
    return (True, "") if result.ok else (False, wrong_value_phrase(spec, result.message))


def wrong_value_phrase(spec: Any, message: str) -> str:
    """Why a plain answer lost its points, in one phrase of the package's own words: the self-check's hint for
    the mistake, less the standing hint (never a quote of the answer or of an error it raised)."""
    text = message.split(": not yet. Hint: ", 1)[-1]
    hint = getattr(spec, "hint", "")
    text = (text[: -len(hint)] if hint and text.endswith(hint) else text).strip()
    if text.startswith("cannot use this answer ("):
        kind = text[len("cannot use this answer ("):].split(":", 1)[0].split(")", 1)[0]
        return f"the value cannot be used as this answer ({kind[:40]})"
    return text[:300].rstrip(". ") if text else "not the right value"


class WorkerFailed(Exception):
    """The worker ran past its time limit, died, or answered something that is not a verdict line."""


class Worker:
    """One judging subprocess, reused for up to ``WORKER_USES`` notebooks (see the module's docstring)."""

    def __init__(self, tiny: bool) -> None:
        self.tiny, self.uses = tiny, 0
        self._stderr = tempfile.TemporaryFile()
        env = {**os.environ, "COURSE_TINY": "1" if tiny else "0"}
        self.proc = subprocess.Popen([sys.executable, "-m", "course_staff.grading.judge"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._stderr, env=env)

    def ask(self, payload: str, timeout: float) -> dict:
        """Send one payload line, read one verdict line within ``timeout`` seconds; WorkerFailed otherwise."""
        self.uses += 1
        try:
            self.proc.stdin.write(payload.encode("utf-8") + b"\n")
            self.proc.stdin.flush()
        except OSError as exc:
            raise WorkerFailed(f"judging failed ({self._tail() or type(exc).__name__})") from exc
        reply, deadline, fd = b"", time.monotonic() + timeout, self.proc.stdout.fileno()
        while not reply.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0:
                raise WorkerFailed(f"judging ran past its time limit ({timeout:g} s)")
            ready, _, _ = select.select([fd], [], [], min(left, 1.0))
            if not ready:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                raise WorkerFailed(f"judging failed ({self._tail() or 'the worker exited'})")
            reply += chunk
            if len(reply) > MAX_REPLY_BYTES:
                raise WorkerFailed("judging failed (an oversized reply)")
        try:
            found = json.loads(reply.decode("utf-8"))
        except ValueError as exc:
            raise WorkerFailed("judging failed (a reply that is not JSON)") from exc
        if not isinstance(found, dict):
            raise WorkerFailed("judging failed (a reply that is not a verdict)")
        return found

    def _tail(self) -> str:
        with contextlib.suppress(OSError):
            self._stderr.seek(0, os.SEEK_END)
            size = self._stderr.tell()
            self._stderr.seek(max(0, size - 4000))
            lines = self._stderr.read().decode("utf-8", "replace").strip().splitlines()
            return lines[-1][:160] if lines else ""
        return ""

    def close(self, kill: bool = False) -> None:
        """Stop the worker: at once (``kill``), or at the end of its input, then SIGKILL if it lingers."""
        if kill:
            self.proc.kill()
        with contextlib.suppress(OSError):
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        with contextlib.suppress(OSError):
            self.proc.stdout.close()
        self._stderr.close()


_IDLE: list[Worker] = []
_LOCK = threading.Lock()


def _take(tiny: bool) -> Worker:
    """An idle live worker of the mode ``tiny``, or a fresh one; idle workers that died are stopped."""
    with _LOCK:
        dead = [w for w in _IDLE if w.proc.poll() is not None]
        _IDLE[:] = [w for w in _IDLE if w not in dead]
        found = next((w for w in _IDLE if w.tiny == tiny), None)
        if found is not None:
            _IDLE.remove(found)
    for worker in dead:
        worker.close()
    return found if found is not None else Worker(tiny)


def _give_back(worker: Worker) -> None:
    if worker.uses >= WORKER_USES or worker.proc.poll() is not None:
        worker.close()
        return
    with _LOCK:
        _IDLE.append(worker)


@atexit.register
def close_workers() -> None:
    """Stop every idle worker (the batch calls it when it ends; also at exit)."""
    with _LOCK:
        idle, _IDLE[:] = list(_IDLE), []
    for worker in idle:
        worker.close()


def judge_run(check_ids: list[str], answers_text: str | None, cases: dict, tiny: bool,
              timeout: float = JUDGE_TIMEOUT_S, student: str = "", term: str | None = None) -> dict[str, tuple[bool, str]]:
    """:func:`judge_answers` in a worker subprocess (the grading mode from ``tiny``) with a time limit, as
    ``student``'s variant of ``term`` (default: the installed term), naming other variants a wrong answer fits.

    Safe from several threads at once: each call holds a worker of its own while it judges."""
    if answers_text is None:
        return {q: (False, NOT_RUN) for q in check_ids}
    from course_utils import variants

    term = variants.term() if term is None else term
    payload = json.dumps({"checks": check_ids, "answers": answers_text, "cases": cases, "student": student,
                          "term": term})
    worker = _take(tiny)
    try:
        found = worker.ask(payload, timeout)
        results = {q: (bool(found[q][0]), str(found[q][1])) for q in check_ids}
    except WorkerFailed as exc:
        worker.close(kill=True)
        return {q: (False, str(exc)) for q in check_ids}
    except (KeyError, TypeError, IndexError):
        worker.close(kill=True)
        return {q: (False, "judging failed (a reply without every check)") for q in check_ids}
    _give_back(worker)
    return results


def main() -> None:
    """The worker: one JSON payload per line on stdin, one JSON line of ``{id: [ok, detail]}`` per payload."""
    answer = sys.stdout
    with contextlib.redirect_stdout(sys.stderr):  # a judge that prints cannot spoil the answer line
        for line in sys.stdin:
            if not line.strip():
                continue
            payload = json.loads(line)
            from course_utils import variants

            with variants.as_student(str(payload.get("student") or ""), str(payload.get("term") or "")):
                results = judge_answers(list(payload["checks"]), payload["answers"], payload.get("cases") or {},
                                        others=bool(payload.get("term")))
            answer.write(json.dumps({q: [ok, detail] for q, (ok, detail) in results.items()}) + "\n")
            answer.flush()


if __name__ == "__main__":
    main()
