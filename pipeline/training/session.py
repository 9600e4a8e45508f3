"""One fine-tune in progress: the encoded data, optimiser, loss, generator and the step loop.

:func:`set_up` builds a :class:`FineTuning` from a loaded model and the two splits; its
:meth:`~FineTuning.run_epoch`, :meth:`~FineTuning.evaluate` and :meth:`~FineTuning.swap_ema`
are what the steps of :func:`pipeline.training.finetune.finetune` (linear probe, epochs) call.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pipeline.errors import TrainingError
from pipeline.scoring.preprocess import model_input, target_input
from pipeline.training.arguments import TrainingArguments
from pipeline.training.batches import epoch_batches, mask_tokens
from pipeline.training.datasets import label_ids
from pipeline.training.parameters import optimizer_groups


def torch_device_type(device: str) -> str:
    """``"cpu"`` or ``"cuda"`` of a device string such as ``"cuda:1"``."""
    return device.split(":", 1)[0]


def encode_rows(tokenizer, frame: pd.DataFrame, max_length: int) -> tuple[Any, Any]:
    """Tokenize ``frame``'s texts (links removed, truncated, padded to the longest).

    A row with a ``target`` (a company-level row) becomes the pair ``(text with the target
    marked, target)`` (:func:`pipeline.scoring.preprocess.target_input`), exactly as scoring
    builds it; others are single texts. No token-type ids are passed (the scoring backends pass none either, so every
    token is segment 0 in training and in scoring alike).

    Returns:
        ``(encoding, labels)``: tensors ``(n, t)`` (``input_ids``, ``attention_mask``), and
        int64 labels ``(n,)``.
    """
    import torch

    texts = [model_input(t) for t in frame["text"]]
    targets = list(frame["target"]) if "target" in frame.columns else [None] * len(texts)
    ids: list[list[int] | None] = [None] * len(texts)
    # Article-level rows have no target: None, or NaN once pandas has held the column.
    paired = [i for i, t in enumerate(targets) if isinstance(t, str) and t.strip()]
    single = sorted(set(range(len(texts))) - set(paired))
    if single:
        rows = tokenizer([texts[i] for i in single], truncation=True, max_length=max_length,
                         return_token_type_ids=False)["input_ids"]
        for i, row in zip(single, rows, strict=True):
            ids[i] = row
    if paired:
        pairs = [target_input(frame["text"].iloc[i], targets[i]) for i in paired]
        rows = tokenizer([t for t, _ in pairs], [g for _, g in pairs],
                         truncation="only_first", max_length=max_length,
                         return_token_type_ids=False)["input_ids"]
        for i, row in zip(paired, rows, strict=True):
            ids[i] = row
    enc = tokenizer.pad({"input_ids": ids}, padding=True, return_tensors="pt")
    return enc, torch.tensor(label_ids(frame["label"]))


@dataclass
class FineTuning:
    """One fine-tune in progress: the model, its encoded data and what every step needs.

    Attributes:
        train_enc, val_enc: tokenized splits, tensors ``(n, t)`` by input name.
        train_y, val_y: int64 labels ``(n,)`` in :data:`pipeline.domain.LABELS` order.
        lengths: real tokens per training row ``(n_train,)``, for length grouping.
        steps_per_epoch: ``ceil(n_train / batch_size)``.
        generator: the seeded ``torch.Generator`` of batching and token masking.
        params: the trainable parameters by name (those the EMA follows).
        ema: their moving average by name, or None (``ema_decay`` 0).
        special, mask_id: ids never masked, and the id masked tokens become.
        bar: the progress bar of all steps (set by :func:`finetune`).
    """

    model: Any
    args: TrainingArguments
    device: str
    train_enc: Any
    train_y: Any
    val_enc: Any
    val_y: Any
    lengths: Any
    steps_per_epoch: int
    loss_fn: Any
    use_bf16: bool
    generator: Any
    params: dict[str, Any]
    ema: dict[str, Any] | None
    special: Any
    mask_id: int | None
    bar: Any = None

    def _autocast(self):
        import torch

        return torch.autocast(torch.device(self.device).type, dtype=torch.bfloat16,
                              enabled=self.use_bf16)

    def configure_threads(self) -> int | None:
        """On the CPU, set torch's intra-op threads by the thread policy
        (:func:`pipeline.scoring.threads.configure_cpu_threads`: one per core other work leaves
        free, or ``TONEWATCH_THREADS``) and return the count; None elsewhere. Called before each
        epoch, so that training follows load that starts or ends while it runs (the sample
        costs 0.25 s).
        """
        if torch_device_type(self.device) != "cpu":
            return None
        from pipeline.scoring.threads import configure_cpu_threads

        return configure_cpu_threads()

    def run_epoch(self, epoch: int, optimizer, scheduler, average: bool,
                  max_steps: int | None = None) -> float:
        """One pass over the training rows; returns the mean training loss.

        Args:
            optimizer, scheduler: what steps (``scheduler`` None: a constant rate).
            average: update the weights' moving average after each step.
            max_steps: stop after this many batches (``bench/training.py --speed`` times a few
                steps); None = the whole epoch.
        """
        import torch

        args = self.args
        batches = epoch_batches(len(self.train_y), self.lengths, args, self.generator)
        batches = batches[:max_steps] if max_steps is not None else batches
        running = 0.0
        for step, idx in enumerate(batches):
            batch = {k: v[idx] for k, v in self.train_enc.items()}
            # Trim padding to the longest example in this batch (dynamic padding).
            width = int(batch["attention_mask"].sum(dim=1).max())
            batch = {k: v[:, :width] for k, v in batch.items()}
            if args.token_mask_prob > 0:
                batch["input_ids"] = mask_tokens(batch["input_ids"], self.special, self.mask_id,
                                                 args.token_mask_prob, self.generator)
            batch = {k: v.to(self.device) for k, v in batch.items()}
            with self._autocast():
                logits = self.model(**batch).logits
            loss = self.loss_fn(logits.float(), self.train_y[idx].to(self.device))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            if average and self.ema is not None:
                with torch.no_grad():
                    for name, param in self.params.items():
                        self.ema[name].lerp_(param.detach(), 1.0 - args.ema_decay)
            running += loss.item()
            self.bar.update(1)
            self.bar.set_postfix(epoch=epoch, loss=f"{running / (step + 1):.4f}")
        return running / len(batches)

    def evaluate(self) -> np.ndarray:
        """Predicted label ids ``(n_val,)`` of the validation rows (the model back in train mode)."""
        import torch

        self.model.eval()
        preds = []
        size = self.args.eval_batch_size
        with torch.inference_mode():
            for start in range(0, len(self.val_y), size):
                batch = {k: v[start:start + size].to(self.device) for k, v in self.val_enc.items()}
                with self._autocast():
                    preds.append(self.model(**batch).logits.float().argmax(-1).cpu().numpy())
        self.model.train()
        return np.concatenate(preds)

    def swap_ema(self) -> None:
        """Exchange the live weights with their moving average (call twice to undo)."""
        import torch

        with torch.no_grad():
            for name, param in self.params.items():
                live = param.detach().clone()
                param.copy_(self.ema[name])
                self.ema[name].copy_(live)


def set_up(model, tokenizer, train_df: pd.DataFrame, val_df: pd.DataFrame,
           args: TrainingArguments, device: str, use_bf16: bool) -> tuple[FineTuning, Any, Any]:
    """Encode both splits; build the optimiser, schedule, loss, seeded generator and EMA.

    Args:
        use_bf16: run forward passes under bf16 autocast
            (:func:`pipeline.training.finetune.native_bf16` decides).

    The optimiser has one AdamW group per learning rate and decay
    (:func:`pipeline.training.parameters.optimizer_groups`); the schedule warms up linearly over
    ``warmup_ratio`` of all fine-tuning steps, then decays linearly to 0. Class weights are
    inverse class frequencies, ``n / (3 * count)`` (count floored at 1).

    Returns:
        ``(fine_tuning, optimizer, scheduler)``.

    Raises:
        TrainingError: token masking is on and the tokenizer has neither a mask nor an unknown
            token.
    """
    import torch
    from transformers import get_linear_schedule_with_warmup

    train_enc, train_y = encode_rows(tokenizer, train_df, args.max_length)
    val_enc, val_y = encode_rows(tokenizer, val_df, args.max_length)
    steps_per_epoch = math.ceil(len(train_y) / args.batch_size)
    total_steps = steps_per_epoch * args.epochs
    optimizer = torch.optim.AdamW(optimizer_groups(model, args), lr=args.learning_rate)
    scheduler = get_linear_schedule_with_warmup(
        optimizer, int(args.warmup_ratio * total_steps), total_steps
    )
    if args.class_weighting:
        freq = np.bincount(train_y.numpy(), minlength=3).astype(np.float64)
        weights = torch.tensor(freq.sum() / (3 * np.maximum(freq, 1)), dtype=torch.float32)
    else:
        weights = None
    loss_fn = torch.nn.CrossEntropyLoss(weight=weights.to(device) if weights is not None else None,
                                        label_smoothing=args.label_smoothing)
    params = {n: p for n, p in model.named_parameters() if p.requires_grad}
    # Token ids never masked: [CLS], [SEP], [PAD] and the other special tokens.
    special = torch.tensor(sorted(set(tokenizer.all_special_ids)), dtype=torch.long)
    mask_id = tokenizer.mask_token_id if tokenizer.mask_token_id is not None else tokenizer.unk_token_id
    if args.token_mask_prob > 0 and mask_id is None:
        raise TrainingError("token_mask_prob needs a tokenizer with a mask or unknown token")
    fit = FineTuning(
        model=model, args=args, device=device, train_enc=train_enc, train_y=train_y,
        val_enc=val_enc, val_y=val_y, lengths=train_enc["attention_mask"].sum(dim=1),
        steps_per_epoch=steps_per_epoch, loss_fn=loss_fn,
        use_bf16=use_bf16,
        generator=torch.Generator().manual_seed(args.seed), params=params,
        ema=({n: p.detach().clone() for n, p in params.items()} if args.ema_decay > 0 else None),
        special=special, mask_id=mask_id,
    )
    return fit, optimizer, scheduler
