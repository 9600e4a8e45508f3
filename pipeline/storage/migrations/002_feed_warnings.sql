-- Version 2: keep the parser warnings of a feed's last fetch (encoding overrides, undefined
-- entities...) next to its health, and flag what the tokenizer truncated per score.
-- articles.date_quality gains the value out_of_range (a future or pre-horizon date replaced by
-- the fetch time); the column is free text, so no DDL is needed for it.
ALTER TABLE feeds ADD COLUMN IF NOT EXISTS warnings VARCHAR;   -- '; '-joined, NULL when none
ALTER TABLE scores ADD COLUMN IF NOT EXISTS truncated BOOLEAN; -- input longer than max_length
