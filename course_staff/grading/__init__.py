"""Grading submitted notebooks: locked checks, scores judged outside the kernel, reports, Gradescope, shards.

Modules, one job each (``course-utils grade`` is ``batch.grade``):

- ``locking``: the scratch copy: locked cells restored, comparisons set, grader cells inserted;
- ``harness``: the grader's code inside the submission's kernel (values only); ``judge``: judging them outside;
- ``plugin``: the pytest plugin that logs each cell nbval runs; ``run``: one notebook in a subprocess;
- ``scan``: student source that reaches into the checks;
- ``submission``: one notebook from file to report row; ``batch``: the ``grade`` command;
- ``shards``: ``--shard K/N`` and ``grade-merge``;
- ``gradescope``: results.json and the autograder bundle.

The handouts, the report and the checks' rubric are ``course_staff.formats`` (the written-answer tools read
them too); the written answers that ``batch`` writes beside the report are ``course_staff.written.answers``.
"""
