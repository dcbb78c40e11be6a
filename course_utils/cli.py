"""The ``course-utils`` command.

Each subcommand lives in the module that does its work; this file only dispatches, and
imports a module only when its subcommand runs. A module named ``pkg.mod:name`` provides
``name_arguments(parser)`` and ``name(args) -> int``. This package lists its own commands
(``STUDENT_COMMANDS``); the instructor commands (keys, grade, release, ...) are listed by the instructor
package, in ``course_staff.commands``, and appear only where that package is installed: the student
release has none of it.
"""

from __future__ import annotations

import argparse
import importlib
import sys

STUDENT_COMMANDS: dict[str, tuple[str, str]] = {
    "predict": ("course_utils.lab.commands:predict", "P(positive) for each text, from a checkpoint"),
}
#: The instructor package's table of commands, read where it is installed (see ``available``).
STAFF_COMMANDS = "course_staff.commands"


def _staff_table():
    """The instructor package's commands module, or None where ``course_staff`` is not installed."""
    try:
        return importlib.import_module(STAFF_COMMANDS)
    except ModuleNotFoundError as exc:
        if exc.name in ("course_staff", STAFF_COMMANDS):
            return None
        raise


def available() -> dict[str, tuple[str, str]]:
    """Every command that this install has, in the help's order: name -> (``module:function``, help).

    The student commands always; with ``course_staff`` installed, its commands too, the student ones placed
    after the one it names (``STUDENT_COMMANDS_AFTER``).
    """
    staff = _staff_table()
    if staff is None:
        return dict(STUDENT_COMMANDS)
    commands: dict[str, tuple[str, str]] = {}
    for name, entry in staff.COMMANDS.items():
        commands[name] = entry
        if name == getattr(staff, "STUDENT_COMMANDS_AFTER", None):
            commands.update(STUDENT_COMMANDS)
    commands.update({name: entry for name, entry in STUDENT_COMMANDS.items() if name not in commands})
    return commands


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
    commands = available()
    if name not in commands:
        print(f"course-utils: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    target, help_ = commands[name]
    module_name, func_name = target.split(":")
    module = importlib.import_module(module_name)
    parser = argparse.ArgumentParser(prog=f"course-utils {name}", description=help_)
    getattr(module, f"{func_name}_arguments")(parser)
    args = parser.parse_args(rest)
    return int(getattr(module, func_name)(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
