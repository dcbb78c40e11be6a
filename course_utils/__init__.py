"""Helpers for Deep Learning Assignment 3.

Modules, one idea each:

- ``mode``: full vs tiny mode (``COURSE_TINY=1``), seeding, Colab detection.
- ``cnn_vs_rnn``: Q1 demos (CNN vs row-by-row GRU on small synthetic images).
- ``recurrence``: Q2, the scalar linear RNN, simulated exactly and solved with sympy.
- ``attention``: Q3, weight-free self-attention and the copying demo.
- ``sentiment``: the BERT-GRU IMDB lab (data, model, training, inference).
- ``keys``: answer keys and student handouts from the masters in ``answers/``.
- ``cli``: the ``course-utils`` command.

Importing this package does no work: no downloads, no seeding, no heavy imports.
"""

__version__ = "0.1.0"
