"""Q2, a scalar linear RNN's last step: the scaffold (``recurrence``) and the question's self-checks (``checks``)."""
