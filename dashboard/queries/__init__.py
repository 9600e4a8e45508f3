"""Read-only data access for the dashboard, one module per page.

Every function opens a short-lived ``read_only=True`` DuckDB connection (see
:func:`dashboard.queries.core.read`), runs its query, closes the connection and returns a pandas
DataFrame whose TIMESTAMPTZ columns are tz-aware UTC. Nothing holds a connection between calls.
Results are cached with ``st.cache_data`` for :data:`CACHE_TTL_S` seconds, keyed on the database
path (a string) and the arguments. A missing database file is not an error: the functions return
empty frames with their documented columns and pages check :func:`database_exists` first.

Scores shown are always those of one model version, the *production model*
(:func:`production_model`).
"""

from dashboard.queries.alerts import (
    active_silences, alert_detail, entity_alerts, list_alerts, silence_count, silence_history,
)
from dashboard.queries.articles import (
    ArticleFilter, article_companies, count_articles, export_articles, filter_choices,
    find_articles,
)
from dashboard.queries.companies import (
    company, company_daily, company_stories, has_company_tables, search_companies,
)
from dashboard.queries.core import (
    CACHE_TTL_S, READ_LOCK_TIMEOUT_S, database_exists, day_coverage, last_dated,
    production_model, production_version,
)
from dashboard.queries.entities import entity_changes, entity_daily, link_coverage
from dashboard.queries.feeds import feed_health
from dashboard.queries.model import label_drift, model_versions, shadow_transitions
from dashboard.queries.overview import (
    HOURLY_DAYS, headline_counts, last_run, latest_alerts, latest_headlines, timeline,
)
from dashboard.queries.sectors import sector_companies, sector_daily, sector_totals

__all__ = [
    "CACHE_TTL_S", "HOURLY_DAYS", "READ_LOCK_TIMEOUT_S", "ArticleFilter", "active_silences",
    "alert_detail", "article_companies", "company", "company_daily", "company_stories",
    "count_articles", "database_exists", "day_coverage", "entity_alerts", "entity_changes",
    "entity_daily", "export_articles", "feed_health", "filter_choices", "find_articles",
    "has_company_tables", "headline_counts", "label_drift", "last_dated", "last_run",
    "latest_alerts", "latest_headlines", "link_coverage", "list_alerts", "model_versions",
    "production_model", "production_version", "search_companies", "sector_companies",
    "sector_daily", "sector_totals", "shadow_transitions", "silence_count", "silence_history",
    "timeline",
]
