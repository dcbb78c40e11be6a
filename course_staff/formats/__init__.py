"""What grading and the written-answer tools both read: the handouts, the grading report, the checks' rubric.

- ``handouts``: what a handout locks and checks, by cell id; its written blanks; matching a submission by content;
- ``report``: the grading report CSV (one row per submitted notebook) and joining the reports of shards;
- ``scoring``: points per check id (``answers/rubric.json``) and a submission's score from the grader's verdicts.

``course_staff.grading`` writes them and ``course_staff.written`` reads them; nothing here imports either.
"""
