"""Rescore stored articles with another model version and compare it with the current one.

A shadow comparison answers, before a promotion, the question an analyst actually has: *if this
model had been in production, which labels and which alerts would have been different?* The
candidate's scores are stored next to the current model's (``scores`` is keyed by article and
model version), then both versions' labels are cross-tabulated and every alert rule is replayed
over the same daily windows with each version's scores. Nothing is written to ``alerts``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime

from pipeline.config import Settings
from pipeline.domain import LABELS, StageResult
from pipeline.errors import TonewatchError
from pipeline.storage.db import connect
from pipeline.storage.scores import has_scores, label_pairs


@dataclass
class ShadowReport:
    """Differences between a baseline model version and a candidate over the same articles.

    ``transitions[a][b]`` counts articles labelled ``a`` by the baseline and ``b`` by the
    candidate. Alerts are ``(rule, scope, entity, window_end ISO)`` tuples of firing decisions.
    """

    baseline: str
    candidate: str
    since: str | None
    articles_compared: int
    transitions: dict[str, dict[str, int]]
    negative_share: dict[str, float]
    windows_replayed: int
    alerts_baseline: int
    alerts_candidate: int
    only_baseline: list[tuple[str, str, str, str]] = field(default_factory=list)
    only_candidate: list[tuple[str, str, str, str]] = field(default_factory=list)

    @property
    def labels_changed(self) -> int:
        """Articles whose label differs between the two versions."""
        return sum(n for a, row in self.transitions.items() for b, n in row.items() if a != b)

    def to_dict(self) -> dict:
        """JSON-friendly form (``labels_changed`` included)."""
        return {**asdict(self), "labels_changed": self.labels_changed}


def label_transitions(con, *, baseline: str, candidate: str, since: datetime | None,
                      until: datetime | None = None) -> tuple[dict[str, dict[str, int]], int]:
    """Cross-tabulate the labels of articles scored by both versions.

    Only scores of the article's current content count (``content_hash`` matches), and only
    articles published in ``[since, until)`` (None: no bound).

    Returns:
        ``(transitions, n)`` with ``transitions[baseline_label][candidate_label]`` counts.
    """
    rows = label_pairs(con, baseline=baseline, candidate=candidate, since=since, until=until)
    table = {a: {b: 0 for b in LABELS} for a in LABELS}
    for a, b, n in rows:
        table[a][b] = int(n)
    return table, sum(int(n) for *_, n in rows)


def firing_alerts(con, rules, instants: list[datetime], model_version: str,
                  topics=None) -> set[tuple]:
    """Firing decisions of every rule at every window end, with ``model_version``'s scores.

    All windows in one pass per rule (:func:`pipeline.alerting.stage.decisions_over`).
    """
    from pipeline.alerting.stage import decisions_over

    if not instants:
        return set()
    decided = decisions_over(con, rules, sorted(set(instants)), model_version=model_version,
                             topics=topics)
    return {(d.rule, d.scope, d.entity, window.end.isoformat())
            for windows, per_window in decided.values()
            for window, decisions in zip(windows, per_window, strict=True)
            for d in decisions if d.status == "firing"}


def compare_versions(
    settings: Settings, *, baseline: str, candidate: str, since: datetime | None, until: datetime,
    rules=None,
) -> ShadowReport:
    """Compare two model versions' labels and replayed alerts on the stored articles.

    Args:
        baseline: the version in use (usually production's).
        candidate: the version under review; must have scores (see :func:`pipeline.run.score`).
        since: first instant compared (UTC); None = all stored articles.
        until: last window end replayed, and end of the articles compared (UTC).
        rules: alert rules (default: the rules file).

    Returns:
        a :class:`ShadowReport`; alert windows are the daily ends of
        :func:`pipeline.run.backfill_instants`.

    Raises:
        TonewatchError: a version has no scores in the database.
    """
    from pipeline.detection.rules import load_rules
    from pipeline.detection.topics import topics_for
    from pipeline.run import backfill_instants

    rules = rules if rules is not None else load_rules(settings.alert_rules_file)
    topics = topics_for(rules, settings.topics_file)
    instants = backfill_instants(settings, since=since, until=until)
    with connect(settings.db_path, read_only=True) as con:
        for version in (baseline, candidate):
            if not has_scores(con, version):
                raise TonewatchError(f"model version {version!r} has no scores in {settings.db_path}")
        transitions, n = label_transitions(con, baseline=baseline, candidate=candidate, since=since,
                                           until=until)
        fired_a = firing_alerts(con, rules, instants, baseline, topics)
        fired_b = firing_alerts(con, rules, instants, candidate, topics)
    negative_share = {
        baseline: round(sum(transitions["negative"].values()) / n, 4) if n else 0.0,
        candidate: round(sum(row["negative"] for row in transitions.values()) / n, 4) if n else 0.0,
    }
    return ShadowReport(
        baseline=baseline, candidate=candidate, since=since.isoformat() if since else None,
        articles_compared=n, transitions=transitions, negative_share=negative_share,
        windows_replayed=len(instants), alerts_baseline=len(fired_a), alerts_candidate=len(fired_b),
        only_baseline=sorted(fired_a - fired_b), only_candidate=sorted(fired_b - fired_a),
    )


def rescore(
    settings: Settings, *, model: str, at: datetime, since: datetime | None = None,
    until: datetime | None = None, against: str | None = None, progress: bool = False,
    on_progress=None, rules=None,
) -> tuple[StageResult, ShadowReport | None]:
    """Score stored articles with ``model`` and compare it with the version detection uses.

    This is ``tonewatch rescore`` and the ``tonewatch_rescore`` DAG. Earlier versions' scores
    are kept (``scores`` is keyed by article and model version); nothing is promoted and nothing
    is written to ``alerts``.

    Args:
        settings: settings (data dir, registry, rules file).
        model: candidate: a registry version, a local directory or a hub id.
        at: run instant (UTC), stored as ``scored_at``; the default end of the comparison.
        since: first publication instant rescored and compared (UTC); None = all stored.
        until: end (exclusive) of the publication instants rescored, and last window end
            replayed (UTC); None = ``at``.
        against: baseline version (default: the one detection uses, production's).
        progress, on_progress: see :func:`pipeline.run.score`.
        rules: alert rules (default: the rules file).

    Returns:
        ``(score result, report)``; ``report`` is None when no other version has scores
        (nothing to compare with). The score result's counts include ``model_version``.

    Raises:
        ModelNotFoundError: unknown candidate. TonewatchError: ``since`` is not before ``until``.
    """
    from pipeline.run import score
    from pipeline.storage.scores import model_in_force

    until = until or at
    if since is not None and since >= until:
        raise TonewatchError(f"rescore range is empty: since {since.isoformat()} is not before "
                             f"until {until.isoformat()}")
    result = score(settings, at=at, model=model, since=since, until=until, progress=progress,
                   on_progress=on_progress)
    candidate = result.counts["model_version"]
    if against is None:
        with connect(settings.db_path, read_only=True) as con:
            in_force = model_in_force(con)
            against = in_force.model_version if in_force else None
    if not against or against == candidate:
        return result, None
    report = compare_versions(settings, baseline=against, candidate=candidate, since=since,
                              until=until, rules=rules)
    return result, report
