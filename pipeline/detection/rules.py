"""Alert rules: their configuration (evaluation: :mod:`pipeline.detection.decide`).

``config/alert_rules.yaml``::

    rules:
      - name: ticker_negative_surge    # unique; part of the alert's identity
        scope: ticker                  # market | ticker | sector | source | topic
                                       # (config/topics.yaml); ticker and sector count each
                                       # story with its label toward the company
        min_relevance: 0.5             # ticker/sector: a story counts for a company when its
                                       # link's relevance is at least this (1 named in the
                                       # headline, 0.9 an archive's ticker column, 0.6 only
                                       # in the summary, 0.4 only a category, 0.3 only the
                                       # feed's own ticker; pipeline.companies.linking)
        window: 1d                     # evaluated window, ending at the run instant
        baseline: 28d                  # trailing period before the window
        seasonality: none              # none | hour_of_day | hour_of_week: share and score
                                       # metrics compare with the same clock span of earlier
                                       # days / weeks; negative_count scales the entity's level
                                       # by the market's seasonal profile of story volume
        metric: negative_share         # negative_share (binomial test), negative_count
                                       # (Poisson / negative binomial on window-sized buckets)
                                       # or mean_score (Welch t-test on story sentiment scores)
        min_articles: 5                # fewer stories in the window = "insufficient data"
        min_negative: 3                # fewer negative stories never fire
        min_lift: 1.5                  # share / count metrics: observed >= lift x expected
        min_drop: 0.15                 # mean_score: observed <= expected - drop (score points)
        significance: 0.01             # false discovery rate across the rule's entities
        severity: warning              # info | warning | critical
        cooldown: 1d                   # no repeat notification for the same alert within it
        for_windows: 1                 # consecutive windows a surge must hold before it fires
                                       # (pending until then, as Prometheus' "for")
        receivers: [default]           # default = console + every configured channel
        group_by: [rule]               # alerts of one window sharing these labels (rule, scope,
                                       # entity, severity) go out as one message; [...] = each
                                       # alert alone (Alertmanager's group_by)
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pipeline.config import read_config
from pipeline.domain import Window


_DURATION = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d|w)\s*$", re.I)
_UNIT_SECONDS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: str | int | float) -> timedelta:
    """``"1d"``, ``"6h"``, ``"30min"``, ``"2w"``, ``"90s"`` (or a number of seconds) → timedelta > 0.

    Raises:
        ValueError: not a duration, or not positive.
    """
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, (int, float)):
        delta = timedelta(seconds=value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"not a duration: {value!r} (use e.g. 1d, 6h, 30min, 2w)")
        delta = timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()])
    if delta <= timedelta(0):
        raise ValueError(f"duration must be positive: {value!r}")
    return delta


#: Receiver names a rule may use; ``default`` is console plus every configured channel.
RECEIVERS = ("default", "console", "email", "slack")

#: Alert labels a rule may group notifications by; ``...`` means every label (no grouping).
GROUP_LABELS = ("rule", "scope", "entity", "severity")

#: Period of each ``seasonality`` (kept equal to ``pipeline.detection.windows.SEASON_PERIODS``).
_SEASON_DAYS = {"hour_of_day": 1, "hour_of_week": 7}


class AlertRule(BaseModel):
    """One alert rule (see the module docstring for the YAML shape)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    scope: Literal["market", "ticker", "sector", "source", "topic"]
    min_relevance: float = Field(0.5, ge=0.0, le=1.0)
    window: timedelta = timedelta(days=1)
    baseline: timedelta = timedelta(days=28)
    seasonality: Literal["none", "hour_of_day", "hour_of_week"] = "none"
    metric: Literal["negative_share", "negative_count", "mean_score"] = "negative_share"
    min_articles: int = Field(5, ge=1)
    min_negative: int = Field(3, ge=1)
    min_lift: float = Field(1.5, ge=1.0)
    min_drop: float = Field(0.15, ge=0.0, le=2.0)
    significance: float = Field(0.01, gt=0, lt=0.5)
    severity: Literal["info", "warning", "critical"] = "warning"
    cooldown: timedelta = timedelta(days=1)
    for_windows: int = Field(1, ge=1, le=100)
    receivers: list[str] = Field(default_factory=lambda: ["default"])
    group_by: list[str] = Field(default_factory=lambda: ["rule"])

    def window_at(self, at: datetime) -> Window:
        """The window this rule evaluates at the run instant ``at``: ``[at - window, at)``, UTC."""
        return Window.ending_at(at, self.window)

    @field_validator("group_by")
    @classmethod
    def _known_labels(cls, value: list[str]) -> list[str]:
        if value == ["..."]:
            return value
        unknown = [label for label in value if label not in GROUP_LABELS]
        if unknown or not value:
            raise ValueError(f"group_by takes labels from {list(GROUP_LABELS)} or ['...'], "
                             f"got {value}")
        return value

    @field_validator("receivers")
    @classmethod
    def _known_receivers(cls, value: list[str]) -> list[str]:
        unknown = [r for r in value if r not in RECEIVERS]
        if unknown:
            raise ValueError(f"unknown receiver(s) {unknown}; use any of {list(RECEIVERS)}")
        return value

    @field_validator("window", "baseline", "cooldown", mode="before")
    @classmethod
    def _duration(cls, value):
        return parse_duration(value) if not isinstance(value, timedelta) else value

    @model_validator(mode="after")
    def _baseline_longer(self) -> "AlertRule":
        if self.baseline < self.window:
            raise ValueError("baseline must be at least as long as window")
        days = _SEASON_DAYS.get(self.seasonality)
        if days is not None:
            period = timedelta(days=days)
            if self.window > period:
                raise ValueError(f"seasonality {self.seasonality} needs a window of at most "
                                 f"{days} day(s), got {self.window}")
            if period.total_seconds() % self.window.total_seconds():
                raise ValueError(f"seasonality {self.seasonality} needs a window that divides "
                                 f"{days} day(s) evenly (e.g. 1h, 4h, 1d), got {self.window}")
            if self.baseline < 2 * period:
                raise ValueError(f"seasonality {self.seasonality} needs a baseline of at least "
                                 f"two periods ({2 * days} days), got {self.baseline}")
        return self


class RulesFile(BaseModel):
    """The whole ``alert_rules.yaml`` document."""

    model_config = ConfigDict(extra="forbid")

    rules: list[AlertRule]

    @model_validator(mode="after")
    def _unique(self) -> "RulesFile":
        names = [r.name for r in self.rules]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate rule names: {dupes}")
        return self


def load_rules(path: Path) -> list[AlertRule]:
    """Read and validate alert rules.

    Raises:
        ConfigError: missing file, bad YAML, or an invalid rule (message names file and field).
    """
    return read_config(path, RulesFile).rules
