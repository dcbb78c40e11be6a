"""Instructor code of Deep Learning Assignment 3: never part of the student release.

- ``keys``: the answer key, one module per question (``keys/q1.py`` ... ``keys/lab.py``, the staff side of
  ``course_utils/q1/`` ... ``course_utils/lab/``): hash-checked answers and their known mistakes, the grader's
  judges (hidden cases, oracles), worked proofs and closed forms.
- ``judging``: the ``Judge`` of a function check and how the grader applies it.
- ``registry``: builds the salted-hash registry ``course_utils/data/checks.json`` from the key.
- ``authoring``: solution markers, the keys and handouts (``keys``), their rendering, the student release.
- ``formats``: what grading writes and the written-answer tools read: handouts, the report, the checks' rubric.
- ``grading``: ``course-utils grade`` and its parts (locking, running, judging, Gradescope, shards).
- ``written``: written answers: ``course-utils mark``, ``similarity``, ``gradebook``, ``feedback``.
- ``bench``: the lab's pipeline against a seed-faithful one.
- ``commands``: the instructor commands of ``course-utils`` (name -> ``module:function``, help), which
  ``course_utils/cli.py`` lists beside its own where this package is installed; a module is imported only
  when its command runs (a student install, without this package, lists none of them).
- ``settings``: ``course.toml``, the course's settings (docs/course-settings.md).

The student package is ``course_utils``; nothing in it imports this package, but for the command line's
optional look-up of ``commands``.
"""
