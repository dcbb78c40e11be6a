"""Planted copies of several kinds against honest look-alikes: where each ranks, before and after.

    nice .venv/bin/python ci/similarity_planted.py [--students 40] [--seed 0] [--before DIR] [--markdown]

The batch is ``tests/written_batch.py``'s (every real handout, honest students who share the master's
solution and add lines of their own, honest look-alike short answers), with copies of these kinds
planted on top, each between two students who are otherwise honest:

- ``rename``: a whole notebook's code, every assigned name renamed;
- ``reorder``: a whole notebook's code, independent adjacent lines swapped;
- ``comprehension rewrite``: a whole notebook's code, every comprehension written out as a loop (and
  ``sum(... for ...)`` as a counting loop), names renamed;
- ``number wrapping + junk lines``: a whole notebook's code, every number in parentheses and a junk
  assignment after every complete line, nothing renamed;
- ``one question only``: one code blank's cell copied (renamed) into an otherwise honest notebook;
- ``paraphrase (light)``: one written answer, ``written_batch.paraphrase`` (the batch's own prose copies);
- ``paraphrase (heavy)``: one written answer, half the words swapped for synonyms, fillers, sentences shuffled.

Each copy's rank and score are taken within its group (the handout's code pairs, or the question's
answer pairs), beside the best honest pair of that group (neither side of it copied or was copied; the
batch's two honest look-alike short answers are honest). The scorer runs twice, in subprocesses: the code
under ``--before`` (a ``git worktree`` of the commit before the change, default /tmp/sim-old) and this
checkout's. "listed" says whether the default command lists the pair (before: score >= 0.3; after: the
relative rule, ``course_staff.written.similarity.compare``).
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import random
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

SCORER = """
import json, sys
from pathlib import Path
try:
    from course_staff.written.similarity import compare
except ImportError:  # a tree from before course_staff.written (--before)
    from course_staff.similarity import compare
pairs, works, skipped = compare.run(Path(sys.argv[1]), Path(sys.argv[2]), 0.0)
json.dump([[p.a, p.b, p.part, p.question, p.score, getattr(p, "why", "")] for p in pairs], sys.stdout)
"""


class _Loops(ast.NodeTransformer):
    """``v = [e for x in it if c]`` as a loop that appends; ``v = sum(e for x in it)`` as a counting loop."""

    def _loop(self, name: str, generators, body: ast.stmt) -> ast.stmt:
        for gen in reversed(generators):
            for cond in reversed(gen.ifs):
                body = ast.If(cond, [body], [])
            body = ast.For(gen.target, gen.iter, [body], [])
        return body

    def visit_Assign(self, node: ast.Assign):
        if len(node.targets) != 1 or not isinstance(node.targets[0], ast.Name):
            return node
        name, value = node.targets[0].id, node.value
        if isinstance(value, ast.ListComp):
            append = ast.Expr(ast.Call(ast.Attribute(ast.Name(name, ast.Load()), "append", ast.Load()), [value.elt], []))
            return [ast.Assign([ast.Name(name, ast.Store())], ast.List([], ast.Load())),
                    self._loop(name, value.generators, append)]
        if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "sum" \
                and len(value.args) == 1 and isinstance(value.args[0], ast.GeneratorExp):
            gen = value.args[0]
            add = ast.AugAssign(ast.Name(name, ast.Store()), ast.Add(), gen.elt)
            return [ast.Assign([ast.Name(name, ast.Store())], ast.Constant(0)), self._loop(name, gen.generators, add)]
        return node


def comprehensions_to_loops(source: str) -> str:
    """The copier's rewrite: comprehensions assigned to a name become loops (a cell that does not parse is kept)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source
    return ast.unparse(ast.fix_missing_locations(_Loops().visit(tree)))


