"""Batched scoring: token-budget batches, batch-vs-single agreement, CUDA-path logic on the CPU."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.scoring.backends import autocast_dtype, available_cores, configure_cpu_threads, find_batch_size
from pipeline.scoring.batching import encode, pad_batch, token_budget_batches
from pipeline.scoring.classifier import SentimentClassifier
from tests.unit.tiny_bert import WORDS, save_tiny_bert

LABEL_ORDER = {0: "negative", 1: "neutral", 2: "positive"}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return save_tiny_bert(tmp_path_factory.mktemp("tiny") / "canonical", LABEL_ORDER, seed=3)


def sentences(n: int, seed: int = 0, longest: int = 60) -> list[str]:
    """``n`` word salads of 0..longest words from the tiny vocabulary (some empty)."""
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=rng.integers(0, longest))) for _ in range(n)]


@pytest.mark.parametrize("max_tokens,max_batch", [(64, 8), (500, 64), (10, 4), (4096, 1000)])
def test_token_budget_batches_cover_each_input_once_within_budget(max_tokens, max_batch):
    lengths = np.random.default_rng(1).integers(1, 100, size=777)
    batches = token_budget_batches(lengths, max_tokens=max_tokens, max_batch=max_batch)
    assert sorted(np.concatenate(batches).tolist()) == list(range(777))
    for batch in batches:
        assert len(batch) <= max_batch
        assert len(batch) == 1 or len(batch) * lengths[batch].max() <= max_tokens
    longest_first = [lengths[b].max() for b in batches]
    assert longest_first == sorted(longest_first)  # length-sorted: padding stays small
    padded = sum(len(b) * lengths[b].max() for b in batches)
    assert padded < 1.3 * lengths.sum() or max_tokens < 100


def test_token_budget_rejects_a_zero_budget():
    with pytest.raises(ValueError):
        token_budget_batches(np.array([3, 4]), max_tokens=0, max_batch=4)


def test_pad_batch_pads_on_the_right_with_a_mask():
    ids, mask = pad_batch([np.array([101, 7, 102]), np.array([101, 102])], pad_id=0)
    assert ids.tolist() == [[101, 7, 102], [101, 102, 0]]
    assert mask.tolist() == [[1, 1, 1], [1, 1, 0]]
    assert ids.dtype == mask.dtype == np.int64


def test_encode_tokenizes_once_and_flags_truncation(tiny):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny)
    texts = ["shares plunge", "", " ".join(["profit"] * 40), "bank " * 9]
    encoded = encode(tokenizer, texts, max_length=12)
    assert encoded.truncated.tolist() == [False, False, True, False]
    assert encoded.lengths.tolist() == [4, 2, 12, 11]
    assert encoded.ids[2][-1] == tokenizer.sep_token_id  # truncated rows still end with [SEP]
    full = tokenizer(texts[0])["input_ids"]
    assert encoded.ids[0].tolist() == full


@pytest.mark.parametrize("budget,batch", [(64, 4), (2048, 64), (300, 17)])
def test_batched_probabilities_match_one_at_a_time(tiny, budget, batch):
    texts = sentences(60, seed=budget)
    classifier = SentimentClassifier(tiny, token_budget=budget, batch_size=batch, max_length=48)
    probs, truncated = classifier.predict(texts)
    single = np.vstack([classifier.predict([t])[0] for t in texts])
    np.testing.assert_allclose(probs, single, atol=1e-4, rtol=0)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert truncated.any() and not truncated.all()
    # Results come back in input order whatever order they were batched in.
    order = np.random.default_rng(0).permutation(len(texts))
    shuffled = classifier.predict_probs([texts[i] for i in order])
    np.testing.assert_allclose(shuffled, probs[order], atol=1e-4, rtol=0)


def test_no_texts_no_work(tiny):
    probs, truncated = SentimentClassifier(tiny).predict([])
    assert probs.shape == (0, 3) and truncated.shape == (0,)


def test_autocast_dtype_per_device():
    import torch

    assert autocast_dtype("cuda", bf16_supported=True) is torch.bfloat16
    assert autocast_dtype("cuda", bf16_supported=False) is torch.float16
    assert autocast_dtype("cpu", bf16_supported=True) is None


def test_torch_backend_on_cpu_stays_float32(tiny):
    classifier = SentimentClassifier(tiny, device="cpu")
    assert classifier.backend.dtype is None and not classifier.backend.cuda
    assert classifier.model.config._attn_implementation == "sdpa"
    assert not classifier.model.training


def test_find_batch_size_stops_when_throughput_saturates():
    calls = []

    def time_batch(size: int) -> float:  # the device is busy from 256 rows on: linear cost
        calls.append(size)
        return max(size, 256) * 1e-4

    assert find_batch_size(time_batch) == 256
    assert calls == [16, 32, 64, 128, 256, 512]


def test_find_batch_size_backs_off_on_out_of_memory():
    def time_batch(size: int) -> float:
        if size > 64:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return 0.01

    assert find_batch_size(time_batch) == 64
    with pytest.raises(RuntimeError, match="shape mismatch"):
        find_batch_size(lambda size: (_ for _ in ()).throw(RuntimeError("shape mismatch")))


def test_cpu_threads_follow_the_affinity_mask(monkeypatch):
    import os

    import torch

    before = torch.get_num_threads()
    monkeypatch.delenv("TOKENIZERS_PARALLELISM", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})
    try:
        assert available_cores() == 1
        assert configure_cpu_threads() == 1
        assert os.environ["TOKENIZERS_PARALLELISM"] == "false"
    finally:
        torch.set_num_threads(before)


def test_unknown_backend_is_one_clear_error(tiny):
    from pipeline.errors import ScoringError

    with pytest.raises(ScoringError, match="unknown scoring backend 'tensorrt'"):
        SentimentClassifier(tiny, backend="tensorrt")


def test_batch_size_measurement_runs_on_the_cpu(tiny):
    backend = SentimentClassifier(tiny, device="cpu").backend
    size = backend.measure_batch_size(16, limit=64)
    assert size in (16, 32, 64)


def test_backend_comes_from_settings_and_a_missing_export_is_one_line(tiny, monkeypatch):
    from pipeline.config import load_settings
    from pipeline.errors import ModelNotFoundError
    from pipeline.scoring.classifier import load_classifier

    monkeypatch.setenv("TONEWATCH_SCORING_BACKEND", "onnx-int8")
    settings = load_settings(model_registry=tiny.parent / "no-registry")
    with pytest.raises(ModelNotFoundError, match="export-onnx") as info:
        load_classifier(settings, str(tiny), canary=False)
    assert "\n" not in str(info.value)
    assert load_classifier(settings, str(tiny), canary=False, backend="torch").backend.name == "torch"


class _WordTokenizer:
    """A slow-tokenizer stand-in: one id per word, no ``overflow_to_sample_mapping``."""

    def __call__(self, texts, *, truncation, max_length=None, return_length=False, **_):
        ids = [[101, *[7] * len(t.split()), 102] for t in texts]
        if truncation:
            ids = [r if len(r) <= max_length else r[:max_length - 1] + [102] for r in ids]
        return {"input_ids": ids} | ({"length": [len(r) for r in ids]} if return_length else {})


def test_encode_with_a_tokenizer_without_overflow_mapping():
    encoded = encode(_WordTokenizer(), ["a b c", "a " * 20, ""], max_length=6)
    assert encoded.truncated.tolist() == [False, True, False]
    assert encoded.lengths.tolist() == [5, 6, 2]
    assert encoded.ids[1].tolist() == [101, 7, 7, 7, 7, 102]


def test_auto_is_the_default_backend_and_is_torch_without_an_export(tiny, caplog):
    import logging

    from pipeline.config import load_settings
    from pipeline.scoring.classifier import load_classifier

    settings = load_settings(model_registry=tiny.parent / "no-registry")
    assert settings.scoring_backend == "auto"
    with caplog.at_level(logging.INFO, logger="tonewatch"):
        classifier = load_classifier(settings, str(tiny), canary=False)
    assert classifier.backend.name == "torch"
    assert "scores with torch (auto: no ONNX export of" in caplog.text
