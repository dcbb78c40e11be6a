"""Instructor-only code: answers, the check registry builder, worked proofs for the keys.

Nothing here is part of the student release (``course-utils release`` leaves this package out),
and no student-facing module imports it at import time.
"""
