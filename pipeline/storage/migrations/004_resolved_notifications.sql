-- Version 4: notifications say what they announce: an alert firing or the end of one.
ALTER TABLE notifications ADD COLUMN IF NOT EXISTS kind VARCHAR DEFAULT 'firing';  -- firing | resolved
