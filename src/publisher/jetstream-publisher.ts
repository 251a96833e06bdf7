import { createHash } from 'node:crypto'
import { jetstream, type JetStreamClient } from '@nats-io/jetstream'
import { connect as connectNats, type NatsConnection } from '@nats-io/transport-node'
import { publishEach, type PublishPlan, type PublishTally } from './publish-loop.js'

export interface JetStreamTarget {
  servers: readonly string[]
  name: string
}

export type JetStreamConnected = { ok: true; nc: NatsConnection; js: JetStreamClient } | { ok: false; error: string }

/** Connects to the first server of the list that answers; none answering is an error value, not a throw. */
export async function connect(target: JetStreamTarget, ackTimeoutMs = 30_000): Promise<JetStreamConnected> {
  try {
    const nc = await connectNats({ servers: [...target.servers], name: target.name, timeout: 5_000 })
    return { ok: true, nc, js: jetstream(nc, { timeout: ackTimeoutMs }) }
  } catch (error) {
    return { ok: false, error: (error as Error).message }
  }
}

/**
 * The message id JetStream deduplicates on within the stream's duplicate window: a hash of the bytes, so an
 * identical republish is dropped by the server while a *different* document under a stored order_uid still
 * reaches the service (and becomes a conflict dead letter there).
 */
export function messageId(payload: Uint8Array): string {
  return createHash('sha256').update(payload).digest('hex')
}

/**
 * Publishes to the subject with a message id each (unless `messageIds` is false) and waits for every PubAck (or its
 * failure), at most `inFlight` out. Publishing stops early on a closed connection or an abort: `published` says how
 * far it got.
 */
export async function publishAll(
  js: JetStreamClient,
  nc: NatsConnection,
  messages: Iterable<Buffer>,
  plan: PublishPlan & { subject: string; messageIds?: boolean },
): Promise<PublishTally> {
  return publishEach(
    messages,
    plan,
    (payload, settle) =>
      js.publish(plan.subject, payload, plan.messageIds === false ? {} : { msgID: messageId(payload) }).then(
        (ack) => settle(undefined, ack.duplicate),
        (error: unknown) => settle(error instanceof Error ? error.message : String(error)),
      ),
    () => nc.isClosed(),
  )
}

/** Flushes and closes the connection. */
export async function close(nc: NatsConnection): Promise<void> {
  await nc.close()
}
