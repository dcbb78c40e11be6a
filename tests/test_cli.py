"""course-utils: the student package lists its own commands; the staff package adds its table where installed."""

from __future__ import annotations

import sys

from course_utils import cli
from course_staff import commands

ORDER = ["keys", "lab", "predict", "grade", "grade-merge", "autograder", "mark", "similarity", "gradebook",
         "feedback", "bench", "release"]


def test_a_staff_install_lists_every_command_in_the_helps_order():
    available = cli.available()
    assert list(available) == ORDER
    assert {name: entry for name, entry in available.items() if name in commands.COMMANDS} == commands.COMMANDS
    assert all(target.startswith("course_staff.") for target, _ in commands.COMMANDS.values())
    assert all(target.startswith("course_utils.") for target, _ in cli.STUDENT_COMMANDS.values())
    usage = cli._usage().splitlines()
    assert [line.split()[0] for line in usage[3:3 + len(ORDER)]] == ORDER


def test_without_course_staff_only_the_student_commands_exist(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "course_staff", None)  # as in the student release: not importable
    monkeypatch.setitem(sys.modules, "course_staff.commands", None)
    assert cli.available() == cli.STUDENT_COMMANDS
    assert cli.main(["keys"]) == 2
    err = capsys.readouterr().err
    assert "unknown command 'keys'" in err and "predict" in err and "release" not in err


def test_every_command_resolves_to_its_functions():
    import importlib

    for name, (target, _) in cli.available().items():
        module_name, func = target.split(":")
        spec = importlib.util.find_spec(module_name)
        assert spec is not None, (name, module_name)
