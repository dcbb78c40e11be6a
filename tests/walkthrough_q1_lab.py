"""Answers tables for the Q1 and lab walkthroughs (``tests/test_walkthrough.py`` runs them).

Written here, independently of the masters (other code, other spellings): right answers must pass every
check, wrong ones (the classic slips) must fail each with its hint. Prose cells get a placeholder text:
they are marked by a TA, not checked.
"""

from __future__ import annotations

PROSE = "An answer in prose, read off the demo above."
Q1_RIGHT = {
    "11e228dd": PROSE, "21c2d552": PROSE, "82dec9a4": PROSE, "603c9ed6": PROSE,
    "q1-params": ("def conv_parameters(c_in, c_out, k):\n"
                  "    weights = c_out * c_in * k ** 2\n"
                  "    return weights + c_out\n\n\n"
                  "def gru_parameters(width, hidden):\n"
                  "    per_gate = hidden * (width + hidden) + 2 * hidden\n"
                  "    return 3 * per_gate"),
    "q1-rf": "def stack_rows_seen(n_layers, k):\n    rows = 1\n    for _ in range(n_layers):\n        rows += k - 1\n    return rows",
}
Q1_WRONG = {
    **Q1_RIGHT,
    "q1-params": ("def conv_parameters(c_in, c_out, k):\n    return c_in * c_out * k * k  # no bias\n\n\n"
                  "def gru_parameters(width, hidden):\n    return 4 * (hidden * width + hidden * hidden + 2 * hidden)  # an LSTM"),
    "q1-rf": "def stack_rows_seen(n_layers, k):\n    return n_layers * k",
}

