"""Q1, CNNs vs RNNs for image classification: the demos (``cnn_vs_rnn``, ``convolution``, ``latency``)
and the question's self-checks (``checks``)."""
