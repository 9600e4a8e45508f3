"""Model life cycle on tiny random BERTs: label orders, training, LoRA, registry, canary, promotion."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from pipeline.domain import LABELS
from pipeline.errors import (
    ConfigError, LabelMappingError, ModelNotFoundError, TrainingError,
)
from pipeline.scoring.canary import CANARY, run_canary
from pipeline.scoring.classifier import SentimentClassifier
from pipeline.training.arguments import TrainingArguments
from pipeline.training.finetune import finetune, native_bf16
from tests.unit.tiny_bert import save_tiny_bert

TEXTS = [
    "shares plunge after profit misses", "bank fund cuts dividend", "stock tumble on recall",
    "company files bankruptcy", "analyst downgrade sell target", "shares soar on record profit",
    "bank raises dividend", "analyst upgrade buy target", "stock jump after approval",
    "profit beats guidance", "board appoints new chief financial officer", "annual meeting report",
    "company publishes results call transcript", "central bank publishes minutes", "insurer files report",
]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A tiny checkpoint in tonewatch's own order (negative, neutral, positive)."""
    return save_tiny_bert(tmp_path_factory.mktemp("tiny") / "canonical",
                          {0: "negative", 1: "neutral", 2: "positive"})


def _reordered(tmp_path, tiny, names_in_order, folder):
    """Save the same network with its output rows permuted into ``names_in_order``.

    ``names_in_order[i]`` is what output i means; it is spelled as the checkpoint spells it, and
    ``meaning[i]`` is the tonewatch label of output i.
    """
    import torch
    from transformers import AutoModelForSequenceClassification

    truth = {"Bullish": "positive", "Bearish": "negative", "Neutral": "neutral",
             "LABEL_0": "negative", "LABEL_1": "neutral", "LABEL_2": "positive"}
    meaning = [truth.get(n, n.lower()) for n in names_in_order]
    state = AutoModelForSequenceClassification.from_pretrained(tiny).state_dict()
    rows = [LABELS.index(m) for m in meaning]
    state = dict(state)
    state["classifier.weight"] = state["classifier.weight"][rows].clone()
    state["classifier.bias"] = state["classifier.bias"][rows].clone()
    del torch
    return save_tiny_bert(tmp_path / folder, dict(enumerate(names_in_order)), state=state)


@pytest.mark.parametrize("order", [
    ["positive", "negative", "neutral"],   # ProsusAI/finbert
    ["neutral", "positive", "negative"],   # yiyanghkust/finbert-tone
    ["Bearish", "Bullish", "Neutral"],     # bearish/bullish spelling, capitalised
    ["NEGATIVE", "NEUTRAL", "POSITIVE"],
])
def test_any_label_order_gives_the_same_probabilities(tmp_path, tiny, order):
    reference = SentimentClassifier(tiny).predict_probs(TEXTS)
    other = SentimentClassifier(_reordered(tmp_path, tiny, order, "m")).predict_probs(TEXTS)
    np.testing.assert_allclose(other, reference, atol=1e-5)
    assert reference.shape == (len(TEXTS), 3)
    np.testing.assert_allclose(reference.sum(axis=1), 1.0, atol=1e-5)


def test_generic_labels_need_and_accept_an_explicit_map(tmp_path, tiny):
    path = _reordered(tmp_path, tiny, ["LABEL_2", "LABEL_0", "LABEL_1"], "generic")
    with pytest.raises(LabelMappingError, match="--model-labels"):
        SentimentClassifier(path)
    mapped = SentimentClassifier(
        path, label_map={"LABEL_0": "negative", "LABEL_1": "neutral", "LABEL_2": "positive"})
    np.testing.assert_allclose(mapped.predict_probs(TEXTS),
                               SentimentClassifier(tiny).predict_probs(TEXTS), atol=1e-5)


def test_unmappable_and_two_class_models_are_refused(tmp_path):
    with pytest.raises(LabelMappingError, match="'spam'"):
        SentimentClassifier(save_tiny_bert(tmp_path / "spam", {0: "spam", 1: "ham", 2: "neutral"}))
    with pytest.raises(LabelMappingError, match="neutral"):
        SentimentClassifier(save_tiny_bert(tmp_path / "two", {0: "negative", 1: "positive"}))


def test_missing_directory_and_offline_hub_id_are_clear_errors(tmp_path, monkeypatch):
    with pytest.raises(ModelNotFoundError, match="not found"):
        SentimentClassifier(tmp_path / "nope")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotFoundError, match="--model DIR"):
        SentimentClassifier("tonewatch-tests/no-such-model")


