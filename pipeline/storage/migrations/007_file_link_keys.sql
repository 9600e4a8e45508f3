-- Version 7: articles of local feed files keyed the way tonewatch did before issue 21 are
-- re-keyed the way it does now, so an upgrade does not list (and score) each of them twice.
-- Before, a relative link in a local file was resolved by feedparser, which read the file's
-- first folder as a host ('file://tmp/feeds/a.html' for /tmp/feeds/a.html), and the article
-- key was sha1('url' 0x1F link) for every link. Now the link is 'file:///tmp/feeds/a.html' and
-- a file: link is scoped to its feed: sha1('url' 0x1F feed_id 0x1F link).
-- Such rows are recognised by their key (it hashes their url alone). A row whose new form is
-- already stored (the feed was read again after the upgrade) is removed, its scores carried
-- over where the stored copy has none; any other is moved to its new key and url, with its
-- scores and company links. The old form
-- lower-cased the first folder, so a path such as /Users/... cannot be restored exactly: it
-- becomes file:///users/... and, if read again, is stored once more under its real spelling.
CREATE TABLE _file_rekey AS
SELECT old_id, new_url,
       coalesce((SELECT min(a.article_id) FROM articles a
                 WHERE a.feed_id = o.feed_id AND a.article_id <> o.old_id
                   AND lower(a.url) = lower(o.new_url)),
                sha1('url' || chr(31) || feed_id || chr(31) || new_url)) AS new_id
FROM (SELECT article_id AS old_id, feed_id,
             CASE WHEN url LIKE 'file:///%' THEN url ELSE 'file:///' || substr(url, 8) END AS new_url
      FROM articles
      WHERE url LIKE 'file://%' AND article_id = sha1('url' || chr(31) || url)) AS o;
ALTER TABLE _file_rekey ADD COLUMN merged BOOLEAN;
UPDATE _file_rekey SET merged = new_id IN (SELECT article_id FROM articles);

INSERT INTO articles
SELECT a.* REPLACE (r.new_id AS article_id, r.new_url AS url)
FROM articles a JOIN _file_rekey r ON a.article_id = r.old_id WHERE NOT r.merged;
INSERT INTO scores
SELECT s.* REPLACE (r.new_id AS article_id)
FROM scores s JOIN _file_rekey r ON s.article_id = r.old_id
ON CONFLICT DO NOTHING;
INSERT INTO article_entities
SELECT e.* REPLACE (r.new_id AS article_id)
FROM article_entities e JOIN _file_rekey r ON e.article_id = r.old_id WHERE NOT r.merged;
INSERT INTO entity_scores
SELECT e.* REPLACE (r.new_id AS article_id)
FROM entity_scores e JOIN _file_rekey r ON e.article_id = r.old_id
ON CONFLICT DO NOTHING;

DELETE FROM entity_scores WHERE article_id IN (SELECT old_id FROM _file_rekey);
DELETE FROM article_entities WHERE article_id IN (SELECT old_id FROM _file_rekey);
DELETE FROM scores WHERE article_id IN (SELECT old_id FROM _file_rekey);
DELETE FROM articles WHERE article_id IN (SELECT old_id FROM _file_rekey);
DROP TABLE _file_rekey;
