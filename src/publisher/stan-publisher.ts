import { setTimeout as sleep } from 'node:timers/promises'
import stan from 'node-nats-streaming'
import { CONNECT_TIMEOUT_MS } from '../ingest/stan-client.js'
import { connectOptions, ServerRing } from '../ingest/stan-subscription.js'
import { emptyTally, publishEach, REPUBLISH_DELAY, type PublishPlan as BasePlan, type PublishTally, type SendOne } from './publish-loop.js'
import { Backoff } from '../backoff.js'
import { withTimeout } from '../timeout.js'

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
    // A publisher run that does not fail over: fail fast instead of buffering publishes for a broker that went away.
    const connected = await connectTo({ url: server, maxReconnectAttempts: 0 }, target, ackTimeoutMs)
    if (connected.ok) return connected
    errors.push(target.servers.length > 1 ? `${server}: ${connected.error}` : connected.error)
  }
  return { ok: false, error: errors.join('; ') }
}

function connectTo(connection: stan.StanOptions, target: StanTarget, ackTimeoutMs: number): Promise<Connected> {
  return new Promise((resolve) => {
    const client = stan.connect(target.clusterId, target.clientId, {
      ...connection,
      ackTimeout: ackTimeoutMs,
      // We bound the un-acked publishes ourselves; the client's own limit would fail them instead of waiting.
      maxPubAcksInflight: Number.MAX_SAFE_INTEGER,
    })
    const onError = (error: unknown) => {
      clearTimeout(timer)
      client.removeListener('connect', onConnect)
      client.removeListener('error', onError)
      // Whatever the abandoned client still reports must not crash the process as an unheard 'error'.
      client.on('error', () => {})
      try {
        client.close()
      } catch {
        // Never connected: nothing to release.
      }
      resolve({ ok: false, error: describe(error) })
    }
    // node-nats-streaming passes no connect timeout on: a server that accepts and says nothing would hold us for ever.
    const timer = setTimeout(() => onError(`no answer within ${CONNECT_TIMEOUT_MS} ms`), CONNECT_TIMEOUT_MS)
    const onConnect = () => {
      clearTimeout(timer)
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

/** A connection that moves to the next server of its list whenever it is lost, for a publisher that re-publishes. */
export interface StanSession {
  /** Publishes once on the live connection; while there is none, waits for the next (until the message's give-up time). */
  send: SendOne
  /** Connections lost (and replaced, or being replaced) so far, and the errors the broker reported. */
  failovers(): number
  errors(): string[]
  /** Closes the live connection; a reconnect in progress stops. */
  close(): Promise<void>
}

interface Live extends Connection {
  server: string
  /** Set when the connection went: an ack callback after this is no ack (node-nats-streaming calls them without an error). */
  lost: boolean
}

/**
 * Connects to the first server of the list that answers (each tried once: none answering is an error value), then
 * keeps a connection: when it is lost, the next server of the list, in turn, as the service's subscription does
 * (src/ingest/stan-subscription.ts), pausing from 100 ms up to 2 s only once every server has failed in a row.
 * Each connection has a client id of its own (`clientId-1`, `-2`, …): the broker still holds the lost one's for a
 * while and would refuse it.
 */
export async function openSession(
  target: StanTarget & { channel: string; signal?: AbortSignal },
  ackTimeoutMs = 30_000,
): Promise<({ ok: true } & StanSession) | { ok: false; error: string }> {
  const ring = new ServerRing(target.servers)
  const brokerErrors: string[] = []
  let serial = 0
  let failovers = 0
  let closing = false
  let current: Live | undefined
  let waiters: Array<(live: Live | undefined) => void> = []

  const attempt = async (): Promise<Live | string> => {
    const server = ring.next()
    const id = serial === 0 ? target.clientId : `${target.clientId}-${serial}`
    serial++
    // The service's connection options: no reconnect of the NATS client (a new connection per server), pings that
    // notice a connection that stops answering within 8 s.
    const connected = await connectTo(connectOptions(server, id), { ...target, clientId: id }, ackTimeoutMs)
    if (!connected.ok) return target.servers.length > 1 ? `${server}: ${connected.error}` : connected.error
    const live: Live = { ...connected, server, lost: false }
    const lose = () => {
      if (live.lost) return
      live.lost = true
      if (current === live) current = undefined
      failovers++
      if (!closing) void reconnect()
    }
    live.client.on('disconnect', lose)
    live.client.on('connection_lost', lose)
    live.client.on('close', lose)
    live.client.on('error', (error: unknown) => brokerErrors.push(describe(error)))
    return live
  }

  const reconnect = async () => {
    const delays = new Backoff(REPUBLISH_DELAY)
    while (!closing) {
      const live = await attempt()
      if (typeof live !== 'string') {
        if (closing) {
          await close(live)
          return
        }
        ring.connected()
        current = live
        for (const wake of waiters.splice(0)) wake(live)
        return
      }
      if (ring.roundFailed()) await sleep(delays.next())
    }
  }

  const failures: string[] = []
  for (let i = 0; i < target.servers.length && current === undefined; i++) {
    const live = await attempt()
    if (typeof live === 'string') failures.push(live)
    else current = live
  }
  if (current === undefined) return { ok: false, error: failures.join('; ') }
  // Interrupted: publishes waiting for a connection give up now rather than at their give-up time.
  target.signal?.addEventListener('abort', () => waiters.splice(0).forEach((wake) => wake(undefined)), { once: true })

  const waitForConnection = (giveUpAt: number): Promise<Live | undefined> => {
    let wake!: (live: Live | undefined) => void
    const woken = new Promise<Live | undefined>((resolve) => waiters.push((wake = resolve)))
    return withTimeout(woken, Math.max(0, giveUpAt - performance.now()), () => {
      waiters = waiters.filter((waiter) => waiter !== wake)
      return undefined
    })
  }

  const publishOn: (live: Live, payload: Buffer, settle: Parameters<SendOne>[1]) => void = (live, payload, settle) => {
    // The server closes the connection of a client that publishes more than its max_payload: refuse it here instead.
    const maxPayload = (live.client as unknown as { nc?: { info?: { max_payload?: number } } }).nc?.info?.max_payload
    if (maxPayload !== undefined && payload.length > maxPayload) {
      return settle({ ok: false, reason: `larger than the server's max_payload (${maxPayload} bytes)`, final: true })
    }
    try {
      live.client.publish(target.channel, payload, (error) =>
        settle(error ? { ok: false, reason: describe(error) } : live.lost ? { ok: false, reason: 'connection lost before the ack' } : { ok: true }),
      )
    } catch (error) {
      // The connection closed under the call, before its events told us: published again on the next one.
      settle({ ok: false, reason: describe(error) })
    }
  }

  return {
    ok: true,
    send(payload, settle, giveUpAt) {
      if (current !== undefined) return publishOn(current, payload, settle)
      void waitForConnection(giveUpAt).then((live) =>
        live === undefined ? settle({ ok: false, reason: target.signal?.aborted ? 'interrupted while waiting for a broker connection' : 'no broker connection in time', final: true }) : publishOn(live, payload, settle),
      )
    },
    failovers: () => failovers,
    errors: () => brokerErrors,
    async close() {
      closing = true
      for (const wake of waiters.splice(0)) wake(undefined)
      if (current !== undefined) await close(current)
    },
  }
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
      client.publish(plan.channel, payload, (error) =>
        settle(error ? { ok: false, reason: describe(error) } : disconnected ? { ok: false, reason: 'connection lost before the ack' } : { ok: true }),
      ),
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
