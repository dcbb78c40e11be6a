"""Authoring: solution markers (``markers``), answer keys and handouts (``keys``, ``normalise``, ``render``)
and the student release (``release``)."""
