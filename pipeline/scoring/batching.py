"""Tokenize once, then cut length-sorted inputs into batches by a padded-token budget.

A forward pass costs roughly ``batch size x longest sequence`` (padding included), so sorting by
length and filling each batch up to a token budget keeps padding small and lets many short
headlines share one pass while a few long summaries get theirs (dynamic padding, as in the
transformers ``DataCollatorWithPadding`` and the "length-grouped" samplers). Padding is on the
right with an attention mask, which is what BERT-family checkpoints are trained with.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass
class Encoded:
    """Token ids of n texts, truncated to ``max_length``, not yet padded.

    Attributes:
        ids: n int64 arrays (special tokens included), each at most ``max_length`` long.
        lengths: ``(n,)`` token counts after truncation.
        truncated: ``(n,)`` True where the text had more than ``max_length`` tokens.
    """

    ids: list[np.ndarray]
    lengths: np.ndarray
    truncated: np.ndarray


def encode(tokenizer, texts: Sequence[str], max_length: int,
           targets: Sequence[str] | None = None) -> Encoded:
    """Tokenize ``texts`` once with truncation and note which were cut.

    With ``targets``, each row is the sentence pair ``(text, target)``, i.e.
    ``[CLS] text [SEP] target [SEP]``: the text judged toward the company named by the
    target (the BERT sentence-pair input of Devlin et al. 2019, as in aspect-based sentiment
    classification, Sun et al. 2019, arXiv:1903.09588). Only the text is ever truncated
    (``only_first``), so the target is always seen whole.

    The overflow rows the fast tokenizer returns for cut texts are only used to flag truncation
    (``overflow_to_sample_mapping`` names the text each row came from), so each text is
    tokenized exactly once.

    Args:
        tokenizer: a Hugging Face fast tokenizer.
        texts: n strings.
        max_length: truncation length in tokens, special tokens included.
        targets: n target strings (company names as the text writes them), or None.

    Returns:
        the :class:`Encoded` texts, in input order.
    """
    n = len(texts)
    if n == 0:
        return Encoded([], np.zeros(0, dtype=np.int64), np.zeros(0, dtype=bool))
    args = (list(texts),) if targets is None else (list(texts), list(targets))
    strategy = True if targets is None else "only_first"
    out = tokenizer(*args, truncation=strategy, max_length=max_length,
                    return_overflowing_tokens=True, return_attention_mask=False,
                    return_token_type_ids=False, verbose=False)
    if "overflow_to_sample_mapping" not in out:  # a slow (Python) tokenizer: count separately
        full = tokenizer(*args, truncation=False, return_length=True, verbose=False)["length"]
        ids = [np.asarray(r, dtype=np.int64)
               for r in tokenizer(*args, truncation=strategy, max_length=max_length,
                                  verbose=False)["input_ids"]]
        lengths = np.fromiter((len(r) for r in ids), dtype=np.int64, count=n)
        return Encoded(ids, lengths, np.asarray(full) > max_length)
    mapping = np.asarray(out["overflow_to_sample_mapping"])
    rows = np.asarray(out["input_ids"], dtype=object)
    first = np.ones(len(mapping), dtype=bool)
    first[1:] = mapping[1:] != mapping[:-1]  # overflow rows follow the row of their text
    ids = [np.asarray(r, dtype=np.int64) for r in rows[first]]
    truncated = np.bincount(mapping, minlength=n) > 1
    lengths = np.fromiter((len(r) for r in ids), dtype=np.int64, count=n)
    return Encoded(ids, lengths, truncated)


def token_budget_batches(lengths: np.ndarray, *, max_tokens: int, max_batch: int) -> list[np.ndarray]:
    """Group indices of length-sorted inputs so each padded batch fits a token budget.

    Args:
        lengths: ``(n,)`` token counts.
        max_tokens: most padded tokens per batch (``rows x longest row``); a single row longer
            than the budget still gets a batch of its own.
        max_batch: most rows per batch.

    Returns:
        index arrays into ``lengths``, shortest inputs first; together they cover each index
        exactly once.

    Raises:
        ValueError: ``max_tokens`` or ``max_batch`` below 1.
    """
    if max_tokens < 1 or max_batch < 1:
        raise ValueError(f"max_tokens and max_batch must be >= 1 (got {max_tokens}, {max_batch})")
    order = np.argsort(np.asarray(lengths), kind="stable")
    batches, start = [], 0
    sorted_lengths = np.asarray(lengths)[order]
    while start < len(order):
        end = start + 1
        # Sorted ascending, so the newest row is the longest: rows x its length is the cost.
        while (end < len(order) and end - start < max_batch
               and (end - start + 1) * sorted_lengths[end] <= max_tokens):
            end += 1
        batches.append(order[start:end])
        start = end
    return batches


def pad_batch(ids: Sequence[np.ndarray], pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    """Right-pad token id arrays to the longest one.

    Args:
        ids: b int arrays.
        pad_id: the tokenizer's padding id.

    Returns:
        ``(input_ids, attention_mask)``, both int64 ``(b, longest)``; the mask is 1 on real
        tokens and 0 on padding.
    """
    width = max(len(r) for r in ids)
    input_ids = np.full((len(ids), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(ids), width), dtype=np.int64)
    for row, tokens in enumerate(ids):
        input_ids[row, :len(tokens)] = tokens
        mask[row, :len(tokens)] = 1
    return input_ids, mask
