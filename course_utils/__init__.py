"""Helpers for Deep Learning Assignment 3.

Modules, one idea each:

- ``mode``: full vs tiny mode (``COURSE_TINY=1``), seeding, Colab detection.
- ``cnn_vs_rnn``: Q1 demos (CNN vs row-by-row GRU on small synthetic images).
- ``recurrence``: Q2, the scalar linear RNN, simulated exactly and solved with sympy.
- ``attention``: Q3, weight-free self-attention and the copying demo.
- ``sentiment``: the BERT-GRU IMDB lab (data, model, training, inference).
- ``checks``: the students' self-checks (``check``, ``verdicts``), one module per part.
- ``keys``: answer keys and student handouts from the masters in ``answers/``.
- ``release``: the student release (handouts and this package without instructor code).
- ``staff``: instructor-only answers, the check registry builder, the keys' worked proofs.
- ``cli``: the ``course-utils`` command.

Importing this package does no work: no downloads, no seeding, no heavy imports.
"""

__version__ = "0.1.0"
