"""The one base class for errors a user can act on.

A command line prints a ``CourseError`` as one line (its message names the fix) and exits non-zero;
any other exception is a bug and keeps its traceback.
"""


class CourseError(Exception):
    """An expected error with an actionable message: a bad setting, file, folder or checkpoint."""
