-- Version 3: silences (as Prometheus Alertmanager's): label matchers that mute notifications of
-- matching alerts between starts_at and ends_at. Rows are never deleted: expiring one sets
-- expired_at, so who muted what, when and why stays auditable.
CREATE TABLE IF NOT EXISTS silences (
    silence_id  VARCHAR PRIMARY KEY,
    matchers    JSON NOT NULL,          -- [{"label": "entity", "op": "=", "value": "ACME"}, ...]
    starts_at   TIMESTAMPTZ NOT NULL,
    ends_at     TIMESTAMPTZ NOT NULL,
    author      VARCHAR NOT NULL,
    comment     VARCHAR NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    expired_at  TIMESTAMPTZ
);
