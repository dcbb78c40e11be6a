"""Helpers for Deep Learning Assignment 3: the student package (what the release contains, whole).

One folder per question, holding its demos and its self-checks:

- ``q1``: CNNs vs RNNs (small CNN and row-by-row GRU, timings, receptive field, streaming).
- ``q2``: the scalar linear RNN (exact simulation, the drawing, an induction checker).
- ``q3``: weight-free self-attention (the question's tokens, plots).
- ``sentiment``: the BERT-GRU IMDB lab (data, model, features, the training driver, inference, checks).

Shared: ``mode`` (full vs tiny mode, seeding), ``checks`` (the self-check engine: ``check``),
``files``, ``errors``, ``cli`` (``course-utils lab`` and ``predict``). Instructor code (keys,
registry builder, grading) is the separate ``course_staff`` package.

Importing this package does no work: no downloads, no seeding, no heavy imports.
"""

__version__ = "0.1.0"
