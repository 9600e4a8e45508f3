"""Topics for the ``topic`` scope of alert rules: named sets of phrases matched in article text.

``config/topics.yaml``::

    topics:
      layoffs:                      # topic name: letters, digits, _ . -
        - layoffs                   # a phrase, matched case-insensitively on word boundaries
        - job cuts
        - cut* jobs                 # "*" at the end of a word matches any word ending
                                    # (cuts, cutting)

An article belongs to every topic one of whose phrases occurs in its scored text (title and
summary). Topics are evaluated at detection time, so editing the file re-tags stored history
on the next run; nothing is written to the database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from pipeline.config import read_config

_NAME = r"^[A-Za-z0-9_.-]+$"


@dataclass(frozen=True)
class Topic:
    """One topic: ``name`` and the RE2/Python-compatible ``pattern`` its phrases compile to."""

    name: str
    pattern: str

    def matches(self, text: str) -> bool:
        """Whether ``text`` mentions the topic (same semantics as the SQL used in detection)."""
        return re.search(self.pattern, text) is not None


def phrase_pattern(phrases: list[str]) -> str:
    """Compile phrases into one case-insensitive regular expression on word boundaries.

    Each phrase is taken literally (``re.escape``) except a trailing ``*`` on a word, which
    matches any word ending (``\\w*``). Runs of spaces match any whitespace. The result uses
    only syntax shared by Python's ``re`` and RE2 (DuckDB's ``regexp_matches``).

    Raises:
        ValueError: no phrase, or an empty phrase.
    """
    parts = []
    for phrase in phrases:
        words = str(phrase).split()
        if not words:
            raise ValueError("empty phrase")
        if not re.search(r"\w", str(phrase).replace("*", "")):
            raise ValueError(f"phrase {phrase!r} has no letter or digit")
        body = r"\s+".join(
            re.escape(w[:-1]) + r"\w*" if w.endswith("*") and len(w) > 1 else re.escape(w)
            for w in words)
        # Word boundaries only next to word characters: "\b" before "(" or after "." would
        # demand a letter on the far side and never match.
        text = " ".join(words)
        start = r"\b" if re.match(r"\w", text) else ""
        end = r"\b" if re.search(r"[\w*]$", text) else ""
        parts.append(start + body + end)
    if not parts:
        raise ValueError("a topic needs at least one phrase")
    return r"(?i)(?:" + "|".join(parts) + r")"


class _TopicsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    topics: dict[str, list[str]] = Field(default_factory=dict)

    @field_validator("topics")
    @classmethod
    def _valid(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for name, phrases in value.items():
            if not re.match(_NAME, name):
                raise ValueError(f"topic name {name!r} may use only letters, digits, _ . -")
            try:
                phrase_pattern(phrases)
            except ValueError as exc:
                raise ValueError(f"topic {name!r}: {exc}") from exc
        return value


def load_topics(path: Path) -> list[Topic]:
    """Read ``topics.yaml`` into :class:`Topic` objects, in file order.

    Raises:
        ConfigError: missing file, bad YAML, or an invalid topic (message names file and topic).
    """
    parsed = read_config(path, _TopicsFile)
    return [Topic(name, phrase_pattern(phrases)) for name, phrases in parsed.topics.items()]


def topics_for(rules, path: Path) -> list[Topic] | None:
    """Load the topics file when one of ``rules`` has ``scope: topic``; else None (not read).

    Raises:
        ConfigError: as :func:`load_topics`.
    """
    if any(getattr(rule, "scope", None) == "topic" for rule in rules):
        return load_topics(path)
    return None
