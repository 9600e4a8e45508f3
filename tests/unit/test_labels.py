"""pipeline.scoring.labels and the classifier's softmax."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.domain import LABELS, canonical_label
from pipeline.errors import LabelMappingError, ScoringError
from pipeline.scoring.classifier import softmax
from pipeline.scoring.labels import label_permutation


def test_prosus_finbert_order():
    perm = label_permutation({0: "positive", 1: "negative", 2: "neutral"})
    assert perm == [1, 2, 0]
    # Applying it really reorders the columns into negative, neutral, positive.
    logits = np.array([[30.0, 10.0, 20.0]])  # positive, negative, neutral
    assert logits[:, perm].tolist() == [[10.0, 20.0, 30.0]]


def test_identity_order_with_string_keys_and_upper_case():
    assert label_permutation({"0": "NEGATIVE", "1": "Neutral", "2": "positive"}) == [0, 1, 2]


def test_bearish_bullish_synonyms():
    assert label_permutation({0: "Bullish", 1: "Bearish", 2: "Neutral"}) == [1, 2, 0]
    assert canonical_label(" bearish ") == "negative"
    assert canonical_label("LABEL_0") is None


def test_generic_label_names_rejected():
    with pytest.raises(LabelMappingError, match="LABEL_0"):
        label_permutation({0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"})


def test_duplicate_mapping_rejected():
    with pytest.raises(LabelMappingError, match="negative"):
        label_permutation({0: "negative", 1: "bearish", 2: "positive"})


def test_missing_class_rejected():
    with pytest.raises(LabelMappingError, match="neutral"):
        label_permutation({0: "negative", 1: "positive"})


def test_label_mapping_error_is_a_scoring_error():
    assert issubclass(LabelMappingError, ScoringError)
    assert LABELS == ("negative", "neutral", "positive")


def test_softmax_stable_for_huge_logits():
    probs = softmax(np.array([[1000.0, 0.0, -1000.0], [-1000.0, -1000.0, -1000.0]]))
    assert np.isfinite(probs).all()
    np.testing.assert_allclose(probs[0], [1.0, 0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(probs[1], [1 / 3, 1 / 3, 1 / 3])


def test_softmax_matches_hand_computation():
    probs = softmax(np.array([[1.0, 2.0, 3.0]]))
    e = np.exp([1.0, 2.0, 3.0])
    np.testing.assert_allclose(probs[0], e / e.sum())
    np.testing.assert_allclose(probs.sum(axis=-1), [1.0])
