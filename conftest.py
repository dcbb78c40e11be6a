"""Repository-wide pytest setup: tests and nbval always run in tiny (offline) mode."""

import os

os.environ.setdefault("COURSE_TINY", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
