-- tonewatch schema, version 1. Table and column names are a contract other tools rely on
-- (see STYLE.md section 3). All instants are TIMESTAMPTZ in UTC.

CREATE TABLE IF NOT EXISTS feeds (
    feed_id               VARCHAR PRIMARY KEY,   -- stable slug derived from the source
    name                  VARCHAR NOT NULL,
    url                   VARCHAR NOT NULL,      -- URL or local path as configured
    category              VARCHAR,
    etag                  VARCHAR,
    last_modified         VARCHAR,
    last_attempt_at       TIMESTAMPTZ,
    last_success_at       TIMESTAMPTZ,
    last_status           VARCHAR,               -- ok | no_new_entries | not_modified | fetch_failed | not_a_feed | parse_error
    http_status           INTEGER,
    error_class           VARCHAR,
    error_message         VARCHAR,
    entries_seen          INTEGER,
    entries_new           INTEGER,
    entries_dropped       INTEGER,
    consecutive_failures  INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE IF NOT EXISTS articles (
    article_id     VARCHAR PRIMARY KEY,          -- sha1 of the article key
    feed_id        VARCHAR NOT NULL,
    url            VARCHAR,                      -- canonical URL
    title          VARCHAR,                      -- display text (source suffix kept)
    summary        VARCHAR,
    text           VARCHAR,                      -- what the model scores
    published_at   TIMESTAMPTZ NOT NULL,
    published_raw  VARCHAR,
    date_quality   VARCHAR NOT NULL,             -- exact | zone_assumed | inferred
    first_seen_at  TIMESTAMPTZ NOT NULL,
    fetched_at     TIMESTAMPTZ NOT NULL,
    language       VARCHAR,
    content_hash   VARCHAR NOT NULL,
    story_id       VARCHAR NOT NULL,
    tickers        VARCHAR[]
);
CREATE INDEX IF NOT EXISTS articles_published ON articles (published_at);

CREATE TABLE IF NOT EXISTS scores (
    article_id       VARCHAR NOT NULL,
    model_version    VARCHAR NOT NULL,
    label            VARCHAR NOT NULL,            -- negative | neutral | positive
    p_negative       DOUBLE NOT NULL,
    p_neutral        DOUBLE NOT NULL,
    p_positive       DOUBLE NOT NULL,
    sentiment_score  DOUBLE NOT NULL,             -- p_positive - p_negative, in [-1, 1]
    content_hash     VARCHAR NOT NULL,            -- article content scored
    scored_at        TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (article_id, model_version)
);

CREATE TABLE IF NOT EXISTS model_versions (
    model_version  VARCHAR PRIMARY KEY,
    name           VARCHAR NOT NULL,
    path           VARCHAR NOT NULL,
    stage          VARCHAR NOT NULL,              -- candidate | production | archived
    metrics        JSON,
    created_at     TIMESTAMPTZ NOT NULL
);

CREATE TABLE IF NOT EXISTS alerts (
    alert_id      VARCHAR PRIMARY KEY,            -- sha1(fingerprint, window_start)
    fingerprint   VARCHAR NOT NULL,               -- sha1 of the sorted labels
    rule          VARCHAR NOT NULL,
    scope         VARCHAR NOT NULL,               -- market | ticker | source
    entity        VARCHAR NOT NULL,
    window_start  TIMESTAMPTZ NOT NULL,
    window_end    TIMESTAMPTZ NOT NULL,
    state         VARCHAR NOT NULL,               -- firing | resolved
    observed      DOUBLE,                         -- window negative share
    expected      DOUBLE,                         -- baseline negative share
    p_value       DOUBLE,
    q_value       DOUBLE,                         -- Benjamini-Hochberg adjusted
    severity      VARCHAR NOT NULL,
    n_stories     INTEGER,
    n_negative    INTEGER,
    baseline_stories INTEGER,
    explanation   JSON,
    created_at    TIMESTAMPTZ NOT NULL,
    resolved_at   TIMESTAMPTZ
);

CREATE TABLE IF NOT EXISTS notifications (
    idempotency_key  VARCHAR PRIMARY KEY,          -- sha1(fingerprint, receiver, window_start)
    alert_id         VARCHAR NOT NULL,
    receiver         VARCHAR NOT NULL,
    status           VARCHAR NOT NULL,             -- pending | sent | failed
    attempts         INTEGER NOT NULL DEFAULT 0,
    created_at       TIMESTAMPTZ NOT NULL,
    sent_at          TIMESTAMPTZ,
    error            VARCHAR
);

CREATE TABLE IF NOT EXISTS runs (
    run_id        VARCHAR NOT NULL,
    stage         VARCHAR NOT NULL,
    window_start  TIMESTAMPTZ,
    window_end    TIMESTAMPTZ,
    started_at    TIMESTAMPTZ NOT NULL,
    finished_at   TIMESTAMPTZ,
    status        VARCHAR NOT NULL,                -- running | ok | partial | failed
    counts        JSON,
    PRIMARY KEY (run_id, stage)
);
