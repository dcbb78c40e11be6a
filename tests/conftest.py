"""Shared fixtures for the unit tests."""

import pytest
import torch


@pytest.fixture
def one_thread():
    """Run torch on one intra-op thread: tiny models are faster so, far faster on a busy 2-core
    machine, and no result here depends on the thread count."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def saved_tiny_bert(tmp_path_factory):
    """A checkpoint folder as ``save_pretrained`` writes it (config, weights, fast tokenizer), holding the
    seeded tiny BERT and the tiny vocabulary: a pre-trained encoder's path through the code, offline."""
    from transformers import BertModel

    from course_utils.lab import model, text

    folder = tmp_path_factory.mktemp("saved-tiny-bert")
    tiny = model.load_bert(True, seed=5)  # a TinyBert: BertModel's parameters, which BertModel saves
    bert = BertModel(model.tiny_bert_config(tiny.config.vocab_size))
    bert.load_state_dict(tiny.state_dict())
    bert.save_pretrained(folder)
    text.load_tokenizer(True).save_pretrained(folder)
    return folder
