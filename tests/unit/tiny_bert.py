"""Tiny random BERT checkpoints saved locally, for tests that must not download anything."""

from __future__ import annotations

from pathlib import Path

WORDS = """shares stock profit loss beats misses raises cuts guidance dividend upgrade downgrade
rally slump record high low bank fund company market rates inflation jobs growth earnings revenue
outlook forecast quarter annual meeting report results call transcript board appoints officer
bankruptcy default fine recall surge plunge soar tumble jump fall rise sell buy hold analyst
target price approval trial drug miner output sales retail holiday central publishes minutes
policy insurer files regulator securities chief financial new next month effective the a an of to
in on for and after as by with its is are at from than more less""".split()


def save_tiny_bert(path: Path, id2label: dict[int, str], *, seed: int = 0, state=None) -> Path:
    """Save a random 2-layer BERT sequence classifier (hidden size 32) with a word-level vocab.

    Args:
        path: folder to create.
        id2label: the label names in output order (written to config.json).
        seed: torch seed for the random weights.
        state: a state dict to load instead of random weights (to save reorderings).

    Returns:
        ``path``.
    """
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    path.mkdir(parents=True, exist_ok=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]
    (path / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tokenizer = BertTokenizerFast(vocab_file=str(path / "vocab.txt"), do_lower_case=True)
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=128,
                        num_labels=len(id2label), id2label=dict(id2label),
                        label2id={v: k for k, v in id2label.items()})
    torch.manual_seed(seed)
    model = BertForSequenceClassification(config)
    if state is not None:
        model.load_state_dict(state)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
