"""Fine-tune a BERT-family encoder into a 3-class financial sentiment classifier.

The recipe follows the BERT paper's fine-tuning setup (Devlin et al. 2019, section 4 and
appendix A.3: AdamW, linear warmup then linear decay, a few epochs, small learning rates) with
additions for small, imbalanced data: class-weighted cross-entropy (inverse class frequency),
weight decay except on biases and LayerNorm weights, early stopping on validation macro-F1, and
the best epoch's weights kept. Same data + same seed → same metrics on the same hardware.
With ``peft="lora"`` only low-rank adapters and the head train (Hu et al. 2021), which lets a
larger base fit small hardware; the adapters are merged before the model is saved.

:func:`finetune` runs the steps in this order (each a named function): prepare the data
(:func:`require_examples`, :func:`split_data`) → build the model (:func:`build_model`) → set up
the optimiser, loss and seeded generator (:func:`pipeline.training.session.set_up`) → linear
probe (:func:`linear_probe`) → epochs, each evaluated, the best kept (:func:`train_epochs`) →
the model to save (:func:`final_model`). The order of the random draws is part of the recipe: the global RNG is
seeded first and then drawn by the head's initialisation and dropout, the fine-tune's own
generator by batching and token masking.
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from pipeline.domain import LABELS
from pipeline.errors import ModelNotFoundError, TrainingError
from pipeline.training.arguments import TrainingArguments
from pipeline.training.parameters import count_parameters, is_head, with_lora
from pipeline.training.session import FineTuning, set_up


class _StepBar(tqdm):
    """The fine-tune's progress bar, which also reports every step to ``on_step(done, total)``
    (counted here: a disabled tqdm does not count)."""

    def __init__(self, *args, on_step: Callable[[int, int], None] | None = None, **kwargs):
        self._on_step, self._done = on_step, 0
        super().__init__(*args, **kwargs)

    def update(self, n: float | None = 1) -> bool | None:
        self._done += int(n or 0)
        if self._on_step is not None:
            self._on_step(self._done, int(self.total or 0))
        return super().update(n)


@dataclass
class TrainResult:
    """What :func:`finetune` produced: the trained model and tokenizer, and its history."""

    model: Any
    tokenizer: Any
    best_epoch: int
    history: list[dict]
    validation: pd.DataFrame
    seconds: float
    trainable_parameters: int = 0
    total_parameters: int = 0
    split: str = ""
    precision: str = "float32"


#: ``ONEDNN_MAX_CPU_ISA`` values (oneDNN's CPU dispatcher control, docs "CPU Dispatcher
#: Control") at or above the first ISA with native bf16 dot products (AVX512_CORE_BF16).
BF16_ONEDNN_ISAS = frozenset({
    "AVX512_CORE_BF16", "AVX512_CORE_FP16", "AVX10_1_512", "AVX512_CORE_AMX", "AVX10_1_512_AMX",
    "AVX512_CORE_AMX_FP16", "AVX10_1_512_AMX_FP16", "ALL", "DEFAULT"})


def native_bf16(device: str) -> bool:
    """Whether ``device`` computes in bf16 natively, so that bf16 autocast speeds training up.

    CUDA: ``torch.cuda.is_bf16_supported()`` (Ampere and later). CPU: the AVX512-BF16 or AMX
    instruction sets, as reported by ``torch.cpu`` (oneDNN then runs bf16 matrix products in
    hardware; without them bf16 is emulated and slower than float32), unless
    ``ONEDNN_MAX_CPU_ISA`` caps oneDNN below them (oneDNN's documented ISA names,
    :data:`BF16_ONEDNN_ISAS`): that is how a CPU without bf16 is emulated on one with it.

    Args:
        device: a torch device string, ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    """
    import torch

    if device.startswith("cuda"):
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    capped = os.environ.get("ONEDNN_MAX_CPU_ISA", "").strip().upper()
    if capped and capped not in BF16_ONEDNN_ISAS:
        return False  # oneDNN told to stop below the bf16 instructions: bf16 would be emulated
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in probes)


def _macro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(y_true, y_pred, average="macro", labels=[0, 1, 2], zero_division=0))


# ----------------------------------------------------------------------------- 1. prepare data

def require_examples(data: pd.DataFrame) -> None:
    """Refuse data with fewer than 2 rows of some label (nothing to split or learn from).

    Raises:
        TrainingError: names the labels that are too thin.
    """
    counts = data["label"].value_counts()
    thin = [label for label in LABELS if counts.get(label, 0) < 2]
    if thin:
        raise TrainingError(f"each class needs at least 2 examples; too few for {thin}")


def split_data(data: pd.DataFrame, args: TrainingArguments) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """Cut ``data`` into training and validation rows.

    The data's own ``split`` column wins when it marks validation rows (the project corpus
    does); otherwise a stratified ``validation_fraction`` is held out with ``random_state=seed``
    (at least one validation and one training row per class).

    With ``max_train_rows`` set, the training rows are cut to a stratified sample of that many
    (``random_state=seed``); the validation rows stay whole.

    Returns:
        ``(train, validation, how)`` where ``how`` describes the split for the model card.

    Raises:
        TrainingError: too little data to hold rows out, or an empty validation split.
    """
    from sklearn.model_selection import train_test_split

    if "split" in data.columns and data["split"].eq("validation").any():
        train_df, val_df = data[data["split"] != "validation"], data[data["split"] == "validation"]
        split = "the data's own split column"
    else:
        split = f"a stratified {args.validation_fraction:.0%} random split (seed {args.seed})"
        n_val = max(len(LABELS), round(args.validation_fraction * len(data)))
        if len(data) - n_val < len(LABELS):
            raise TrainingError(f"too little data to hold out a validation split: {len(data)} rows")
        train_df, val_df = train_test_split(
            data, test_size=n_val, stratify=data["label"], random_state=args.seed
        )
    if len(val_df) == 0:
        raise TrainingError("validation split is empty; add data or raise validation_fraction")
    if 0 < args.max_train_rows < len(train_df):
        train_df, _ = train_test_split(train_df, train_size=args.max_train_rows,
                                       stratify=train_df["label"], random_state=args.seed)
        split += f"; training on a stratified sample of {args.max_train_rows} rows"
    return train_df, val_df, split


# ------------------------------------------------------------------------------ 2. build model

def build_model(base: str, args: TrainingArguments, device: str) -> tuple[Any, Any]:
    """Load ``base`` with a fresh 3-way head (id2label negative/neutral/positive) on ``device``.

    The head's initialisation draws from the global torch RNG, so call this after seeding.
    With ``peft="lora"`` the model is wrapped in adapters; with ``freeze_embeddings`` the
    word-embedding table stops training.

    Returns:
        ``(tokenizer, model)``.

    Raises:
        ModelNotFoundError: the base model cannot be loaded.
        TrainingError: LoRA was asked for and cannot be added.
    """
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as hf_logging

    # The base has no classification head yet; transformers' "newly initialized" report about
    # it is expected, so keep its logging to errors while loading.
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        tokenizer = AutoTokenizer.from_pretrained(base)
        model = AutoModelForSequenceClassification.from_pretrained(
            base, num_labels=3, id2label=dict(enumerate(LABELS)),
            label2id={label: i for i, label in enumerate(LABELS)},
        )
    except OSError as exc:
        raise ModelNotFoundError(f"cannot load base model {base!r}: {str(exc).splitlines()[0]}") from exc
    finally:
        hf_logging.set_verbosity(verbosity)
    if args.peft == "lora":
        model = with_lora(model, args)
    if args.freeze_embeddings:
        model.get_input_embeddings().weight.requires_grad_(False)
    if args.freeze_layers:
        freeze_lower_layers(model, args.freeze_layers)
    model.to(device)
    return tokenizer, model


def freeze_lower_layers(model, k: int) -> None:
    """Stop the embeddings and the lowest ``k`` encoder layers from training.

    The backward pass then stops above them (no weight gradients there, and none needed for
    their inputs), which saves about ``k / n_layers`` of the backward compute.

    Raises:
        TrainingError: ``k`` exceeds the encoder's layers, or the architecture's layers cannot
            be found (``encoder.layer`` of BERT-family models).
    """
    from pipeline.training.parameters import depth_below_top

    n_layers = int(getattr(model.config, "num_hidden_layers", 0) or 0)
    if k > n_layers:
        raise TrainingError(f"freeze_layers={k}: the base model has only {n_layers} layers")
    names = [n for n, _ in model.named_parameters() if ".layer." in n]
    if not names:
        raise TrainingError("freeze_layers: this base model has no encoder.layer.N parameters")
    for name, param in model.named_parameters():
        if depth_below_top(name, n_layers) > n_layers - k:
            param.requires_grad_(False)


# ----------------------------------------------------------------------------- 4. linear probe

def linear_probe(fit: FineTuning) -> None:
    """Train only the head (and pooler) on the frozen encoder for ``linear_probe_epochs``.

    LP-FT (Kumar et al. 2022, arXiv:2202.10054): a constant-rate AdamW of its own at
    ``linear_probe_lr``; the encoder trains again afterwards, and the moving average (if any)
    starts from the probed weights. No-op when ``linear_probe_epochs`` is 0.
    """
    import torch

    args = fit.args
    if not args.linear_probe_epochs:
        return
    body = [p for n, p in fit.params.items() if not is_head(n)]
    head = [p for n, p in fit.params.items() if is_head(n)]
    for param in body:
        param.requires_grad_(False)
    probe = torch.optim.AdamW(head, lr=args.linear_probe_lr, weight_decay=args.weight_decay)
    for epoch in range(1, args.linear_probe_epochs + 1):
        fit.configure_threads()
        loss = fit.run_epoch(epoch, probe, None, average=False)
        fit.bar.write(f"linear probe epoch {epoch}: train_loss={loss:.4f}")
    for param in body:
        param.requires_grad_(True)
    if fit.ema is not None:  # start the average from the probed head
        for name, param in fit.params.items():
            fit.ema[name].copy_(param.detach())


# ---------------------------------------------------------------- 5. epochs, evaluate, select

@dataclass
class Selection:
    """The fine-tuning epochs' outcome: per-epoch history and the best epoch's weights."""

    history: list[dict]
    best_epoch: int
    best_state: dict | None


def train_epochs(fit: FineTuning, optimizer, scheduler) -> Selection:
    """Fine-tune all weights epoch by epoch; evaluate each; keep the best; stop early.

    After each epoch the validation macro-F1 and accuracy are measured (on the moving average
    when ``ema_decay`` > 0); the epoch with the highest macro-F1 is kept (a copy of its weights
    on the CPU), and training stops after ``patience`` epochs without a gain.

    Returns:
        history rows ``{epoch, train_loss, val_macro_f1, val_accuracy}`` and the best epoch.
    """
    args = fit.args
    history: list[dict] = []
    best_f1, best_epoch, best_state, stale = -1.0, 0, None, 0
    for epoch in range(1, args.epochs + 1):
        fit.configure_threads()
        mean_loss = fit.run_epoch(epoch, optimizer, scheduler, average=True)
        if fit.ema is not None:
            fit.swap_ema()  # evaluate (and keep) the averaged weights
        pred = fit.evaluate()
        f1 = _macro_f1(fit.val_y.numpy(), pred)
        acc = float((pred == fit.val_y.numpy()).mean())
        history.append({"epoch": epoch, "train_loss": mean_loss,
                        "val_macro_f1": f1, "val_accuracy": acc})
        fit.bar.write(f"epoch {epoch}: train_loss={mean_loss:.4f} "
                      f"val_macro_f1={f1:.4f} val_accuracy={acc:.4f}")
        if f1 > best_f1:
            best_f1, best_epoch, stale = f1, epoch, 0
            best_state = copy.deepcopy({k: v.detach().cpu() for k, v in fit.model.state_dict().items()})
        else:
            stale += 1
        if fit.ema is not None:
            fit.swap_ema()  # back to the live weights to go on training
        if stale >= args.patience:
            fit.bar.write(f"early stopping: no macro-F1 gain for {args.patience} epochs")
            break
    return Selection(history, best_epoch, best_state)


# ------------------------------------------------------------------------------------ 6. save

def final_model(fit: FineTuning, selection: Selection):
    """The model to save: the best epoch's weights, LoRA adapters merged, in eval mode on the CPU."""
    model = fit.model
    if selection.best_state is not None:
        model.load_state_dict(selection.best_state)
    if fit.args.peft == "lora":
        # Fold the adapters into the weights: the registry stores a plain checkpoint that loads
        # (and scores as fast) as a fully fine-tuned one.
        model = model.merge_and_unload()
    model.eval()
    return model.cpu()


