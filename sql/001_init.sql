-- Orders: one immutable row per order_uid, the document as JSONB.
CREATE TABLE orders (
  order_uid   text        PRIMARY KEY,
  doc         jsonb       NOT NULL,
  -- Arrival order, for "newest first" (recent list, cache warm-up) with a stable keyset cursor.
  ingest_id   bigint      GENERATED ALWAYS AS IDENTITY UNIQUE,
  received_at timestamptz NOT NULL DEFAULT now(),
  broker_seq  bigint
);

-- Everything the gate rejected, kept for inspection and replay.
CREATE TABLE dead_letters (
  id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  received_at    timestamptz NOT NULL DEFAULT now(),
  channel        text        NOT NULL,
  broker_seq     bigint,
  reason         text        NOT NULL,
  errors         jsonb       NOT NULL DEFAULT '[]',
  order_uid      text,
  -- The raw bytes, cut at a bound; payload_size and payload_sha256 describe the original.
  payload        bytea       NOT NULL,
  payload_size   integer     NOT NULL,
  payload_sha256 bytea       NOT NULL,
  replayed_at    timestamptz,
  replay_outcome text
);

-- A message redelivered after a crash between commit and ack is the same (channel, sequence, bytes): store it once.
CREATE UNIQUE INDEX dead_letters_message_once
  ON dead_letters (channel, broker_seq, payload_sha256)
  WHERE broker_seq IS NOT NULL;

CREATE INDEX dead_letters_received_at ON dead_letters (received_at);
