"""Grading submitted notebooks: locked checks, scores judged outside the kernel, reports, Gradescope, shards.

Modules, one job each (``course-utils grade`` is ``batch.grade``):

- ``handouts``: what a handout locks and checks, by cell id; matching a submission by content;
- ``locking``: the scratch copy: locked cells restored, comparisons set, grader cells inserted;
- ``harness``: the grader's code inside the submission's kernel (values only); ``judge``: judging them outside;
- ``plugin``: the pytest plugin that logs each cell nbval runs; ``run``: one notebook in a subprocess;
- ``scan``: student source that reaches into the checks; ``scoring``: the rubric and the score;
- ``submission``: one notebook from file to report row; ``batch``: the ``grade`` command;
- ``report``: the CSV report; ``shards``: ``--shard K/N`` and ``grade-merge``;
- ``answers``: written answers for TAs (CSV, HTML); ``gradescope``: results.json and the autograder bundle.
"""
