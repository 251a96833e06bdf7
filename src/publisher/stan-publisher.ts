import stan from 'node-nats-streaming'
import { emptyTally, publishEach, type PublishPlan as BasePlan, type PublishTally } from './publish-loop.js'

export type { PublishTally }

export interface StanTarget {
  /** Tried in turn until one answers: one server, or the nodes of a cluster. */
  servers: readonly string[]
  clusterId: string
  clientId: string
}

export interface PublishPlan extends BasePlan {
  channel: string
}

export interface Connection {
  client: stan.Stan
  /** Settles when the connection has closed, whether we closed it or the broker went away. */
  closed: Promise<void>
  isClosed(): boolean
}

export type Connected = ({ ok: true } & Connection) | { ok: false; error: string }

/**
 * Connects to the first server that answers and waits for the streaming handshake; a broker that cannot be reached
 * is an error value, not a throw. `ackTimeoutMs`: how long the broker may take to ack one publish before it counts
 * as failed.
 */
export async function connect(target: StanTarget, ackTimeoutMs = 30_000): Promise<Connected> {
  const errors: string[] = []
  for (const server of target.servers) {
    const connected = await connectTo(server, target, ackTimeoutMs)
    if (connected.ok) return connected
    errors.push(target.servers.length > 1 ? `${server}: ${connected.error}` : connected.error)
  }
  return { ok: false, error: errors.join('; ') }
}

function connectTo(server: string, target: StanTarget, ackTimeoutMs: number): Promise<Connected> {
  return new Promise((resolve) => {
    const client = stan.connect(target.clusterId, target.clientId, {
      url: server,
      ackTimeout: ackTimeoutMs,
      // We bound the un-acked publishes ourselves; the client's own limit would fail them instead of waiting.
      maxPubAcksInflight: Number.MAX_SAFE_INTEGER,
      // A publisher run is short: fail fast instead of buffering publishes for a broker that went away.
      maxReconnectAttempts: 0,
    })
    const onError = (error: unknown) => {
      client.removeListener('connect', onConnect)
      client.close()
      resolve({ ok: false, error: describe(error) })
    }
    const onConnect = () => {
      client.removeListener('error', onError)
      let isClosed = false
      const closed = new Promise<void>((settle) =>
        client.once('close', () => {
          isClosed = true
          settle()
        }),
      )
      resolve({ ok: true, client, closed, isClosed: () => isClosed })
    }
    client.once('error', onError)
    client.once('connect', onConnect)
  })
}

/**
 * Publishes the messages and waits for all acks (or their failure). A broker error after connecting
 * fails the publishes it concerns through their ack callbacks, which is where it is counted.
 * Publishing stops early on a lost connection or an abort: `published` then says how far it got.
 */
export async function publishAll(client: stan.Stan, messages: Iterable<Buffer>, plan: PublishPlan): Promise<PublishTally> {
  const tally = emptyTally()
  const onError = (error: unknown) => tally.connectionErrors.push(describe(error))
  // node-nats-streaming calls pending ack handlers *without* an error when the connection drops,
  // so an "ack" after a disconnect is no ack at all.
  let disconnected = false
  const onDisconnect = () => (disconnected = true)
  client.on('error', onError)
  client.on('disconnect', onDisconnect)
  await publishEach(
    messages,
    plan,
    (payload, settle) =>
      client.publish(plan.channel, payload, (error) => settle(error ? describe(error) : disconnected ? 'connection lost before the ack' : undefined)),
    () => disconnected,
    tally,
  )
  client.removeListener('error', onError)
  client.removeListener('disconnect', onDisconnect)
  return tally
}

/** Closes the connection and waits until the broker has been told (or the close request timed out). */
export async function close(connection: Connection): Promise<void> {
  // Closing a client whose connection the broker already dropped would wait for a close request that cannot be sent.
  if (!connection.isClosed()) connection.client.close()
  await connection.closed
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.message
  return String(error)
}
