"""Which weights of the model train, and at which learning rate and weight decay.

Layer-wise learning-rate decay (Howard & Ruder 2018, arXiv:1801.06146; layer numbering as in
Clark et al. 2020, ELECTRA, appendix A), weight decay except on biases and LayerNorm weights
(BERT's recipe), LoRA adapters (Hu et al. 2021), and the head that a linear probe trains alone.
"""

from __future__ import annotations

import re

from pipeline.errors import TrainingError
from pipeline.training.arguments import TrainingArguments

#: Parameter-name endings that get no weight decay (biases and LayerNorm weights).
NO_DECAY = ("bias", "LayerNorm.weight", "layer_norm.weight")


def depth_below_top(name: str, n_layers: int) -> int:
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


def is_head(name: str) -> bool:
    """Whether a parameter belongs to the classification head or the pooler under it."""
    parts = name.split(".")
    return bool({"classifier", "pre_classifier", "pooler"} & set(parts)) or parts[0] == "score"


def with_lora(model, args: TrainingArguments):
    """Wrap ``model`` so that only LoRA adapters and the classification head train.

    Raises:
        TrainingError: the peft package is missing, or the architecture has no known target
            modules for adapters.
    """
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


def count_parameters(model) -> tuple[int, int]:
    """``(trainable, total)`` parameter counts (elements, not tensors)."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return trainable, sum(p.numel() for p in model.parameters())


def optimizer_groups(model, args: TrainingArguments) -> list[dict]:
    """AdamW parameter groups of the trainable weights: one per (learning rate, weight decay).

    A weight ``k`` layers below the top (:func:`depth_below_top`) gets
    ``learning_rate * layer_lr_decay**k``; names ending in :data:`NO_DECAY` get no weight decay.
    Groups come in the order of their first parameter in ``named_parameters()``.

    Returns:
        ``[{"params": [...], "lr": float, "weight_decay": float}, ...]``.
    """
    n_layers = int(getattr(model.config, "num_hidden_layers", 0) or 0)
    buckets: dict[tuple[float, float], list] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        lr = args.learning_rate * args.layer_lr_decay ** depth_below_top(name, n_layers)
        decay = 0.0 if name.endswith(NO_DECAY) else args.weight_decay
        buckets.setdefault((lr, decay), []).append(param)
    return [{"params": params, "lr": lr, "weight_decay": decay}
            for (lr, decay), params in buckets.items()]