def finetune(
    data: pd.DataFrame, *, base: str, args: TrainingArguments, progress: bool = True,
    device: str | None = None, on_step: Callable[[int, int], None] | None = None,
) -> TrainResult:
    """Fine-tune ``base`` on ``data``.

    Args:
        data: rows ``(text, label)`` with labels in :data:`pipeline.domain.LABELS`.
        base: local directory or hub id of a BERT-family encoder (a fresh classification head
            with id2label negative/neutral/positive is added).
        args: hyper-parameters.
        progress: show a progress bar with loss and ETA.
        device: ``"cpu"`` / ``"cuda"``; default CUDA when available.
        on_step: called as ``on_step(steps_done, total_steps)`` after every optimiser step of
            the linear probe and the epochs (e.g. :meth:`pipeline.training.status.StatusWriter.progress`).

    Returns:
        the model of the best validation epoch, its tokenizer and the per-epoch history;
        ``seconds`` counts the training steps and evaluations (not the loading).

    Raises:
        TrainingError: a class has fewer than 2 examples, or no validation rows.
        ModelNotFoundError: the base model cannot be loaded.
    """
    import torch
    from transformers import set_seed

    require_examples(data)
    set_seed(args.seed)
    train_df, val_df, split = split_data(data, args)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    tokenizer, model = build_model(base, args, device)
    n_trainable, n_total = count_parameters(model)
    fit, optimizer, scheduler = set_up(model, tokenizer, train_df, val_df, args, device,
                                       use_bf16=args.bf16 and native_bf16(device))
    started = time.monotonic()
    fit.bar = _StepBar(total=fit.steps_per_epoch * (args.linear_probe_epochs + args.epochs),
                       desc="fine-tuning", unit="step", disable=not progress, on_step=on_step)
    model.train()
    linear_probe(fit)
    selection = train_epochs(fit, optimizer, scheduler)
    fit.bar.close()
    return TrainResult(final_model(fit, selection), tokenizer, selection.best_epoch,
                       selection.history, val_df.reset_index(drop=True),
                       time.monotonic() - started, n_trainable, n_total, split,
                       "bf16 autocast" if fit.use_bf16 else "float32")
