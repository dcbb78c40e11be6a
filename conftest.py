"""Repository-wide pytest setup: tests and nbval always run in tiny (offline) mode, and never reach a model hub."""

import os

os.environ.setdefault("COURSE_TINY", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # no test reaches a model hub: encoders are built or loaded from folders
