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

#: ``(text, company, expected label toward that company)``: headlines that judge the companies
#: they name differently, for a model trained on company-targeted pairs. 6 negative, 4 neutral,
#: 6 positive; every headline's companies differ.
TARGET_CANARY: tuple[tuple[str, str, str], ...] = (
    ("Corvane beats estimates while Dunmore slumps on weak orders", "Corvane", "positive"),
    ("Corvane beats estimates while Dunmore slumps on weak orders", "Dunmore", "negative"),
    ("Elstree wins the $2 billion rail contract after rival Farrow is disqualified", "Elstree", "positive"),
    ("Elstree wins the $2 billion rail contract after rival Farrow is disqualified", "Farrow", "negative"),
    ("Court orders Galloway to pay Hesketh $400 million in patent damages", "Galloway", "negative"),
    ("Court orders Galloway to pay Hesketh $400 million in patent damages", "Hesketh", "positive"),
    ("Analyst upgrades Brantley to buy and downgrades Aldmere to sell", "Brantley", "positive"),
    ("Analyst upgrades Brantley to buy and downgrades Aldmere to sell", "Aldmere", "negative"),
    ("Jessop shares plunge 30% after losing its biggest customer, Ivory Bay", "Jessop", "negative"),
    ("Jessop shares plunge 30% after losing its biggest customer, Ivory Bay", "Ivory Bay", "neutral"),
    ("Kestrel names former Lorimer finance chief as its new CFO", "Kestrel", "neutral"),
    ("Kestrel names former Lorimer finance chief as its new CFO", "Lorimer", "neutral"),
    ("Banks fall, but Marrow Bank bucks the trend with a record quarter", "Marrow Bank", "positive"),
    ("Nettle Foods to hold its annual meeting as Oriel Foods cuts its dividend", "Nettle Foods", "neutral"),
    ("Nettle Foods to hold its annual meeting as Oriel Foods cuts its dividend", "Oriel Foods", "negative"),
    ("Pellow raises guidance after Quenby recalls 2 million heaters", "Pellow", "positive"),
)

#: Share of the canary a model must get right (18 of 20).
REQUIRED_ACCURACY = 0.90

#: Share of the company-level canary a targeted model must get right (12 of 16). A model that
#: ignores the company gives both companies of a headline one label, so it gets at most 10 of
#: the 16 pairs (one per headline, both of Kestrel/Lorimer); 12 needs the company to change the
#: label on at least two headlines. Set below the default model's own score (13 of 16, measured
#: 2026-12-07: it misreads Hesketh, Aldmere and Oriel Foods) so that a retrain with another seed
#: is not refused for one pair: pairs are harder than sentences, and a company named only as
#: context may fairly read either way.
REQUIRED_TARGET_ACCURACY = 0.75


@dataclass
class CanaryResult:
    """Outcome of :func:`run_canary`."""

    correct: int
    total: int
    failures: list[dict] = field(default_factory=list)
    required: float = REQUIRED_ACCURACY

    @property
    def accuracy(self) -> float:
        """Share of canary sentences labelled as expected."""
        return self.correct / self.total if self.total else 0.0

    @property
    def passed(self) -> bool:
        """Whether the accuracy reaches :attr:`required` (:data:`REQUIRED_ACCURACY`, or
        :data:`REQUIRED_TARGET_ACCURACY` for the company-level canary)."""
        return self.accuracy >= self.required

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


def run_target_canary(classifier) -> CanaryResult:
    """Label the company-level canary with a targeted classifier
    (``predict_probs(texts, targets=...) -> (n, 3)``).

    Returns:
        how many (headline, company) pairs came out as expected; failures name the company.
    """
    texts = [text for text, _, _ in TARGET_CANARY]
    targets = [target for _, target, _ in TARGET_CANARY]
    predicted = classifier.predict_probs(texts, targets=targets).argmax(axis=1)
    failures = [
        {"text": f"[{target}] {text}", "expected": expected, "predicted": LABELS[int(p)]}
        for (text, target, expected), p in zip(TARGET_CANARY, predicted, strict=True)
        if LABELS[int(p)] != expected
    ]
    return CanaryResult(len(TARGET_CANARY) - len(failures), len(TARGET_CANARY), failures,
                        required=REQUIRED_TARGET_ACCURACY)


def require_canary(classifier, *, what: str) -> CanaryResult:
    """Run the canary and raise unless it passes.

    Args:
        what: how to name the model in the error (a version or a path).

    A model trained on company-targeted pairs must also pass the company-level canary
    (:data:`TARGET_CANARY`, :data:`REQUIRED_TARGET_ACCURACY`).

    Raises:
        CanaryFailedError: fewer than :data:`REQUIRED_ACCURACY` of the sentences labelled as
            expected, or (targeted model) fewer than :data:`REQUIRED_TARGET_ACCURACY` of the
            pairs; the message lists the first failures.
    """
    result = run_canary(classifier)
    if not result.passed:
        raise CanaryFailedError(
            f"model {what} failed the canary set ({result.summary()}); its labels may be in the "
            "wrong order (check config.id2label or give --model-labels) or the model is not a "
            "financial sentiment classifier"
        )
    if getattr(classifier, "targeted", False):
        targeted = run_target_canary(classifier)
        if not targeted.passed:
            raise CanaryFailedError(
                f"model {what} failed the company-level canary ({targeted.summary()}); it does "
                "not tell apart the companies a headline judges differently")
    return result
