-- Version 5: the company is the unit of monitoring.
--
-- companies: the company universe in force (default data package + the user's file), written
--   by the ingest stage so that SQL (sector scope, the dashboard) can join a company's sector.
-- article_entities: which companies each article is about, how each link was made and how
--   central the company is to the article (relevance 0..1). articles.tickers stays the sorted
--   list of an article's linked tickers (a contract other tools rely on).
-- entity_scores: the label and probabilities of an article *toward one company*, from a model
--   told which company is meant; article-level scores stay in `scores`.

CREATE TABLE IF NOT EXISTS companies (
    ticker      VARCHAR PRIMARY KEY,
    name        VARCHAR NOT NULL,
    exchange    VARCHAR,
    country     VARCHAR,
    sector      VARCHAR,
    industry    VARCHAR,
    aliases     VARCHAR[],
    source      VARCHAR,                          -- data package and version, or the user's file
    updated_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE IF NOT EXISTS article_entities (
    article_id  VARCHAR NOT NULL,
    entity      VARCHAR NOT NULL,                 -- ticker
    method      VARCHAR NOT NULL,                 -- ticker_column | cashtag | exchange_prefix | instrument_code | name | alias | short_name | category | feed_ticker | stored
    relevance   DOUBLE NOT NULL,                  -- 0..1: headline > summary > category only
    mention     VARCHAR,                          -- the text naming the company, as written
    PRIMARY KEY (article_id, entity)
);
CREATE INDEX IF NOT EXISTS article_entities_entity ON article_entities (entity);

-- Databases made before version 5 knew tickers only as articles.tickers: keep them as links
-- ("stored"; relevance 1, as the old linker matched the text itself) until a relink.
INSERT INTO article_entities
SELECT article_id, entity, 'stored', 1.0, NULL
FROM (SELECT DISTINCT article_id, unnest(tickers) AS entity FROM articles WHERE tickers IS NOT NULL)
WHERE entity IS NOT NULL AND entity <> ''
ON CONFLICT DO NOTHING;

CREATE TABLE IF NOT EXISTS entity_scores (
    article_id       VARCHAR NOT NULL,
    entity           VARCHAR NOT NULL,
    model_version    VARCHAR NOT NULL,
    label            VARCHAR NOT NULL,            -- negative | neutral | positive, toward entity
    p_negative       DOUBLE NOT NULL,
    p_neutral        DOUBLE NOT NULL,
    p_positive       DOUBLE NOT NULL,
    sentiment_score  DOUBLE NOT NULL,             -- p_positive - p_negative, in [-1, 1]
    target           VARCHAR NOT NULL,            -- how the model was told the company (its mention or name)
    content_hash     VARCHAR NOT NULL,            -- article content scored
    scored_at        TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (article_id, entity, model_version)
);
