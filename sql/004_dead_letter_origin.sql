-- Where a message first was, when it came through a copy: stan2js, NATS's tool that moves NATS Streaming channels
-- to JetStream, sets Nats-Streaming-Channel and Nats-Streaming-Sequence on each message it copies. A dead letter
-- of such a message keeps that origin beside its JetStream position (channel, broker_seq). Null otherwise.
ALTER TABLE dead_letters ADD COLUMN origin_channel text, ADD COLUMN origin_seq bigint;
