"""The database of the dashboard benchmark (``bench/dashboard.py``): bulk rows made in DuckDB.

Not a benchmark itself. :func:`generate` writes a ``tonewatch.duckdb`` with the library's schema
(``pipeline.storage.db.connect`` applies the migrations) and rows made with ``range()`` and
``hash()`` in SQL (no Python loops over rows):

- articles spread over the year before ``end`` from :data:`N_FEEDS` feeds, 0-2 tickers each out
  of :data:`N_TICKERS`, each scored by the production model (labels about 30 % negative, 45 %
  neutral, 25 % positive); the last 30 days also by a candidate version (the Model page's shadow
  comparison);
- the company universe: one ``companies`` row per ticker (a made-up name, exchange and country,
  one of the 11 GICS sectors spread by hash, aliases for two thirds of them);
- one ``article_entities`` link per ticker of an article, made as the linker makes them: mostly
  the name in the headline (relevance 1.0), some a cashtag (1.0), the name only in the summary
  (0.6) or only a category (0.4);
- ``entity_scores`` of the production model for 95 % of the links (the rest: the article label
  stands in): three in four links share their article's label, one in four is drawn again, so
  about one link in six is judged differently from its article;
- alerts over the same year, a quarter each of market, ticker, sector and source scope; ticker
  and sector alerts carry headlines with the company fields that
  :func:`pipeline.storage.stories.window_details` writes (company, method, relevance, mention,
  label, targeted);
- feeds with mixed health states and a year of pipeline ``runs``.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pipeline.companies.sectors import GICS_SECTORS
from pipeline.storage.db import connect

PRODUCTION, CANDIDATE = "bench-production", "bench-candidate"
N_FEEDS, N_TICKERS = 60, 400
_FIRST = ["Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Tyrell", "Cyberdyne",
          "Soylent", "Hooli", "Vandelay", "Oscorp", "Wonka", "Monarch", "Aperture", "Massive"]
_SECOND = ["Industries", "Holdings", "Corp", "Group", "Systems", "Energy", "Capital", "Labs"]
_EXCHANGES = ["NYSE", "NASDAQ", "LSE", "XETRA", "TSE"]
_COUNTRIES = ["US", "US", "GB", "DE", "JP"]  # of each exchange


def generate(path: Path, n_articles: int, n_alerts: int, end: datetime) -> float:
    """Write the benchmark database at ``path``; return the seconds it took.

    Args:
        path: the database file to create (``tonewatch.duckdb``).
        n_articles: articles over the year before ``end``.
        n_alerts: alerts over the same year.
        end: the data's end instant (aware UTC).
    """
    started = time.perf_counter()
    with connect(path) as con:
        con.execute("SET preserve_insertion_order = false")
        _feeds_and_articles(con, n_articles, end)
        _companies_and_links(con, end)
        _alerts(con, n_alerts, end)
        con.execute("""
            INSERT INTO runs
            SELECT 'run' || i, stage, NULL, NULL, t0, t0 + INTERVAL 2 MINUTE, 'ok', '{}'
            FROM (SELECT i, ?::TIMESTAMPTZ - to_seconds(3600 * i) AS t0 FROM range(8760) t(i)),
                 (VALUES ('ingest'), ('score'), ('detect')) s(stage)
        """, [end])
        con.execute("CHECKPOINT")
    return time.perf_counter() - started


def _feeds_and_articles(con, n_articles: int, end: datetime) -> None:
    """Feeds, articles, model versions and the article scores of both versions."""
    year_s = 365 * 86400
    con.execute(f"""
        INSERT INTO feeds (feed_id, name, url, category, last_attempt_at, last_success_at,
                           last_status, http_status, error_class, error_message,
                           entries_seen, entries_new, consecutive_failures)
        SELECT 'feed-' || i, 'Feed ' || i, 'https://feed' || i || '.example/rss', 'news',
               ?::TIMESTAMPTZ, CASE WHEN i % 20 = 7 THEN NULL ELSE ?::TIMESTAMPTZ END,
               CASE WHEN i % 20 = 7 THEN 'not_a_feed' WHEN i % 20 = 9 THEN 'fetch_failed'
                    ELSE 'ok' END,
               200, NULL, NULL, 40, 5, CASE WHEN i % 20 IN (7, 9) THEN 4 ELSE 0 END
        FROM range({N_FEEDS}) t(i)
    """, [end, end])
    # Article ids are 32 hex digits like the real sha1-based ones (joins on long strings cost
    # more than on short ones). Articles in publication order (as a live database mostly is),
    # evenly spread with an hour of jitter; single tickers skewed towards low numbers (a few
    # names dominate).
    con.execute(f"""
        INSERT INTO articles (article_id, feed_id, url, title, summary, text, published_at,
                              published_raw, date_quality, first_seen_at, fetched_at,
                              language, content_hash, story_id, tickers)
        SELECT md5('a' || i), 'feed-' || (hash(i) % {N_FEEDS}),
               'https://news.example/' || i,
               'Headline ' || i || ' about ' || (['earnings', 'rates', 'recall', 'merger',
                   'guidance', 'lawsuit', 'outlook'])[1 + (hash(i * 7) % 7)::BIGINT],
               NULL, NULL, ts, NULL, 'exact', ts, ts, 'en', 'h' || i, 's' || (i // 2),
               CASE hash(i * 3) % 3
                   WHEN 0 THEN []::VARCHAR[]
                   WHEN 1 THEN ['T' || floor({N_TICKERS}
                                * pow((hash(i * 5) % 10000) / 10000.0, 2))::INTEGER]
                   ELSE ['T' || (hash(i * 5) % 50), 'T' || (hash(i * 13) % {N_TICKERS})]
               END
        FROM (
            SELECT i, ?::TIMESTAMPTZ - to_seconds({year_s} - {year_s} * i // {n_articles})
                      + to_seconds((hash(i) % 3600)::BIGINT) AS ts
            FROM range({n_articles}) t(i)
        )
    """, [end])
    con.execute("""
        INSERT INTO model_versions VALUES
            (?, 'bench', 'models/registry/bench-production', 'production', ?, ?),
            (?, 'bench', 'models/registry/bench-candidate', 'candidate', NULL, ?)
    """, [PRODUCTION, json.dumps({
        "n": 1200, "accuracy": 0.84, "macro_f1": 0.82, "majority_baseline_accuracy": 0.45,
        "per_class": {lab: {"precision": 0.8, "recall": 0.8, "f1": 0.8, "support": 400}
                      for lab in ("negative", "neutral", "positive")},
        "confusion": [[330, 50, 20], [40, 340, 20], [15, 45, 340]]}),
        end, CANDIDATE, end])
    # Probabilities from a hash: negative-leaning, neutral-leaning or positive-leaning.
    scores_sql = """
        INSERT INTO scores (article_id, model_version, label, p_negative, p_neutral,
                            p_positive, sentiment_score, content_hash, scored_at, truncated)
        SELECT article_id, ?, label, pn, pu, pp, pp - pn, content_hash, ?, false
        FROM (
            SELECT article_id, content_hash,
                   CASE WHEN u < 0.30 THEN 'negative' WHEN u < 0.75 THEN 'neutral'
                        ELSE 'positive' END AS label,
                   CASE WHEN u < 0.30 THEN 0.6 + c ELSE (1 - 0.6 - c) / 2 END AS pn,
                   CASE WHEN u >= 0.30 AND u < 0.75 THEN 0.6 + c
                        ELSE (1 - 0.6 - c) / 2 END AS pu,
                   1 - pn - pu AS pp
            FROM (SELECT article_id, content_hash,
                         (hash(article_id || ?) % 10000) / 10000.0 AS u,
                         (hash(article_id || 'c') % 3500) / 10000.0 AS c
                  FROM articles WHERE published_at >= ?)
        )
    """
    con.execute(scores_sql, [PRODUCTION, end, "p", datetime(1970, 1, 1, tzinfo=UTC)])
    con.execute(scores_sql, [CANDIDATE, end, "q", end - timedelta(days=30)])


def _companies_and_links(con, end: datetime) -> None:
    """The company universe, each article's links to its tickers and the company-level scores."""
    con.execute(f"""
        INSERT INTO companies (ticker, name, exchange, country, sector, industry, aliases,
                               source, updated_at)
        SELECT 'T' || i, first || ' ' || second
                         || CASE WHEN i >= 128 THEN ' ' || (i // 128 + 1) ELSE '' END,
               $exchanges[x], $countries[x], sector, sector || ' (bench)',
               CASE hash(i * 11) % 3 WHEN 0 THEN []::VARCHAR[]
                    WHEN 1 THEN [first || ' ' || (i // 16)]
                    ELSE [first || ' ' || (i // 16), upper(first) || (i // 16)] END,
               'bench', $end
        FROM (SELECT i, $first[1 + i % 16] AS first, $second[1 + (i // 16) % 8] AS second,
                     (1 + hash(i * 19) % 5)::BIGINT AS x,
                     $sectors[(1 + hash(i * 17) % 11)::BIGINT] AS sector
              FROM range({N_TICKERS}) t(i))
    """, {"exchanges": _EXCHANGES, "countries": _COUNTRIES, "first": _FIRST,
          "second": _SECOND, "sectors": list(GICS_SECTORS), "end": end})
    # One link per distinct ticker of an article (an article may list one ticker twice).
    # k (by hash): 0-13 name in the headline, 14-15 cashtag, 16-18 name only in the summary,
    # 19 only a category.
    con.execute("""
        INSERT INTO article_entities (article_id, entity, method, relevance, mention)
        SELECT l.article_id, l.entity,
               CASE WHEN k < 14 OR k BETWEEN 16 AND 18 THEN 'name'
                    WHEN k < 16 THEN 'cashtag' ELSE 'category' END,
               CASE WHEN k < 16 THEN 1.0 WHEN k < 19 THEN 0.6 ELSE 0.4 END,
               CASE WHEN k < 14 OR k BETWEEN 16 AND 18 THEN c.name
                    WHEN k < 16 THEN '$' || l.entity END
        FROM (SELECT DISTINCT article_id, unnest(tickers) AS entity FROM articles) l
        JOIN companies c ON c.ticker = l.entity,
             LATERAL (SELECT hash(l.article_id || l.entity) % 20 AS k)
    """)
    # Three in four links take their article's label, one in four a label drawn again (30/45/25
    # as the articles); probabilities by hash, unlike the article's. One in twenty is unscored.
    con.execute("""
        INSERT INTO entity_scores
        SELECT article_id, entity, $model, label, pn, pu, 1 - pn - pu, 1 - pn - pu - pn,
               target, content_hash, $end
        FROM (
            SELECT *, CASE WHEN label = 'negative' THEN 0.5 + c ELSE (0.5 - c) / 2 END AS pn,
                      CASE WHEN label = 'neutral' THEN 0.5 + c ELSE (0.5 - c) / 2 END AS pu
            FROM (
                SELECT l.article_id, l.entity, a.content_hash,
                       coalesce(l.mention, c.name) AS target,
                       CASE WHEN hash(l.article_id || l.entity || 'd') % 4 > 0 THEN s.label
                            WHEN u < 0.30 THEN 'negative' WHEN u < 0.75 THEN 'neutral'
                            ELSE 'positive' END AS label,
                       (hash(l.article_id || l.entity || 'c') % 4500) / 10000.0 AS c
                FROM article_entities l JOIN articles a USING (article_id)
                JOIN companies c ON c.ticker = l.entity
                JOIN scores s ON s.article_id = l.article_id AND s.model_version = $model,
                     LATERAL (SELECT (hash(l.article_id || l.entity || 'u') % 10000)
                                     / 10000.0 AS u)
                WHERE hash(l.article_id || l.entity || 's') % 20 > 0
            )
        )
    """, {"model": PRODUCTION, "end": end})


def _alerts(con, n_alerts: int, end: datetime) -> None:
    """Alerts of the four scopes; ticker and sector ones with company headline fields."""
    year_s = 365 * 86400
    # i % 4: market, ticker, sector, source; i // 4 spreads the entities, so every company and
    # sector has alerts. Five headlines each, the most negative first (one neutral at the end).
    con.execute(f"""
        WITH e AS (
            SELECT i, scope, $end::TIMESTAMPTZ - to_seconds({year_s} - {year_s} * i // $n) AS we,
                   CASE scope WHEN 'market' THEN 'market'
                        WHEN 'ticker' THEN 'T' || (i // 4 % {N_TICKERS})
                        WHEN 'sector' THEN $sectors[(1 + i // 4 % 11)::BIGINT]
                        ELSE 'feed-' || (i // 4 % {N_FEEDS}) END AS entity
            FROM (SELECT i, ['market', 'ticker', 'sector', 'source'][1 + i % 4] AS scope
                  FROM range($n) t(i))
        ),
        sector_members AS (
            SELECT sector, list({{'ticker': ticker, 'name': name}} ORDER BY ticker) AS members
            FROM companies GROUP BY sector
        ),
        -- The companies a headline may be about: the ticker itself, or the sector's members.
        m AS (
            SELECT e.*, coalesce(c.name, replace(e.entity, 'feed-', 'Feed ')) AS entity_name,
                   CASE scope WHEN 'ticker' THEN [{{'ticker': entity, 'name': c.name}}]
                        WHEN 'sector' THEN s.members END AS members
            FROM e LEFT JOIN companies c ON c.ticker = e.entity
                   LEFT JOIN sector_members s ON s.sector = e.entity
        ),
        h AS (
            SELECT *, list_transform(range(5), lambda k: {{
                          'title': 'Headline ' || (i * 5 + k) || ' about recall',
                          'url': 'https://news.example/' || (i * 5 + k),
                          'feed_id': 'feed-' || ((i + k) % {N_FEEDS}),
                          'source': 'Feed ' || ((i + k) % {N_FEEDS}),
                          'published_at': strftime(we - to_seconds(3600 * (k + 1)),
                                                   '%Y-%m-%dT%H:%M:%S+00:00'),
                          'p_negative': CASE WHEN k < 4 THEN 0.95 - 0.05 * k ELSE 0.3 END,
                          'label': CASE WHEN k < 4 THEN 'negative' ELSE 'neutral' END,
                          'company': members[1 + (i + k) % len(members)]}}) AS heads
            FROM m
        )
        INSERT INTO alerts (alert_id, fingerprint, rule, scope, entity, window_start,
                            window_end, state, observed, expected, p_value, q_value,
                            severity, n_stories, n_negative, baseline_stories,
                            explanation, created_at, resolved_at)
        SELECT 'al' || i, 'fp' || (i % 500), scope || '_negative_surge', scope, entity,
               we - INTERVAL 1 DAY, we,
               CASE WHEN i >= $n - 20 THEN 'firing' ELSE 'resolved' END,
               0.6, 0.3, 1e-4, 1e-3,
               CASE WHEN scope = 'market' THEN 'critical' ELSE 'warning' END, 40, 24, 900,
               json_object(
                   'entity_name', entity_name, 'baseline_days', 28, 'metric', 'negative_share',
                   'n_sources', 4, 'model_version', $model,
                   'headlines', CASE WHEN members IS NULL
                       THEN to_json(list_transform(heads, lambda x: {{
                           'title': x.title, 'url': x.url, 'feed_id': x.feed_id,
                           'source': x.source, 'published_at': x.published_at,
                           'p_negative': x.p_negative, 'label': x.label}}))
                       ELSE to_json(list_transform(heads, lambda x, k: {{
                           'title': x.title, 'url': x.url, 'feed_id': x.feed_id,
                           'source': x.source, 'published_at': x.published_at,
                           'p_negative': x.p_negative, 'label': x.label,
                           'company': x.company.ticker,
                           'method': (['name', 'name', 'cashtag', 'name', 'category'])[k],
                           'relevance': ([1.0, 1.0, 1.0, 0.6, 0.4])[k],
                           'mention': CASE WHEN k = 3 THEN '$' || x.company.ticker
                                           WHEN k < 5 THEN x.company.name END,
                           'targeted': k % 3 <> 0}})) END),
               we, CASE WHEN i >= $n - 20 THEN NULL ELSE we + INTERVAL 1 DAY END
        FROM h
    """, {"n": n_alerts, "end": end, "model": PRODUCTION, "sectors": list(GICS_SECTORS)})