def _data(n_per_class: int = 12) -> pd.DataFrame:
    neg = ["shares plunge after loss", "analyst downgrade sell", "company files bankruptcy",
           "stock tumble on recall", "bank cuts dividend", "profit misses forecast"]
    neu = ["annual meeting report", "board appoints officer", "results call transcript",
           "central bank publishes minutes", "insurer files report", "company report next month"]
    pos = ["shares soar on record profit", "analyst upgrade buy", "bank raises dividend",
           "stock jump after approval", "profit beats guidance", "sales surge to record high"]
    rows = []
    for label, texts in (("negative", neg), ("neutral", neu), ("positive", pos)):
        for i in range(n_per_class):
            rows.append((f"{texts[i % len(texts)]} {'the a an of to in'.split()[i % 6]}", label))
    return pd.DataFrame(rows, columns=["text", "label"])


FAST = dict(epochs=2, batch_size=8, eval_batch_size=16, max_length=16, patience=5, seed=7)


def test_finetune_smoke_and_same_seed_same_metrics(tiny):
    first = finetune(_data(), base=str(tiny), args=TrainingArguments(**FAST), progress=False)
    again = finetune(_data(), base=str(tiny), args=TrainingArguments(**FAST), progress=False)
    assert [h["epoch"] for h in first.history] == [1, 2]
    assert first.history == again.history  # same data + seed → same losses and metrics
    assert first.model.config.id2label == {0: "negative", 1: "neutral", 2: "positive"}
    # Every weight trains except the frozen word-embedding table (a default).
    embeddings = first.model.get_input_embeddings().weight.numel()
    assert first.trainable_parameters == first.total_parameters - embeddings > 0
    assert 0 < len(first.validation) < len(_data())


def test_native_bf16_follows_the_cpu_instruction_sets(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    assert native_bf16("cpu") is False
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True, raising=False)
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    assert native_bf16("cpu") is True
    # oneDNN capped below bf16 (how an AVX2-only CPU is emulated): no native bf16.
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    assert native_bf16("cpu") is False
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "avx512_core_amx")
    assert native_bf16("cpu") is True
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert native_bf16("cuda") is False


def test_bf16_autocast_on_a_cpu_that_has_it_and_float32_when_off(tiny):
    import torch

    on = finetune(_data(), base=str(tiny), args=TrainingArguments(**FAST), progress=False)
    again = finetune(_data(), base=str(tiny), args=TrainingArguments(**FAST), progress=False)
    off = finetune(_data(), base=str(tiny), args=TrainingArguments(**FAST, bf16=False), progress=False)
    assert on.precision == ("bf16 autocast" if native_bf16("cpu") else "float32")
    assert off.precision == "float32"
    assert on.history == again.history  # mixed precision stays deterministic
    # The saved weights are float32 either way.
    assert {p.dtype for p in on.model.parameters()} == {torch.float32}


def test_lora_trains_only_adapters_and_saves_a_plain_model(tiny, tmp_path):
    result = finetune(_data(), base=str(tiny),
                      args=TrainingArguments(**FAST, peft="lora", lora_r=4, learning_rate=1e-3),
                      progress=False)
    assert 0 < result.trainable_parameters < result.total_parameters / 2
    result.model.save_pretrained(tmp_path / "merged")
    result.tokenizer.save_pretrained(tmp_path / "merged")
    assert not (tmp_path / "merged" / "adapter_config.json").exists()
    probs = SentimentClassifier(tmp_path / "merged").predict_probs(TEXTS[:3])
    assert probs.shape == (3, 3)


def test_split_column_is_used_for_validation(tiny):
    data = _data()
    data["split"] = ["validation" if i % 4 == 0 else "train" for i in range(len(data))]
    result = finetune(data, base=str(tiny), args=TrainingArguments(**{**FAST, "epochs": 1}),
                      progress=False)
    assert sorted(result.validation["text"]) == sorted(data[data["split"] == "validation"]["text"])
    assert result.split == "the data's own split column"


def test_bad_training_inputs_are_refused(tiny, tmp_path):
    with pytest.raises(TrainingError, match="at least 2 examples"):
        finetune(_data().iloc[:13], base=str(tiny), args=TrainingArguments(**FAST), progress=False)
    with pytest.raises(ModelNotFoundError):
        finetune(_data(), base=str(tmp_path / "missing"), args=TrainingArguments(**FAST), progress=False)
    with pytest.raises(ConfigError, match="peft"):
        TrainingArguments(peft="qlora")
    (tmp_path / "args.json").write_text(json.dumps({"epochs": 2, "learnig_rate": 1e-4}))
    with pytest.raises(ConfigError, match="learnig_rate"):
        TrainingArguments.from_json(tmp_path / "args.json")
    (tmp_path / "ok.json").write_text(json.dumps({"epochs": 2, "learning_rate": 1e-4, "peft": "lora"}))
    assert TrainingArguments.from_json(tmp_path / "ok.json").peft == "lora"
    # JSON of the wrong type is named, not silently truthy ("false" would switch bf16 on).
    for bad, culprit in (({"bf16": "false"}, "bf16 must be true or false"),
                         ({"epochs": "6"}, "epochs must be an integer"),
                         ({"epochs": 6.5}, "epochs must be an integer"),
                         ({"seed": True}, "seed must be an integer"),
                         ({"learning_rate": "1e-4"}, "learning_rate must be a number")):
        (tmp_path / "bad.json").write_text(json.dumps(bad))
        with pytest.raises(ConfigError, match=culprit):
            TrainingArguments.from_json(tmp_path / "bad.json")
    assert TrainingArguments(learning_rate=1).learning_rate == 1.0  # an int where a float goes is fine


