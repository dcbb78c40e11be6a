"""The grader's code that runs inside each notebook's sandbox; everything else in ``course_staff.grading``
runs in the grader's own process and never inside.

Each file here is standalone (the standard library, pytest, nbval's and Jupyter's packages, ipykernel
and the student package ``course_utils``): inside the sandbox ``course_staff`` cannot be imported, so
nothing here imports it (``tests/test_grading_parts.py`` checks). The grader copies the files in:

- ``harness``: into each run's I/O folder (``run.prepare_io``); the grader cells load it in the kernel;
- ``plugin``, ``pytest_launch``, ``kernel_launch``: into the batch's grader folder as
  ``course_grader_plugin``, ``course_grader_pytest`` and ``course_grader_kernel`` (``run.GRADER_MODULES``);
- ``nbval_sanitize.cfg``: nbval's sanitizers, bound read-only into the sandbox (and the tests' own).

The grader's side may import these (``locking`` reads ``harness.IO_VARIABLE``); never the other way.
"""
