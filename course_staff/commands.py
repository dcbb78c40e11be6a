"""The instructor commands of ``course-utils``: name -> (``module:function``, one line of help).

``course_utils.cli`` reads this table only where ``course_staff`` is installed (a staff install); the
student release has no ``course_staff`` and lists its own commands alone. Each module is imported
only when its command runs (so this file imports nothing). A module named ``pkg.mod:name`` provides
``name_arguments(parser)`` and ``name(args) -> int``.
"""

from __future__ import annotations

COMMANDS: dict[str, tuple[str, str]] = {
    "keys": ("course_staff.authoring.keys:keys", "execute the masters in answers/, render keys, regenerate notebooks/"),
    "lab": ("course_staff.lab_run:lab", "train and test the BERT-GRU sentiment model (with the key's loops)"),
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

#: In the help, the student commands (``course_utils.cli.STUDENT_COMMANDS``: predict) follow this one: the lab
#: writes the checkpoint that predict reads.
STUDENT_COMMANDS_AFTER = "lab"
