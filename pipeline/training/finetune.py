"""Fine-tune a BERT-family encoder into a 3-class financial sentiment classifier.

The recipe follows the BERT paper's fine-tuning setup (Devlin et al. 2019, section 4 and
appendix A.3: AdamW, linear warmup then linear decay, a few epochs, small learning rates) with
additions for small, imbalanced data: class-weighted cross-entropy (inverse class frequency),
weight decay except on biases and LayerNorm weights, early stopping on validation macro-F1, and
the best epoch's weights kept. Same data + same seed → same metrics on the same hardware.
With ``peft="lora"`` only low-rank adapters and the head train (Hu et al. 2021), which lets a
larger base fit small hardware; the adapters are merged before the model is saved.
"""

from __future__ import annotations

import copy
import json
import math
import re
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from pipeline.domain import LABELS
from pipeline.errors import ConfigError, ModelNotFoundError, TrainingError
from pipeline.scoring.preprocess import model_input
from pipeline.training.datasets import label_ids


# Annotation of a TrainingArguments field → (Python type its value must have, how to say it).
_ARGUMENT_TYPES = {"bool": (bool, "true or false"), "int": (int, "an integer"),
                   "float": (float, "a number"), "str": (str, "a string")}


@dataclass
class TrainingArguments:
    """Hyper-parameters of :func:`finetune`; loadable from JSON with :meth:`from_json`."""

    learning_rate: float = field(default=1e-4, metadata={"help": "Peak AdamW learning rate."})
    epochs: int = field(default=10, metadata={
        "help": "Maximum epochs (early stopping may end sooner). 10, not 6, for the default model: "
                "6 scored the same on the development set but missed clear negatives of the sample "
                "feeds (README, the development-set table)."})
    batch_size: int = field(default=32, metadata={"help": "Training examples per step."})
    eval_batch_size: int = field(default=64, metadata={"help": "Examples per evaluation forward pass."})
    max_length: int = field(default=64, metadata={"help": "Tokens per example; headlines fit in 64."})
    warmup_ratio: float = field(default=0.1, metadata={"help": "Fraction of steps of linear warmup."})
    weight_decay: float = field(default=0.01, metadata={"help": "AdamW decoupled weight decay."})
    class_weighting: bool = field(default=True, metadata={"help": "Inverse-frequency class weights in the loss."})
    layer_lr_decay: float = field(default=1.0, metadata={
        "help": "Layer-wise learning-rate decay: layer k below the top trains at "
                "learning_rate * decay**k (Howard & Ruder 2018, arXiv:1801.06146; Sun et al. 2019, "
                "arXiv:1905.05583). 1.0 = one rate for all."})
    ema_decay: float = field(default=0.0, metadata={
        "help": "Keep an exponential moving average of the weights with this decay per step "
                "(e.g. 0.999), evaluate and save it (Polyak & Juditsky 1992; Izmailov et al. "
                "2018, arXiv:1803.05407). 0 = off."})
    label_smoothing: float = field(default=0.1, metadata={
        "help": "Cross-entropy label smoothing (Szegedy et al. 2016, arXiv:1512.00567); "
                "softens overconfident fits to noisy labels."})
    token_mask_prob: float = field(default=0.15, metadata={
        "help": "Training-time augmentation: each real (non-special) token of a training batch is "
                "replaced by the tokenizer's mask token with this probability, drawn afresh every "
                "step (token cutoff, Shen et al. 2020, arXiv:2009.13818; word dropout, Iyyer et al. "
                "2015). Stops a small corpus's names and keywords from deciding labels alone. "
                "0 = off."})
    freeze_embeddings: bool = field(default=True, metadata={
        "help": "Keep the pre-trained word-embedding table fixed, so words seen only in a few "
                "training rows (company names) cannot move towards one label."})
    linear_probe_epochs: int = field(default=2, metadata={
        "help": "Epochs of training only the classification head (and pooler) on the frozen "
                "encoder before full fine-tuning (LP-FT, Kumar et al. 2022, arXiv:2202.10054: a "
                "trained head distorts the pre-trained features less, which helps on text unlike "
                "the training data). 0 = off."})
    linear_probe_lr: float = field(default=1e-3, metadata={
        "help": "Constant AdamW learning rate of the head during the linear-probe epochs."})
    group_by_length: bool = field(default=True, metadata={
        "help": "Batch examples of similar token length together (less padding, faster on CPU)."})
    patience: int = field(default=3, metadata={"help": "Epochs without macro-F1 gain before stopping."})
    validation_fraction: float = field(default=0.1, metadata={"help": "Stratified held-out share for early stopping."})
    seed: int = field(default=13, metadata={"help": "Seed for split, initialisation and shuffling."})
    bf16: bool = field(default=True, metadata={
        "help": "bf16 autocast (mixed precision, float32 master weights) where the hardware runs "
                "bf16 natively: CUDA GPUs with bf16 support, and CPUs with AVX512-BF16 or AMX "
                "(about 2x faster training on such a CPU). Ignored elsewhere."})
    peft: str = field(default="none", metadata={
        "help": "'none' fine-tunes all weights; 'lora' trains low-rank adapters on the attention "
                "query/value projections plus the classification head (Hu et al. 2021, "
                "arXiv:2106.09685), merged into the weights at the end."})
    lora_r: int = field(default=16, metadata={"help": "LoRA rank r."})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA scaling alpha (update scaled by alpha/r)."})
    lora_dropout: float = field(default=0.1, metadata={"help": "Dropout on the LoRA branch."})

    def __post_init__(self) -> None:
        for spec in fields(self):
            value, kind = getattr(self, spec.name), spec.type
            if kind == "float" and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
                setattr(self, spec.name, value)
            if kind not in _ARGUMENT_TYPES:  # an annotation this check does not know
                continue
            wanted, what = _ARGUMENT_TYPES[kind]
            if not isinstance(value, wanted) or (wanted is int and isinstance(value, bool)):
                raise ConfigError(f"training argument {spec.name} must be {what}, got {value!r}")
        if self.peft not in ("none", "lora"):
            raise ConfigError(f"training argument peft={self.peft!r}: use 'none' or 'lora'")
        for name in ("learning_rate", "epochs", "batch_size", "eval_batch_size", "max_length"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"training argument {name} must be > 0, got {getattr(self, name)!r}")
        if not 0 < self.layer_lr_decay <= 1:
            raise ConfigError("training argument layer_lr_decay must be in (0, 1]")
        if not 0 <= self.ema_decay < 1:
            raise ConfigError("training argument ema_decay must be in [0, 1)")
        if not 0 <= self.label_smoothing < 1:
            raise ConfigError("training argument label_smoothing must be in [0, 1)")
        if self.linear_probe_epochs < 0 or self.linear_probe_lr <= 0:
            raise ConfigError("training arguments linear_probe_epochs must be >= 0 and "
                              "linear_probe_lr > 0")
        if not 0 <= self.token_mask_prob < 1:
            raise ConfigError("training argument token_mask_prob must be in [0, 1)")
        if not 0 < self.validation_fraction < 1:
            raise ConfigError("training argument validation_fraction must be in (0, 1)")

    @classmethod
    def from_json(cls, path: str | Path) -> "TrainingArguments":
        """Read arguments from a JSON object; unknown keys are an error.

        Raises:
            ConfigError: unreadable file, invalid JSON or an unknown key.
        """
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"cannot read training config {path}: {exc}") from exc
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: expected a JSON object of training arguments")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"{path}: unknown training argument(s) {unknown}; known: {sorted(known)}")
        try:
            return cls(**data)
        except TypeError as exc:
            raise ConfigError(f"{path}: {exc}") from exc

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (stored next to the model)."""
        return asdict(self)


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


def _epoch_batches(n: int, lengths, args: "TrainingArguments", generator) -> list:
    """Index tensors of one epoch's batches (``ceil(n / batch_size)`` of them): random, or
    random but length-grouped.

    Length grouping (as ``group_by_length`` in Hugging Face's Trainer): shuffle, cut into
    mega-batches of 50 batches, sort each mega-batch by length, cut into batches and shuffle the
    batches. Batches then hold similar lengths, so dynamic padding wastes little compute, while
    batch composition stays random from epoch to epoch.
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


def _depth_below_top(name: str, n_layers: int) -> int:
    """How many layers below the top a parameter sits, for layer-wise learning-rate decay.

    The classification head and pooler are 0, encoder layer ``i`` is ``n_layers - i``, the
    embeddings are ``n_layers + 1`` (the convention of Clark et al. 2020, ELECTRA, appendix A).
    """
    match = re.search(r"\.layer\.(\d+)\.", name)
    if match:
        return n_layers - int(match.group(1))
    if "embeddings" in name:
        return n_layers + 1
    return 0


def _with_lora(model, args: TrainingArguments):
    """Wrap ``model`` so that only LoRA adapters and the classification head train."""
    try:
        from peft import LoraConfig, TaskType, get_peft_model
    except ImportError as exc:
        raise TrainingError("--peft lora needs the peft package: pip install peft") from exc
    config = LoraConfig(task_type=TaskType.SEQ_CLS, r=args.lora_r, lora_alpha=args.lora_alpha,
                        lora_dropout=args.lora_dropout)
    try:
        return get_peft_model(model, config)
    except ValueError as exc:  # no known target modules for this architecture
        raise TrainingError(f"cannot add LoRA adapters to this base model: {exc}") from exc


def _macro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(y_true, y_pred, average="macro", labels=[0, 1, 2], zero_division=0))


