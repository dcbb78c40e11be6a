"""The ``course-utils`` command.

Each subcommand lives in the module that does its work; this file only dispatches, and
imports a module only when its subcommand runs (so ``course-utils keys`` never imports torch).
A module named ``pkg.mod:name`` provides ``name_arguments(parser)`` and ``name(args) -> int``.
Instructor commands (keys, grade, release, ...) live in ``course_staff``, and are listed only where
that package is installed: the student release has none of it.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys

COMMANDS: dict[str, tuple[str, str]] = {
    "keys": ("course_staff.authoring.keys:keys", "execute the masters in answers/, render keys, regenerate notebooks/"),
    "lab": ("course_staff.lab_run:lab", "train and test the BERT-GRU sentiment model (with the key's loops)"),
    "predict": ("course_utils.sentiment.commands:predict", "P(positive) for each text, from a checkpoint"),
    "grade": ("course_staff.grading.batch:grade", "grade submitted notebooks: scores from the checks, CSV report"),
    "grade-merge": ("course_staff.grading.shards:merge", "join the reports of grade --shard K/N runs"),
    "autograder": ("course_staff.grading.gradescope:autograder", "write a Gradescope autograder bundle"),
    "mark": ("course_staff.written.marking.command:mark", "mark written answers in the browser (TAs; question by question)"),
    "similarity": ("course_staff.written.similarity:similarity", "pairs of submissions whose code or prose is unusually alike"),
    "gradebook": ("course_staff.written.gradebook:gradebook", "check points plus written marks, one row per student (CSV, Canvas)"),
    "feedback": ("course_staff.written.feedback:feedback", "one feedback file per student: checks with hints, marks, comments"),
    "bench": ("course_staff.bench:bench", "the lab pipeline against a seed-faithful one"),
    "release": ("course_staff.authoring.release:release", "write the student release (handouts, package without answers)"),
}


def available() -> dict[str, tuple[str, str]]:
    """The commands whose package is installed: the student ones always, the instructor ones with ``course_staff``."""
    staff = importlib.util.find_spec("course_staff") is not None
    return {name: entry for name, entry in COMMANDS.items() if staff or entry[0].startswith("course_utils.")}


def _usage() -> str:
    commands = available()
    width = max(map(len, commands))
    rows = "\n".join(f"  {name:<{width}}  {help_}" for name, (_, help_) in commands.items())
    return f"usage: course-utils COMMAND [options]\n\ncommands:\n{rows}\n\n'course-utils COMMAND -h' for a command's options."


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in {"-h", "--help"}:
        print(_usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in available():
        print(f"course-utils: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    target, help_ = COMMANDS[name]
    module_name, func_name = target.split(":")
    module = importlib.import_module(module_name)
    parser = argparse.ArgumentParser(prog=f"course-utils {name}", description=help_)
    getattr(module, f"{func_name}_arguments")(parser)
    args = parser.parse_args(rest)
    return int(getattr(module, func_name)(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
