import { createHash } from 'node:crypto'
import { jetstream, type JetStreamClient } from '@nats-io/jetstream'
import { connect as connectNats, InvalidArgumentError, type NatsConnection } from '@nats-io/transport-node'
import { CONNECT_TIMEOUT_MS, PINGS } from '../ingest/jetstream-subscription.js'
import { emptyTally, publishEach, type PublishPlan, type PublishTally } from './publish-loop.js'
import { withTimeout } from '../timeout.js'

export interface JetStreamTarget {
  servers: readonly string[]
  name: string
  /**
   * Reconnect without a limit (to the servers of the list and those the cluster announces, a connection that stops
   * answering noticed by pings within 6 s, as the service's), for a publisher that re-publishes what a fail-over
   * failed. Otherwise the client's default: 10 attempts per server.
   */
  keepReconnecting?: boolean
}

export type JetStreamConnected = { ok: true; nc: NatsConnection; js: JetStreamClient } | { ok: false; error: string }

/** Connects to the first server of the list that answers; none answering is an error value, not a throw. */
export async function connect(target: JetStreamTarget, ackTimeoutMs = 30_000): Promise<JetStreamConnected> {
  const reconnect = target.keepReconnecting === true ? { maxReconnectAttempts: -1, reconnectTimeWait: 250, ...PINGS } : {}
  try {
    const nc = await connectNats({ servers: [...target.servers], name: target.name, timeout: CONNECT_TIMEOUT_MS, ...reconnect })
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
  const tally = emptyTally()
  void (async () => {
    for await (const status of nc.status()) if (status.type === 'disconnect') tally.connectionsLost++
  })()
  return publishEach(
    messages,
    plan,
    (payload, settle) =>
      js.publish(plan.subject, payload, plan.messageIds === false ? {} : { msgID: messageId(payload) }).then(
        (ack) => settle({ ok: true, duplicate: ack.duplicate }),
        // A payload over the server's max_payload is refused by the client before sending: publishing again cannot help.
        (error: unknown) => settle({ ok: false, reason: error instanceof Error ? error.message : String(error), final: error instanceof InvalidArgumentError }),
      ),
    () => nc.isClosed(),
    tally,
  )
}

const CLOSE_TIMEOUT_MS = 5_000

/** Flushes and closes the connection; a server that does not answer the flush is not waited for longer than 5 s. */
export async function close(nc: NatsConnection): Promise<void> {
  await withTimeout(nc.close(), CLOSE_TIMEOUT_MS, () => undefined)
}