def wrap_and_junk(rng: random.Random, source: str) -> str:
    """Every number in parentheses; after every line that is a complete statement, a junk assignment."""
    out = []
    for n, line in enumerate(source.splitlines()):
        out.append(re.sub(r"(?<![\w.])(\d+(?:\.\d+)?(?:e-?\d+)?)(?![\w.])", r"(\1)", line))
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", "@", "return", "raise", "else", "elif", "except", "finally")) \
                or stripped.endswith((":", ",", "(", "[", "{", "\\")):
            continue
        try:
            ast.parse(stripped)
        except SyntaxError:
            continue
        indent = line[:len(line) - len(line.lstrip())]
        out.append(f"{indent}_unused{n} = {rng.randint(0, 9)}")
    return "\n".join(out)


def heavy_paraphrase(rng: random.Random, text: str) -> str:
    """Sentences shuffled, half the words swapped for synonyms, fillers put in."""
    import written_batch

    sentences = [s for s in re.split(r"(?<=\.)\s+", text) if s]
    rng.shuffle(sentences)
    return written_batch.vary(rng, " ".join(sentences), swap=0.5, filler=0.12)


def plant(students: int, seed: int, folder: Path) -> tuple[list[dict], set[frozenset]]:
    """The batch with the planted copies; the planted pairs (kind, a, b, part, question) and every planted pair."""
    import nbformat

    import written_batch
    from course_staff.formats.handouts import load_handouts

    batch = written_batch.make(folder, students=students, seed=seed)
    handouts = load_handouts(ROOT / "notebooks")
    rng = random.Random(seed + 1)
    used = {f.split("_")[0] for p in batch.planted + batch.lookalikes for f in (p["a"], p["b"])}
    honest = [s for s in batch.files if s.split("_")[0] not in used]
    rng.shuffle(honest)
    planted = [dict(p, kind="paraphrase (light)") for p in batch.planted if p["part"] == "prose"]
    names = sorted(handouts)

    def path(student: str, name: str) -> Path:
        return folder / f"{student}_{name}.ipynb"

    code_kinds = {
        "rename": lambda s: written_batch.rename(rng, s),
        "reorder": lambda s: written_batch.reorder(rng, s),
        "comprehension rewrite": lambda s: written_batch.rename(rng, comprehensions_to_loops(s)),
        "number wrapping + junk lines": lambda s: wrap_and_junk(rng, s),
    }
    for k, (kind, change) in enumerate(code_kinds.items()):
        a, b, name = honest[2 * k], honest[2 * k + 1], names[k % len(names)]
        source, target = nbformat.read(path(a, name), 4), nbformat.read(path(b, name), 4)
        for cell, mine in zip(source.cells, target.cells):
            if cell.cell_type == "code":
                mine.source = change(cell.source)
        nbformat.write(target, path(b, name))
        planted.append({"kind": kind, "a": path(a, name).name, "b": path(b, name).name, "part": "code", "question": ""})
    k = len(code_kinds)
    a, b, name = honest[2 * k], honest[2 * k + 1], names[k % len(names)]  # one question's code only
    given = {c.get("id"): c.source for c in handouts[name].nb.cells if c.cell_type == "code"}
    source, target = nbformat.read(path(a, name), 4), nbformat.read(path(b, name), 4)
    blanks = [c for c in source.cells if c.cell_type == "code" and c.get("id") in given and c.source != given[c.get("id")]]
    cell = max(blanks, key=lambda c: len(c.source))
    next(c for c in target.cells if c.get("id") == cell.get("id")).source = written_batch.rename(rng, cell.source)
    nbformat.write(target, path(b, name))
    planted.append({"kind": "one question only", "a": path(a, name).name, "b": path(b, name).name, "part": "code",
                    "question": ""})
    k += 1
    a, b = honest[2 * k], honest[2 * k + 1]  # heavy paraphrase of one written answer
    name = names[1]
    qid = list(handouts[name].blanks)[1]
    spec = written_batch.PROSE[qid]
    text = ". ".join(rng.choice(p) for p in spec["points"]).capitalize() + ". " + rng.choice(written_batch.OWN)
    for who, body in ((a, text), (b, heavy_paraphrase(rng, text))):
        nb = nbformat.read(path(who, name), 4)
        next(c for c in nb.cells if c.get("id") == qid).source = body
        nbformat.write(nb, path(who, name))
    planted.append({"kind": "paraphrase (heavy)", "a": path(a, name).name, "b": path(b, name).name, "part": "prose",
                    "question": qid})
    every = {frozenset((p["a"], p["b"])) for p in planted + batch.planted}
    return planted, every


def score(code_root: Path, folder: Path) -> list[list]:
    """Every pair (threshold 0) as scored by the package under ``code_root``, in a fresh interpreter."""
    env = dict(os.environ, PYTHONPATH=str(code_root))
    out = subprocess.run([sys.executable, "-c", SCORER, str(folder), str(ROOT / "notebooks")], env=env, cwd=code_root,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def table(planted: list[dict], every: set[frozenset], pairs: list[list], after: bool) -> list[dict]:
    """Per planted copy: rank and score in its group, pairs in the group, best honest score, listed by default."""
    involved = {f for pair in every for f in pair}  # honest: neither side copied or was copied
    rows = []
    for p in planted:
        group = [q for q in pairs if q[2] == p["part"] and q[3] == p["question"]
                 and (p["part"] == "prose" or q[0].split("_", 3)[3] == p["b"].split("_", 3)[3])]
        rank = next((i for i, q in enumerate(group) if {q[0], q[1]} == {p["a"], p["b"]}), None)
        honest = [q[4] for q in group if not {q[0], q[1]} & involved]
        mine = group[rank] if rank is not None else None
        listed = mine is not None and (bool(set(mine[5].split(", ")) - {"threshold", ""}) if after else mine[4] >= 0.3)
        rows.append({"kind": p["kind"], "rank": None if rank is None else rank + 1, "of": len(group),
                     "score": mine[4] if mine else 0.0, "best_honest": max(honest, default=0.0), "listed": listed,
                     "why": mine[5] if mine and after else ""})
    return rows


def main() -> int:
    """Plant, score before and after, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--before", type=Path, default=Path("/tmp/sim-old"), help="checkout of the old code")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="similarity-planted-") as tmp:
        folder = Path(tmp) / "subs"
        planted, every = plant(args.students, args.seed, folder)
        before = table(planted, every, score(args.before, folder), after=False)
        after = table(planted, every, score(ROOT, folder), after=True)
    print(f"{args.students} students x 4 handouts, seed {args.seed}; rank within the copy's group "
          "(the handout's code pairs, or the question's answer pairs)\n")
    print("| planted copy | before: rank / pairs | score | best honest | listed | after: rank / pairs | score "
          "| best honest | listed (why) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for b, a in zip(before, after):
        def cell(r):
            return f"{r['rank']} / {r['of']}" if r["rank"] else f"- / {r['of']}"
        print(f"| {b['kind']} | {cell(b)} | {b['score']:.2f} | {b['best_honest']:.2f} | {'yes' if b['listed'] else 'no'} "
              f"| {cell(a)} | {a['score']:.2f} | {a['best_honest']:.2f} | "
              f"{'yes (' + a['why'].replace(', threshold', '').replace('threshold', '') + ')' if a['listed'] else 'no'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
