"""Q3, weight-free self-attention and copying: the scaffold (``attention``) and the question's self-checks
(``checks``)."""