LAB_RIGHT = {
    "60f895d7": "vocab_size = len(tokenizer)\nprint(vocab_size)",
    "dfd22231": "tokens = tokenizer.tokenize('Hello WORLD how ARE you?')\nprint(tokens)",
    "cf369247": "ids = [tokenizer.vocab[t] for t in tokens]\nprint(ids)",
    "5dc64a52": "special = [tokenizer.cls_token, tokenizer.sep_token, tokenizer.pad_token, tokenizer.unk_token]\n"
                "special_ids = torch.tensor([tokenizer.convert_tokens_to_ids(t) for t in special])",
    "b783c51c": "split_sizes = [len(data.train.texts), len(data.valid.texts), len(data.test.texts)]",
    "387e46f8": ("votes = [label for text, label in zip(data.train.texts, data.train.labels) if 'wonderful' in text]\n"
                 "pos_label = round(sum(votes) / len(votes))  # most reviews that say 'wonderful' are positive\n"
                 "label_vocab = {'pos': pos_label, 'neg': 1 - pos_label}"),
    "edb7a168": ("bert = load_bert(config.tiny_mode, vocab_size=len(tokenizer), seed=config.seed, name=config.bert_name)\n"
                 "model = BERTGRUSentiment(bert, hidden_dim=config.hidden_dim, output_dim=1, n_layers=2,\n"
                 "                         bidirectional=True, dropout=config.dropout).to(device)"),
    "30165215": "n_params = 0\nfor p in model.parameters():\n    n_params += p.numel()",
    "9fdda125": ("model.bert.requires_grad_(False)\n"
                 "n_trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)"),
    "check-lab-accuracy": ("def binary_accuracy(logits, labels):\n"
                           "    predictions = torch.round(torch.sigmoid(logits))\n"
                           "    return (predictions == labels).sum().item() / len(labels)"),
    "lab-train-epoch": ("def train_epoch(model, batches, optimizer, criterion):\n"
                        "    model.train()\n"
                        "    loss_sum, right, seen = 0.0, 0.0, 0\n"
                        "    for batch in batches:\n"
                        "        optimizer.zero_grad()\n"
                        "        logits = batch_logits(model, batch)\n"
                        "        y = batch.labels.to(logits.device)\n"
                        "        loss = criterion(logits, y)\n"
                        "        loss.backward()\n"
                        "        optimizer.step()\n"
                        "        loss_sum += loss.item() * len(y)\n"
                        "        right += binary_accuracy(logits.detach(), y) * len(y)\n"
                        "        seen += len(y)\n"
                        "    return loss_sum / seen, right / seen"),
    "lab-evaluate": ("@torch.no_grad()\n"
                     "def evaluate(model, batches, criterion):\n"
                     "    model.eval()\n"
                     "    loss_sum, right, seen = 0.0, 0.0, 0\n"
                     "    for batch in batches:\n"
                     "        logits = batch_logits(model, batch)\n"
                     "        y = batch.labels.to(logits.device)\n"
                     "        loss_sum += criterion(logits, y).item() * len(y)\n"
                     "        right += binary_accuracy(logits, y) * len(y)\n"
                     "        seen += len(y)\n"
                     "    return loss_sum / seen, right / seen"),
    "lab-q3d-answer": PROSE,
    "c56a7311": "print(predict_sentiment(model, tokenizer, ['Justice League is terrible. I hated it.', 'Avengers was great!!']))",
    "8ddda753": "print(predict_sentiment(model, tokenizer, ['what a great film', 'it was not good at all']))",
    "lab-q4b-answer": PROSE,
}
LAB_WRONG = {
    **LAB_RIGHT,
    "60f895d7": "vocab_size = len(tokenizer) - 1",
    "cf369247": "ids = tokenizer.encode('Hello WORLD how ARE you?')  # adds [CLS] and [SEP]",
    "5dc64a52": "special_ids = tokenizer.convert_tokens_to_ids(['[PAD]', '[UNK]', '[CLS]', '[SEP]'])",
    "b783c51c": "split_sizes = (len(data.valid), len(data.train), len(data.test))",
    "387e46f8": "label_vocab = {'pos': 0, 'neg': 1}",
    "edb7a168": ("bert = load_bert(config.tiny_mode, vocab_size=len(tokenizer), seed=config.seed, name=config.bert_name)\n"
                 "model = BERTGRUSentiment(bert, config.hidden_dim, config.output_dim, 1, config.bidirectional,\n"
                 "                         config.dropout)  # one GRU layer"),
    "30165215": "n_params = sum(p.numel() for p in model.rnn.parameters())  # the GRU only",
    "9fdda125": "n_trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)  # BERT not frozen",
    "check-lab-accuracy": ("def binary_accuracy(logits, labels):\n"
                           "    return ((logits > 0.5).float() == labels).float().mean().item()  # logits as probabilities"),
    "lab-train-epoch": ("def train_epoch(model, batches, optimizer, criterion):\n"
                        "    model.train()\n"
                        "    losses, accs = [], []\n"
                        "    for batch in batches:\n"
                        "        logits = batch_logits(model, batch)\n"
                        "        loss = criterion(logits, batch.labels)\n"
                        "        optimizer.zero_grad()\n"
                        "        loss.backward()\n"
                        "        optimizer.step()\n"
                        "        losses.append(loss.item())\n"
                        "        accs.append(binary_accuracy(logits.detach(), batch.labels))\n"
                        "    return sum(losses) / len(losses), sum(accs) / len(accs)  # a plain mean of batch means"),
    "lab-evaluate": ("def evaluate(model, batches, criterion):\n"
                     "    total, right, seen = 0.0, 0.0, 0\n"
                     "    with torch.no_grad():\n"
                     "        for batch in batches:\n"
                     "            logits = batch_logits(model, batch)\n"
                     "            total += criterion(torch.round(torch.sigmoid(logits)), batch.labels).item() * len(logits)\n"
                     "            right += binary_accuracy(logits, batch.labels) * len(logits)\n"
                     "            seen += len(logits)\n"
                     "    return total / seen, right / seen  # no model.eval(), loss on rounded probabilities"),
}
CASES = {"01_cnn_vs_rnn": (Q1_RIGHT, Q1_WRONG), "04_bert_gru_sentiment": (LAB_RIGHT, LAB_WRONG)}
# Where an untouched handout stops (Run all): the first cell that needs a blank, and what its one line names.
STOPS = {"01_cnn_vs_rnn": ("2015a390", "write conv_parameters in its cell above (its self-check is q1.conv_parameters)"),
         "02_rnn_recurrence": ("cce5ac98", "write rnn_step in its cell above (its self-check is q2.step)"),
         "03_self_attention": ("q3-error-plot", "write attend in its cell above (its self-check is q3.attention)"),
         "04_bert_gru_sentiment": ("f38d4edb", "write model in its cell above (its self-check is lab.model)")}
LAB_PROMPTS = ('"Hello WORLD how ARE you?"', '"Justice League is terrible. I hated it."', '"Avengers was great!!"',
               "`train_epoch(model, batches, optimizer, criterion)`", "`evaluate(model, batches, criterion)`",
               "hidden size 256", "dropout 0.25", "Mount Drive")  # what the lab handout must state in its prompts