class _Oracle:
    """A fake classifier that answers the canary from a lookup (optionally with swapped labels)."""

    def __init__(self, swap: bool = False):
        self.answers = {text: label for text, label in CANARY}
        self.swap = swap

    def predict_probs(self, texts):
        out = np.zeros((len(texts), 3))
        for i, text in enumerate(texts):
            k = LABELS.index(self.answers[text])
            out[i, 2 - k if self.swap else k] = 1.0
        return out


def test_canary_passes_a_correct_model_and_catches_swapped_labels():
    ok = run_canary(_Oracle())
    assert ok.passed and ok.correct == ok.total == len(CANARY) >= 20
    swapped = run_canary(_Oracle(swap=True))  # negative <-> positive, as a wrong id2label would
    assert not swapped.passed and swapped.correct == sum(1 for _, label in CANARY if label == "neutral")
    assert "FAILED" in swapped.summary()
    assert {label for _, label in CANARY} == set(LABELS)


@pytest.mark.parametrize("grouped", [True, False])
def test_epoch_batches_cover_every_example_once(grouped):
    import torch

    from pipeline.training.batches import epoch_batches

    n, args = 1030, TrainingArguments(batch_size=16, group_by_length=grouped)
    lengths = torch.randint(4, 64, (n,), generator=torch.Generator().manual_seed(1))
    batches = epoch_batches(n, lengths, args, torch.Generator().manual_seed(2))
    assert len(batches) == -(-n // 16)
    assert sorted(torch.cat(batches).tolist()) == list(range(n))
    padded = sum(len(b) * int(lengths[b].max()) for b in batches)
    if grouped:  # similar lengths together: far less padding than random batches
        random = epoch_batches(n, lengths, TrainingArguments(batch_size=16, group_by_length=False),
                                torch.Generator().manual_seed(2))
        assert padded < 0.8 * sum(len(b) * int(lengths[b].max()) for b in random)


def test_layer_depths_for_layerwise_learning_rate_decay(tiny):
    from pipeline.training.parameters import depth_below_top

    assert depth_below_top("classifier.weight", 2) == 0
    assert depth_below_top("bert.pooler.dense.weight", 2) == 0
    assert depth_below_top("bert.encoder.layer.1.output.dense.weight", 2) == 1
    assert depth_below_top("bert.encoder.layer.0.attention.self.query.weight", 2) == 2
    assert depth_below_top("bert.embeddings.word_embeddings.weight", 2) == 3
    result = finetune(_data(), base=str(tiny), args=TrainingArguments(**{**FAST, "epochs": 1},
                      layer_lr_decay=0.5), progress=False)
    assert len(result.history) == 1
    with pytest.raises(ConfigError, match="layer_lr_decay"):
        TrainingArguments(layer_lr_decay=0.0)


def test_weight_averaging_is_evaluated_and_kept(tiny):
    plain = finetune(_data(), base=str(tiny), args=TrainingArguments(**FAST), progress=False)
    averaged = finetune(_data(), base=str(tiny), args=TrainingArguments(**FAST, ema_decay=0.9),
                        progress=False)
    assert [h["train_loss"] for h in averaged.history] == [h["train_loss"] for h in plain.history]
    import torch

    a = averaged.model.state_dict()["classifier.weight"]
    b = plain.model.state_dict()["classifier.weight"]
    assert not torch.allclose(a, b)  # the saved weights are the average, not the last step
    with pytest.raises(ConfigError, match="ema_decay"):
        TrainingArguments(ema_decay=1.0)


def test_unknown_name_with_the_hub_unreachable_fails_fast_in_one_line(tmp_path, monkeypatch):
    import time

    from pipeline.config import load_settings
    from pipeline.scoring.classifier import hub_unreachable, load_classifier

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # discard port: nothing listens
    assert "unreachable" in hub_unreachable()
    settings = load_settings(data_dir=tmp_path / "data", model_registry=tmp_path / "registry")
    started = time.monotonic()
    with pytest.raises(ModelNotFoundError) as caught:
        load_classifier(settings, "tonewatch-minilm-2026")
    message = str(caught.value)
    assert time.monotonic() - started < 10
    assert "not a registry version" in message and "127.0.0.1" in message
    assert "\n" not in message and "--model DIR" in message
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the caller wants the local hub cache
    assert hub_unreachable() is None


def test_a_directory_that_is_not_a_model_is_one_clear_error(tmp_path):
    (tmp_path / "notes.txt").write_text("not a model")
    with pytest.raises(ModelNotFoundError, match="is not a model directory"):
        SentimentClassifier(tmp_path)


def test_token_masking_spares_special_tokens_and_is_seeded():
    import torch

    from pipeline.training.batches import mask_tokens

    ids = torch.tensor([[101, 7, 8, 9, 10, 11, 102, 0], [101, 12, 13, 102, 0, 0, 0, 0]] * 50)
    special = torch.tensor([0, 101, 102])
    first = mask_tokens(ids, special, 103, 0.5, torch.Generator().manual_seed(3))
    again = mask_tokens(ids, special, 103, 0.5, torch.Generator().manual_seed(3))
    assert torch.equal(first, again)
    is_special = torch.isin(ids, special)
    assert torch.equal(first[is_special], ids[is_special])  # [CLS], [SEP], [PAD] untouched
    masked = (first == 103)[~is_special].float().mean().item()
    assert 0.4 < masked < 0.6
    assert torch.equal(first[first != 103], ids[first != 103])  # the rest is unchanged
    assert torch.equal(mask_tokens(ids, special, 103, 0.0, torch.Generator()), ids)


def test_token_masking_and_frozen_embeddings_in_training(tiny):
    import torch
    from transformers import AutoModelForSequenceClassification

    plain = finetune(_data(), base=str(tiny), progress=False,
                     args=TrainingArguments(**FAST, token_mask_prob=0.0, freeze_embeddings=False))
    args = TrainingArguments(**FAST, token_mask_prob=0.3, freeze_embeddings=True)
    masked = finetune(_data(), base=str(tiny), args=args, progress=False)
    again = finetune(_data(), base=str(tiny), args=args, progress=False)
    assert masked.history == again.history  # masks come from the seeded generator
    assert masked.history[0]["train_loss"] != plain.history[0]["train_loss"]
    base = AutoModelForSequenceClassification.from_pretrained(tiny).get_input_embeddings().weight
    assert torch.equal(masked.model.get_input_embeddings().weight, base)
    assert not torch.equal(plain.model.get_input_embeddings().weight, base)
    with pytest.raises(ConfigError, match="token_mask_prob"):
        TrainingArguments(token_mask_prob=1.0)


def test_linear_probe_trains_the_head_before_the_encoder(tiny):
    import torch
    from transformers import AutoModelForSequenceClassification

    from pipeline.training.parameters import is_head

    base = AutoModelForSequenceClassification.from_pretrained(tiny)
    assert {n for n, _ in base.named_parameters() if is_head(n)} >= {"classifier.weight",
                                                                       "classifier.bias"}
    assert not is_head("bert.encoder.layer.0.attention.self.query.weight")
    probed = finetune(_data(), base=str(tiny), progress=False,
                      args=TrainingArguments(**{**FAST, "epochs": 1}, linear_probe_epochs=2))
    plain = finetune(_data(), base=str(tiny), progress=False,
                     args=TrainingArguments(**{**FAST, "epochs": 1}, linear_probe_epochs=0))
    assert [h["epoch"] for h in probed.history] == [1]  # probe epochs are not fine-tuning epochs
    # The encoder still trains after the probe, and from a different starting head.
    key = "bert.encoder.layer.0.attention.self.query.weight"
    assert not torch.equal(probed.model.state_dict()[key], base.state_dict()[key])
    assert probed.history[0]["train_loss"] != plain.history[0]["train_loss"]
    with pytest.raises(ConfigError, match="linear_probe"):
        TrainingArguments(linear_probe_epochs=-1)


def test_frozen_lower_layers_keep_their_weights(tiny):
    import torch
    from transformers import AutoModelForSequenceClassification

    base = dict(AutoModelForSequenceClassification.from_pretrained(tiny).named_parameters())
    result = finetune(_data(), base=str(tiny), progress=False,
                      args=TrainingArguments(**FAST, freeze_layers=1, linear_probe_epochs=0))
    trained = dict(result.model.named_parameters())
    lower = [n for n in base if ".layer.0." in n or "embeddings" in n]
    upper = [n for n in base if ".layer.1." in n]
    assert lower and upper
    assert all(torch.equal(trained[n], base[n]) for n in lower)
    assert any(not torch.equal(trained[n], base[n]) for n in upper)
    with pytest.raises(TrainingError, match="only 2 layers"):
        finetune(_data(), base=str(tiny), progress=False,
                 args=TrainingArguments(**FAST, freeze_layers=3))
    with pytest.raises(ConfigError, match="freeze_layers"):
        TrainingArguments(freeze_layers=-1)
