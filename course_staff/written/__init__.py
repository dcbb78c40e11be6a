"""Written answers: reading them out of submissions, marking them, copying checks, the gradebook, feedback.

Modules, lowest first (each imports only those above it in this list, never ``course_staff.grading``):

- ``answers``: every *YOUR ANSWER HERE* blank of every submission, beside its prompt (CSV, HTML);
  ``course-utils grade`` writes them beside its report;
- ``groups``: similar answers to one question in groups (the marking page's groups; similarity's groups of two);
- ``pairs``: the pairs CSV that ``similarity`` writes and ``mark --pairs`` loads;
- ``marking/``: ``course-utils mark``, the TAs' marking page (its database, rubric, app, vendored KaTeX);
- ``similarity/``: ``course-utils similarity``, pairs of submissions whose code or prose is unusually alike;
- ``marks``: each written mark as the student reads it (items, points, comment, regrades);
- ``gradebook``: ``course-utils gradebook``, check points plus written marks (CSV, Canvas, Gradescope);
- ``feedback``: ``course-utils feedback``, one feedback file per student.

``marking`` and ``similarity`` do not import each other: what both need is ``answers``, ``groups`` and ``pairs``.
The grading report, the handouts and the checks' rubric they read are ``course_staff.formats``.
"""
