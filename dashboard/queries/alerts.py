"""Queries behind the Alerts page: alert lists, one alert's explanation, silences in force and
their history."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.queries.core import CACHE_TTL_S, read

_LIST_COLUMNS = ["alert_id", "rule", "scope", "entity", "entity_name", "severity", "state",
                 "window_start", "window_end", "observed", "expected", "p_value", "q_value",
                 "n_stories", "n_negative", "created_at", "resolved_at"]
_DETAIL_COLUMNS = [*_LIST_COLUMNS, "baseline_stories", "explanation"]
_SILENCE_COLUMNS = ["silence_id", "matchers", "starts_at", "ends_at", "author", "comment",
                    "created_at", "expired_at"]


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def list_alerts(db_path: str, states: tuple[str, ...], scopes: tuple[str, ...],
                limit: int = 500) -> pd.DataFrame:
    """Return alerts in the given states and scopes, newest window first.

    Columns: ``alert_id``, ``rule``, ``scope``, ``entity``, ``entity_name`` (display name),
    ``severity``, ``state``, ``window_start``/``window_end`` (UTC), ``observed`` and
    ``expected`` (negative shares in [0, 1], or counts for ``negative_count`` rules),
    ``p_value``, ``q_value`` (Benjamini-Hochberg adjusted), ``n_stories``, ``n_negative``,
    ``created_at``, ``resolved_at`` (UTC).

    Args:
        db_path: path of ``tonewatch.duckdb``.
        states: e.g. ``("firing", "resolved")``; empty means none.
        scopes: e.g. ``("market", "ticker", "source")``; empty means none.
        limit: most rows returned.

    Raises:
        StorageError: the database cannot be read.
    """
    sql = f"""
        SELECT {", ".join(c for c in _LIST_COLUMNS if c != "entity_name")},
               coalesce(json_extract_string(explanation, '$.entity_name'), entity) AS entity_name
        FROM alerts
        WHERE list_contains(?, state) AND list_contains(?, scope)
        ORDER BY window_end DESC, created_at DESC, alert_id
        LIMIT ?
    """
    frame = read(db_path, sql, [list(states), list(scopes), int(limit)], _LIST_COLUMNS)
    return frame[_LIST_COLUMNS]


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def alert_detail(db_path: str, alert_id: str) -> pd.DataFrame:
    """Return one alert with its ``baseline_stories`` and ``explanation`` (JSON text).

    The explanation is written by the alerting stage (:mod:`pipeline.alerting.messages`): keys such as
    ``entity_name``, ``baseline_days``, ``metric``, ``n_sources``, ``silenced_by``,
    ``inhibited_by`` and ``headlines`` (list of ``{title, url, source, published_at,
    p_negative}``). Empty frame for an unknown id.

    Raises:
        StorageError: the database cannot be read.
    """
    sql = f"""
        SELECT {", ".join(c for c in _DETAIL_COLUMNS if c != "entity_name")},
               coalesce(json_extract_string(explanation, '$.entity_name'), entity) AS entity_name
        FROM alerts WHERE alert_id = ?
    """
    return read(db_path, sql, [alert_id], _DETAIL_COLUMNS)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def active_silences(db_path: str, at: pd.Timestamp) -> pd.DataFrame:
    """Return the silences not yet ended at ``at`` (active or starting later), newest first.

    Columns: ``silence_id``, ``matchers`` (JSON text), ``starts_at``, ``ends_at``, ``author``,
    ``comment``, ``created_at``, ``expired_at`` (UTC).

    Args:
        db_path: path of ``tonewatch.duckdb``.
        at: the instant, tz-aware (the page passes now rounded to the minute, for caching).

    Raises:
        StorageError: the database cannot be read (a database without the ``silences`` table,
            migration 003, also raises).
    """
    sql = f"""
        SELECT {", ".join(_SILENCE_COLUMNS)} FROM silences
        WHERE ends_at > ? AND (expired_at IS NULL OR expired_at > ?)
        ORDER BY created_at DESC
    """
    return read(db_path, sql, [at, at], _SILENCE_COLUMNS)


#: Columns of :func:`silence_history`: the creation and the expiry, each with who and why.
HISTORY_COLUMNS = [*_SILENCE_COLUMNS, "expired_by", "expiry_comment"]


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def silence_history(db_path: str, limit: int = 200) -> pd.DataFrame:
    """Return every silence, ended ones included, newest first: the audit trail.

    Columns: :data:`HISTORY_COLUMNS` (``author``/``created_at``/``comment``: who created it,
    when, why; ``expired_by``/``expired_at``/``expiry_comment``: who ended it early, when,
    why; instants UTC). A database not yet upgraded to migration 006 has no expiry
    attribution: those columns come back empty.

    Raises:
        StorageError: the database cannot be read.
    """
    sql = "SELECT * FROM silences ORDER BY created_at DESC LIMIT ?"
    frame = read(db_path, sql, [int(limit)], HISTORY_COLUMNS)
    return frame.reindex(columns=HISTORY_COLUMNS)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def silence_count(db_path: str) -> int:
    """Return how many silences there are, ended ones included (:func:`silence_history`
    returns only the newest).

    Raises:
        StorageError: the database cannot be read.
    """
    frame = read(db_path, "SELECT count(*) AS n FROM silences", [], ["n"])
    return int(frame["n"].iloc[0]) if len(frame) else 0


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def entity_alerts(db_path: str, scope: str, entity: str, limit: int = 100) -> pd.DataFrame:
    """Return the alerts of one entity of one scope (any state), newest window first.

    Used by the Companies page (``scope='ticker'``, entity = the ticker) and the Sectors page
    (``scope='sector'``, entity = the sector name). Columns as :func:`list_alerts`.

    Raises:
        StorageError: the database cannot be read.
    """
    sql = f"""
        SELECT {", ".join(c for c in _LIST_COLUMNS if c != "entity_name")},
               coalesce(json_extract_string(explanation, '$.entity_name'), entity) AS entity_name
        FROM alerts WHERE scope = ? AND entity = ?
        ORDER BY window_end DESC, created_at DESC, alert_id
        LIMIT ?
    """
    frame = read(db_path, sql, [scope, entity, int(limit)], _LIST_COLUMNS)
    return frame[_LIST_COLUMNS]