def _is_head(name: str) -> bool:
    """Whether a parameter belongs to the classification head or the pooler under it."""
    parts = name.split(".")
    return bool({"classifier", "pre_classifier", "pooler"} & set(parts)) or parts[0] == "score"


def mask_tokens(input_ids, special_ids, mask_id: int, prob: float, generator):
    """Replace each non-special token of ``input_ids`` by ``mask_id`` with probability ``prob``.

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


def native_bf16(device: str) -> bool:
    """Whether ``device`` computes in bf16 natively, so that bf16 autocast speeds training up.

    CUDA: ``torch.cuda.is_bf16_supported()`` (Ampere and later). CPU: the AVX512-BF16 or AMX
    instruction sets, as reported by ``torch.cpu`` (oneDNN then runs bf16 matrix products in
    hardware; without them bf16 is emulated and slower than float32).

    Args:
        device: a torch device string, ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    """
    import torch

    if device.startswith("cuda"):
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in probes)


def finetune(
    data: pd.DataFrame, *, base: str, args: TrainingArguments, progress: bool = True,
    device: str | None = None,
) -> TrainResult:
    """Fine-tune ``base`` on ``data``.

    Args:
        data: rows ``(text, label)`` with labels in :data:`pipeline.domain.LABELS`.
        base: local directory or hub id of a BERT-family encoder (a fresh classification head
            with id2label negative/neutral/positive is added).
        args: hyper-parameters.
        progress: show a progress bar with loss and ETA.
        device: ``"cpu"`` / ``"cuda"``; default CUDA when available.

    Returns:
        the model of the best validation epoch, its tokenizer and the per-epoch history.

    Raises:
        TrainingError: a class has fewer than 2 examples, or no validation rows.
        ModelNotFoundError: the base model cannot be loaded.
    """
    import torch
    from sklearn.model_selection import train_test_split
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        get_linear_schedule_with_warmup,
        set_seed,
    )

    counts = data["label"].value_counts()
    thin = [label for label in LABELS if counts.get(label, 0) < 2]
    if thin:
        raise TrainingError(f"each class needs at least 2 examples; too few for {thin}")
    set_seed(args.seed)
    if "split" in data.columns and data["split"].eq("validation").any():
        # The data says which rows are held out (the project corpus does): use that split.
        train_df, val_df = data[data["split"] != "validation"], data[data["split"] == "validation"]
        split = "the data's own split column"
    else:
        split = f"a stratified {args.validation_fraction:.0%} random split (seed {args.seed})"
        # At least one validation row per class, and at least one training row per class.
        n_val = max(len(LABELS), round(args.validation_fraction * len(data)))
        if len(data) - n_val < len(LABELS):
            raise TrainingError(f"too little data to hold out a validation split: {len(data)} rows")
        train_df, val_df = train_test_split(
            data, test_size=n_val, stratify=data["label"], random_state=args.seed
        )
    if len(val_df) == 0:
        raise TrainingError("validation split is empty; add data or raise validation_fraction")

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    # The base has no classification head yet; transformers' "newly initialized" report about
    # it is expected, so keep its logging to errors while loading.
    from transformers.utils import logging as hf_logging

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
        model = _with_lora(model, args)
    if args.freeze_embeddings:
        model.get_input_embeddings().weight.requires_grad_(False)
    model.to(device)

    def encode(frame: pd.DataFrame) -> tuple[dict, torch.Tensor]:
        enc = tokenizer([model_input(t) for t in frame["text"]], truncation=True, max_length=args.max_length,
                        padding=True, return_tensors="pt")
        return enc, torch.tensor(label_ids(frame["label"]))

    train_enc, train_y = encode(train_df)
    val_enc, val_y = encode(val_df)
    n_train = len(train_y)
    lengths = train_enc["attention_mask"].sum(dim=1)
    steps_per_epoch = math.ceil(n_train / args.batch_size)
    total_steps = steps_per_epoch * args.epochs

    no_decay = ("bias", "LayerNorm.weight", "layer_norm.weight")
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    n_trainable = sum(p.numel() for _, p in trainable)
    n_total = sum(p.numel() for p in model.parameters())
    n_layers = int(getattr(model.config, "num_hidden_layers", 0) or 0)
    buckets: dict[tuple[float, float], list] = {}
    for name, param in trainable:
        lr = args.learning_rate * args.layer_lr_decay ** _depth_below_top(name, n_layers)
        decay = 0.0 if name.endswith(no_decay) else args.weight_decay
        buckets.setdefault((lr, decay), []).append(param)
    groups = [{"params": params, "lr": lr, "weight_decay": decay}
              for (lr, decay), params in buckets.items()]
    optimizer = torch.optim.AdamW(groups, lr=args.learning_rate)
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
    use_bf16 = args.bf16 and native_bf16(device)
    autocast_device = torch.device(device).type
    generator = torch.Generator().manual_seed(args.seed)

    def evaluate() -> np.ndarray:
        model.eval()
        preds = []
        with torch.inference_mode():
            for start in range(0, len(val_y), args.eval_batch_size):
                batch = {k: v[start:start + args.eval_batch_size].to(device) for k, v in val_enc.items()}
                with torch.autocast(autocast_device, dtype=torch.bfloat16, enabled=use_bf16):
                    preds.append(model(**batch).logits.float().argmax(-1).cpu().numpy())
        model.train()
        return np.concatenate(preds)

    params = {n: p for n, p in model.named_parameters() if p.requires_grad}
    ema = ({n: p.detach().clone() for n, p in params.items()} if args.ema_decay > 0 else None)

    def swap_ema() -> None:
        """Exchange the live weights with their moving average (call twice to undo)."""
        with torch.no_grad():
            for name, param in params.items():
                live = param.detach().clone()
                param.copy_(ema[name])
                ema[name].copy_(live)

    # Token ids never masked: [CLS], [SEP], [PAD] and the other special tokens.
    special = torch.tensor(sorted(set(tokenizer.all_special_ids)), dtype=torch.long)
    mask_id = tokenizer.mask_token_id if tokenizer.mask_token_id is not None else tokenizer.unk_token_id
    if args.token_mask_prob > 0 and mask_id is None:
        raise TrainingError("token_mask_prob needs a tokenizer with a mask or unknown token")
    history: list[dict] = []
    best_f1, best_epoch, best_state, stale = -1.0, 0, None, 0
    started = time.monotonic()
    probe_steps = steps_per_epoch * args.linear_probe_epochs
    bar = tqdm(total=probe_steps + total_steps, desc="fine-tuning", unit="step", disable=not progress)

    def run_epoch(epoch: int, step_optimizer, step_scheduler, average: bool) -> float:
        """One pass over the training rows; returns the mean training loss."""
        batches = _epoch_batches(n_train, lengths, args, generator)
        running = 0.0
        for step, idx in enumerate(batches):
            batch = {k: v[idx] for k, v in train_enc.items()}
            # Trim padding to the longest example in this batch (dynamic padding).
            width = int(batch["attention_mask"].sum(dim=1).max())
            batch = {k: v[:, :width] for k, v in batch.items()}
            if args.token_mask_prob > 0:
                batch["input_ids"] = mask_tokens(batch["input_ids"], special, mask_id,
                                                 args.token_mask_prob, generator)
            batch = {k: v.to(device) for k, v in batch.items()}
            with torch.autocast(autocast_device, dtype=torch.bfloat16, enabled=use_bf16):
                logits = model(**batch).logits
            loss = loss_fn(logits.float(), train_y[idx].to(device))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            step_optimizer.step()
            if step_scheduler is not None:
                step_scheduler.step()
            step_optimizer.zero_grad(set_to_none=True)
            if average and ema is not None:
                with torch.no_grad():
                    for name, param in params.items():
                        ema[name].lerp_(param.detach(), 1.0 - args.ema_decay)
            running += loss.item()
            bar.update(1)
            bar.set_postfix(epoch=epoch, loss=f"{running / (step + 1):.4f}")
        return running / len(batches)

    model.train()
    if args.linear_probe_epochs:
        body = [p for n, p in params.items() if not _is_head(n)]
        head = [p for n, p in params.items() if _is_head(n)]
        for param in body:
            param.requires_grad_(False)
        probe = torch.optim.AdamW(head, lr=args.linear_probe_lr, weight_decay=args.weight_decay)
        for epoch in range(1, args.linear_probe_epochs + 1):
            loss = run_epoch(epoch, probe, None, average=False)
            bar.write(f"linear probe epoch {epoch}: train_loss={loss:.4f}")
        for param in body:
            param.requires_grad_(True)
        if ema is not None:  # start the average from the probed head
            for name, param in params.items():
                ema[name].copy_(param.detach())
    for epoch in range(1, args.epochs + 1):
        mean_loss = run_epoch(epoch, optimizer, scheduler, average=True)
        if ema is not None:
            swap_ema()  # evaluate (and keep) the averaged weights
        pred = evaluate()
        f1 = _macro_f1(val_y.numpy(), pred)
        acc = float((pred == val_y.numpy()).mean())
        history.append({"epoch": epoch, "train_loss": mean_loss,
                        "val_macro_f1": f1, "val_accuracy": acc})
        bar.write(f"epoch {epoch}: train_loss={mean_loss:.4f} "
                  f"val_macro_f1={f1:.4f} val_accuracy={acc:.4f}")
        if f1 > best_f1:
            best_f1, best_epoch, stale = f1, epoch, 0
            best_state = copy.deepcopy({k: v.detach().cpu() for k, v in model.state_dict().items()})
        else:
            stale += 1
        if ema is not None:
            swap_ema()  # back to the live weights to go on training
        if stale >= args.patience:
            bar.write(f"early stopping: no macro-F1 gain for {args.patience} epochs")
            break
    bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    if args.peft == "lora":
        # Fold the adapters into the weights: the registry stores a plain checkpoint that loads
        # (and scores as fast) as a fully fine-tuned one.
        model = model.merge_and_unload()
    model.eval()
    return TrainResult(model.cpu(), tokenizer, best_epoch, history,
                       val_df.reset_index(drop=True), time.monotonic() - started,
                       n_trainable, n_total, split, "bf16 autocast" if use_bf16 else "float32")
