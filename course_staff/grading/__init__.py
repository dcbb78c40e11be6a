"""Grading submitted notebooks: locked checks, scores judged outside the kernel, reports, Gradescope, shards.

Modules, one job each (``course-utils grade`` is ``batch.grade``):

- ``locking``: the scratch copy: locked cells restored, comparisons set, grader cells inserted;
- ``in_kernel``: the only code that runs inside a notebook's sandbox (copied in, standalone): ``harness``,
  the grader's code in the submission's kernel (values only); ``plugin``, the pytest plugin that logs each
  cell nbval runs; ``pytest_launch`` and ``kernel_launch``, how that pytest and its kernel start; nbval's
  sanitizers. Every other module here runs in the grader's process only;
- ``judge``: judging the harness's values outside the kernel; ``run``: one notebook in a sandboxed subprocess;
- ``scan``: student source that reaches into the checks;
- ``submission``: one notebook from file to report row; ``batch``: the ``grade`` command;
- ``shards``: ``--shard K/N`` and ``grade-merge``;
- ``gradescope``: results.json and the autograder bundle.

The handouts, the report and the checks' rubric are ``course_staff.formats`` (the written-answer tools read
them too); the written answers that ``batch`` writes beside the report are ``course_staff.written.answers``.
"""
