"""The ``course-utils`` command.

Each subcommand lives in the module that does its work; this file only dispatches, and
imports a module only when its subcommand runs (so ``course-utils keys`` never imports torch).
A module named ``pkg.mod:name`` provides ``name_arguments(parser)`` and ``name(args) -> int``.
Instructor commands (keys, grade, release) are listed only where their modules are installed:
the student release leaves them out.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

COMMANDS: dict[str, tuple[str, str]] = {
    "keys": ("course_utils.keys:keys", "execute the masters in answers/, render keys, regenerate notebooks/"),
    "lab": ("course_utils.sentiment.cli:lab", "train and test the BERT-GRU sentiment model"),
    "predict": ("course_utils.sentiment.cli:predict", "P(positive) for each text, from a checkpoint"),
    "grade": ("course_utils.grading:grade", "execute submitted notebooks with nbval, write a CSV report"),
    "bench": ("course_utils.sentiment.bench:bench", "the lab pipeline against a seed-faithful one"),
    "release": ("course_utils.release:release", "write the student release (handouts, package without answers)"),
}


def available() -> dict[str, tuple[str, str]]:
    """The commands whose module is installed (the student release has no instructor modules)."""
    return {name: entry for name, entry in COMMANDS.items() if _installed(entry[0].split(":")[0])}


def _installed(module: str) -> bool:
    """Whether ``course_utils.x.y`` exists as a file of this package (checked without importing it)."""
    base = Path(__file__).resolve().parent.joinpath(*module.split(".")[1:])
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


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
