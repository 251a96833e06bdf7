-- Bulk re-drives of dead letters (src/ingest/redrive.ts). A re-drive freezes the set its selection matched when it
-- started, and records what became of each letter: a letter has an outcome once, whoever did the work. Workers
-- claim letters with FOR UPDATE SKIP LOCKED, one bounded transaction per batch, so two operators running the same
-- re-drive share it and a crash loses only the batch in flight, which the next run does again.
CREATE TABLE dead_letter_redrives (
  id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- {reason, channel, from, to, limit}: every key present, null when not given, so equal selections are equal jsonb.
  selection   jsonb       NOT NULL,
  started_at  timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz
);

-- Starting a selection that is still running joins it rather than begin a second one.
CREATE UNIQUE INDEX dead_letter_redrives_running_once ON dead_letter_redrives (selection) WHERE finished_at IS NULL;

CREATE TABLE dead_letter_redrive_letters (
  redrive_id bigint NOT NULL REFERENCES dead_letter_redrives ON DELETE CASCADE,
  letter_id  bigint NOT NULL REFERENCES dead_letters ON DELETE CASCADE,
  -- Null until done; then stored, duplicate, truncated, or 'rejected: <reason>' (as dead_letters.replay_outcome).
  outcome    text,
  PRIMARY KEY (redrive_id, letter_id)
);

-- What is left to do, found without reading what is done.
CREATE INDEX dead_letter_redrive_letters_to_do ON dead_letter_redrive_letters (redrive_id, letter_id) WHERE outcome IS NULL;
-- Retention deletes dead letters: their rows here go with them (the cascade looks them up by letter).
CREATE INDEX dead_letter_redrive_letters_letter ON dead_letter_redrive_letters (letter_id);
