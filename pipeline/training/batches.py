"""What one training step sees: the epoch's batches of row indices, and token-masked inputs.

Both draw from the fine-tune's own seeded ``torch.Generator`` (never the global RNG), so the same
seed gives the same batches and masks, and the draws stay in the same order from run to run.
"""

from __future__ import annotations

from pipeline.training.arguments import TrainingArguments


def epoch_batches(n: int, lengths, args: TrainingArguments, generator) -> list:
    """Index tensors of one epoch's batches (``ceil(n / batch_size)`` of them): random, or
    random but length-grouped.

    Length grouping (as ``group_by_length`` in Hugging Face's Trainer): shuffle, cut into
    mega-batches of 50 batches, sort each mega-batch by length, cut into batches and shuffle the
    batches. Batches then hold similar lengths, so dynamic padding wastes little compute, while
    batch composition stays random from epoch to epoch.

    Args:
        n: training rows.
        lengths: int tensor ``(n,)``, real (unpadded) tokens per row.
        args: ``batch_size`` and ``group_by_length`` are used.
        generator: the fine-tune's seeded ``torch.Generator`` (one or two ``randperm`` draws).

    Returns:
        a list of int64 index tensors; together they hold every row once.
    """
    import torch

    order = torch.randperm(n, generator=generator)
    if not args.group_by_length:
        return list(torch.split(order, args.batch_size))
    mega = 50 * args.batch_size
    batches = []
    for start in range(0, n, mega):
        chunk = order[start:start + mega]
        chunk = chunk[torch.argsort(lengths[chunk], descending=True, stable=True)]
        batches.extend(chunk[i:i + args.batch_size] for i in range(0, len(chunk), args.batch_size))
    shuffled = torch.randperm(len(batches), generator=generator)
    return [batches[i] for i in shuffled]


def mask_tokens(input_ids, special_ids, mask_id: int, prob: float, generator):
    """Replace each non-special token of ``input_ids`` by ``mask_id`` with probability ``prob``.

    Token cutoff (Shen et al. 2020, arXiv:2009.13818), drawn afresh for every batch.

    Args:
        input_ids: int64 tensor ``(b, t)`` (not modified).
        special_ids: 1-D int64 tensor of ids never replaced ([CLS], [SEP], [PAD], ...).
        mask_id: the replacement id (the tokenizer's ``[MASK]``).
        prob: replacement probability per token, 0 <= prob < 1.
        generator: a seeded ``torch.Generator`` (same seed, same masks).

    Returns:
        a new ``(b, t)`` tensor.
    """
    import torch

    hit = torch.rand(input_ids.shape, generator=generator) < prob
    hit &= ~torch.isin(input_ids, special_ids)
    return torch.where(hit, torch.full_like(input_ids, mask_id), input_ids)
