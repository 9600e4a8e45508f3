"""The canary set: unambiguous sentences every usable model must label correctly.

A model whose labels are shuffled (a checkpoint with a wrong ``id2label``), a model trained on the
wrong task, or a broken fine-tune fails here at once, before it scores a single article or is
promoted. The sentences were written for tonewatch; each has one obvious reading for an investor.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pipeline.domain import LABELS
from pipeline.errors import CanaryFailedError

#: ``(text, expected label)``; 7 negative, 6 neutral, 7 positive.
CANARY: tuple[tuple[str, str], ...] = (
    ("Shares plunge 35% after the company files for bankruptcy protection", "negative"),
    ("Profit warning: retailer slashes full-year forecast as sales collapse", "negative"),
    ("Regulator fines bank $2 billion for money laundering failures", "negative"),
    ("Carmaker recalls 900,000 vehicles over brake fire risk; stock tumbles", "negative"),
    ("Analyst downgrades chipmaker to sell and cuts price target by half", "negative"),
    ("Airline defaults on bond payment as losses deepen", "negative"),
    ("Stocks crash as recession fears grip markets", "negative"),
    ("Company to hold its annual shareholder meeting on May 14", "neutral"),
    ("The firm will report second-quarter results after the market closes on Thursday", "neutral"),
    ("Board appoints a new chief financial officer effective next month", "neutral"),
    ("Transcript of the third-quarter earnings conference call", "neutral"),
    ("The central bank publishes the minutes of its policy meeting on Wednesday", "neutral"),
    ("Insurer files its annual report with the securities regulator", "neutral"),
    ("Shares soar 28% after quarterly profit doubles and beats estimates", "positive"),
    ("Drugmaker wins approval for its cancer treatment; stock jumps", "positive"),
    ("Analyst upgrades the bank to buy and raises the price target", "positive"),
    ("Company raises its dividend by 20% and announces a $5 billion buyback", "positive"),
    ("Retailer lifts full-year guidance after record holiday sales", "positive"),
    ("Stocks rally to record highs as inflation cools", "positive"),
    ("Miner's output surges and it posts its best quarter ever", "positive"),
)

#: Share of the canary a model must get right (18 of 20).
REQUIRED_ACCURACY = 0.90


@dataclass
class CanaryResult:
    """Outcome of :func:`run_canary`."""

    correct: int
    total: int
    failures: list[dict] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        """Share of canary sentences labelled as expected."""
        return self.correct / self.total if self.total else 0.0

    @property
    def passed(self) -> bool:
        """Whether the accuracy reaches :data:`REQUIRED_ACCURACY`."""
        return self.accuracy >= REQUIRED_ACCURACY

    def summary(self) -> str:
        """One line: ``canary 20/20 passed`` or the first failures."""
        head = f"canary {self.correct}/{self.total} {'passed' if self.passed else 'FAILED'}"
        if not self.failures:
            return head
        shown = "; ".join(f"{f['text'][:50]!r} → {f['predicted']} (expected {f['expected']})"
                          for f in self.failures[:3])
        return f"{head}: {shown}"


def run_canary(classifier) -> CanaryResult:
    """Label the canary set with ``classifier`` (anything with ``predict_probs(texts) -> (n, 3)``).

    Returns:
        how many sentences came out as expected, and which did not.
    """
    texts = [text for text, _ in CANARY]
    predicted = classifier.predict_probs(texts).argmax(axis=1)
    failures = [
        {"text": text, "expected": expected, "predicted": LABELS[int(p)]}
        for (text, expected), p in zip(CANARY, predicted, strict=True)
        if LABELS[int(p)] != expected
    ]
    return CanaryResult(len(CANARY) - len(failures), len(CANARY), failures)


def require_canary(classifier, *, what: str) -> CanaryResult:
    """Run the canary and raise unless it passes.

    Args:
        what: how to name the model in the error (a version or a path).

    Raises:
        CanaryFailedError: fewer than :data:`REQUIRED_ACCURACY` of the sentences labelled as
            expected; the message lists the first failures.
    """
    result = run_canary(classifier)
    if not result.passed:
        raise CanaryFailedError(
            f"model {what} failed the canary set ({result.summary()}); its labels may be in the "
            "wrong order (check config.id2label or give --model-labels) or the model is not a "
            "financial sentiment classifier"
        )
    return result
