import type stan from 'node-nats-streaming'
import type { Logger } from 'pino'
import type { Config } from '../config.js'
import { CONNECT_TIMEOUT_MS, connectStan, PINGS, type StanClientOptions, type StanConnection, type StanSubscription } from './stan-client.js'
import { rereadStanChannel } from './stan-reread.js'
import type { BrokerMessage, BrokerSubscription, Transport } from './transport.js'
import { Backoff, type BackoffPolicy } from '../backoff.js'
import { withTimeout } from '../timeout.js'

export interface StanSubscriptionOptions {
  /**
   * The broker's servers (nodes of one cluster), tried in this order; servers the cluster announces are added
   * after them. Any one that answers will do: in clustered mode every node reaches the same channels.
   */
  servers: readonly string[]
  clusterId: string
  /**
   * Unique per instance and stable across its restarts: the broker then replaces the dead connection at once
   * (its duplicate-id check), and the restarted instance takes over its place in the group.
   */
  clientId: string
  channel: string
  durableName: string
  /** A durable queue group shared by every instance: each message goes to one of them. Unset: a plain durable. */
  queueGroup?: string
  /**
   * The plain durable (`durableName` under this client id) of a single-instance deployment that used no queue
   * group: removed once the group is subscribed. The group started at the channel's first message, so it covers
   * whatever that durable had not acked; the stale durable would only linger on the broker.
   */
  retireDurableOf?: string
  /** Messages delivered and not acked at most: this bounds the writer's buffer during an outage. */
  maxInFlight: number
  /** How long the broker waits for an ack before redelivering; longer than a batch takes. */
  ackWaitMs: number
  log: Pick<Logger, 'info' | 'warn'>
  /** Reconnect delays: from initialMs, doubling, up to maxMs. */
  retry?: BackoffPolicy
}

interface Session {
  server: string
  /** Settles once the connection and the subscription are set up, or failed: a close waits for it. */
  started?: Promise<void>
  connection?: StanConnection
  subscription?: StanSubscription
  /** Set once this session failed or is closed: its late events are ignored, a new session takes over. */
  over: boolean
}

const RETIRE_TIMEOUT_MS = 10_000
/** Each later request to the broker: subscribe, subscription close, unsubscribe, connection close. */
const REQUEST_TIMEOUT_MS = 5_000

/** NATS Streaming as configured (STAN_*), on `servers` (STAN_URL's, or the embedded broker's). */
export function stanTransport(config: Config, broker: { servers: readonly string[]; clusterId: string }, log: Logger): Transport {
  return {
    origin: config.STAN_CHANNEL,
    serversSetting: 'STAN_URL',
    reread: (from, name) => (onMessage) =>
      rereadStanChannel(
        {
          server: broker.servers[0] ?? '',
          clusterId: broker.clusterId,
          clientId: `${config.STAN_CLIENT_ID}-${name}`.slice(0, 64),
          channel: config.STAN_CHANNEL,
          from,
          maxInFlight: config.STAN_MAX_IN_FLIGHT,
          ackWaitMs: config.STAN_ACK_WAIT_SECONDS * 1000,
        },
        onMessage,
      ),
    prepare: async () => (onMessage) =>
      openStanSubscription(
        {
          servers: broker.servers,
          clusterId: broker.clusterId,
          clientId: config.STAN_CLIENT_ID,
          channel: config.STAN_CHANNEL,
          durableName: config.STAN_DURABLE,
          queueGroup: config.STAN_QUEUE_GROUP,
          retireDurableOf: config.STAN_LEGACY_CLIENT_ID === 'none' ? undefined : config.STAN_LEGACY_CLIENT_ID,
          maxInFlight: config.STAN_MAX_IN_FLIGHT,
          ackWaitMs: config.STAN_ACK_WAIT_SECONDS * 1000,
          log,
        },
        onMessage,
      ),
  }
}

/**
 * A durable, manual-ack subscription (in a durable queue group when one is named) that keeps itself alive:
 * whenever the connection is lost, closed or refused (including "clientID already registered" while the broker
 * still remembers the dead connection), it connects again, to the next server of the list, and resubscribes the
 * same durable, which resumes at the first unacked message. A server that fails is left for the next one at
 * once; only when every known server has failed in a row does it wait, with backoff.
 * The only place in the service that subscribes to NATS Streaming (the transport), on the service's own
 * client (stan-client.ts).
 */
export function openStanSubscription(options: StanSubscriptionOptions, onMessage: (message: BrokerMessage) => void): BrokerSubscription {
  const { log } = options
  const retry = options.retry ?? { initialMs: 100, maxMs: 5_000 }
  const servers = new ServerRing(options.servers)
  const delays = new Backoff(retry)
  let current: Session | undefined
  let live = false
  let closing = false
  let retryTimer: NodeJS.Timeout | undefined
  /** The legacy durable's removal: tried once per process, after the first subscription of the group. */
  let retirement: Promise<void> | undefined

  function connect(): void {
    if (closing) return
    const session: Session = { server: servers.next(), over: false }
    current = session
    session.started = start(session)
  }

  async function start(session: Session): Promise<void> {
    const opened = await connectStan(clientOptions(session.server, options.clientId, learnServers))
    if (!opened.ok) return failed(session, 'connect failed', opened.reason)
    session.connection = opened.connection
    void opened.connection.lost.then((reason) => failed(session, 'connection lost', reason))
    if (session.over) return
    const subscribed = await opened.connection.subscribe(
      { channel: options.channel, durableName: options.durableName, queueGroup: options.queueGroup, maxInFlight: options.maxInFlight, ackWaitMs: options.ackWaitMs },
      (message, subscription) => {
        const sequence = message.sequence
        onMessage({ data: message.data, sequence, ack: () => subscription.ack(sequence) })
      },
    )
    if (!subscribed.ok) return failed(session, 'subscription refused', subscribed.reason)
    session.subscription = subscribed.subscription
    if (session.over) return
    live = true
    delays.reset()
    servers.connected()
    log.info({ channel: options.channel, durable: options.durableName, queueGroup: options.queueGroup, server: session.server }, 'subscribed')
    if (retirement === undefined && options.retireDurableOf !== undefined && options.queueGroup !== undefined) {
      retirement = retireDurable(opened.connection, session.server, options.retireDurableOf)
    }
  }

  /** Servers the cluster announces (the NATS INFO's connect_urls) join the list, now and whenever they change. */
  function learnServers(announced: string[]): void {
    if (servers.announce(announced)) log.info({ servers: servers.list() }, 'broker cluster announced servers')
  }

  function failed(session: Session, what: string, reason: string): void {
    if (session.over || closing) return
    session.over = true
    live = false
    void session.connection?.close()
    // Another server first; a pause only once every known server has failed since the last subscription.
    const wait = servers.roundFailed() ? delays.next() : 0
    log.warn({ err: { message: reason }, server: session.server, retryInMs: wait }, `broker ${what}: reconnecting`)
    retryTimer = setTimeout(connect, wait)
  }

  /**
   * Subscribes to the legacy plain durable (under its own client id, on a connection of its own unless that is
   * ours) and unsubscribes it, which deletes it on the broker. Whatever it delivers meanwhile is left unacked: the
   * group has those messages too. Refused while an instance of the old version still runs under that client id:
   * then it stays, and the next start tries again.
   */
  async function retireDurable(ours: StanConnection, server: string, legacyClientId: string): Promise<void> {
    const own = legacyClientId === options.clientId
    const retire = async (): Promise<string | undefined> => {
      const opened = own ? { ok: true as const, connection: ours } : await connectStan(clientOptions(server, legacyClientId))
      if (!opened.ok) return opened.reason
      try {
        const legacy = await opened.connection.subscribe(
          { channel: options.channel, durableName: options.durableName, maxInFlight: 1, ackWaitMs: options.ackWaitMs },
          () => {},
        )
        return legacy.ok ? await legacy.subscription.unsubscribe() : legacy.reason
      } finally {
        if (!own) await opened.connection.close()
      }
    }
    const outcome = await withTimeout(retire(), RETIRE_TIMEOUT_MS, () => `no answer within ${RETIRE_TIMEOUT_MS} ms`)
    if (outcome === undefined) log.info({ clientId: legacyClientId, durable: options.durableName }, 'removed the durable of the single-instance version')
    else log.info({ clientId: legacyClientId, durable: options.durableName, reason: outcome }, 'the durable of the single-instance version was not removed; the next start tries again')
  }

  /** The client's options for one server, under `clientId`. */
  function clientOptions(server: string, clientId: string, onServers?: (urls: string[]) => void): StanClientOptions {
    return {
      server,
      clusterId: options.clusterId,
      clientId,
      connectTimeoutMs: CONNECT_TIMEOUT_MS,
      requestTimeoutMs: REQUEST_TIMEOUT_MS,
      pings: PINGS,
      ...(onServers === undefined ? {} : { onServers }),
    }
  }

  connect()

  return {
    isLive: () => live && !closing,

    async close(): Promise<void> {
      if (closing) return
      closing = true
      live = false
      clearTimeout(retryTimer)
      await retirement
      const session = current
      if (session === undefined || session.over) return
      session.over = true
      // Every step is bounded (the connect and request timeouts): shutdown never hangs.
      await session.started
      await session.subscription?.close()
      await session.connection?.close()
    },
  }
}

/**
 * node-nats-streaming's options for one server, as the subscription's own client sets them up (the publisher,
 * still on node-nats-streaming, uses them). The NATS client's own reconnect is off: a new server (or a broker
 * restarted without its state) needs the streaming session set up again (connect request, subscription), which
 * only a fresh connection does, so the list is walked here, one server per connection.
 */
export function connectOptions(server: string, clientId: string): stan.StanOptions {
  return {
    url: server,
    reconnect: false,
    maxReconnectAttempts: 0,
    name: clientId,
    ...PINGS,
  }
}

/**
 * The servers to try, in turn: the configured ones in their order, then those the cluster announced. Tracks how
 * many have failed since the last subscription, so the caller pauses only once all of them have.
 */
export class ServerRing {
  readonly #configured: string[]
  #announced: string[] = []
  #index = 0
  #failedInARow = 0

  constructor(configured: readonly string[]) {
    if (configured.length === 0) throw new Error('at least one server is needed')
    this.#configured = configured.map(normalize)
  }

  list(): string[] {
    return [...this.#configured, ...this.#announced]
  }

  /** The next server to try. */
  next(): string {
    const all = this.list()
    const server = all[this.#index % all.length]!
    this.#index = (this.#index + 1) % all.length
    return server
  }

  /** Replaces the announced servers (those not configured); true when the list changed. */
  announce(urls: string[]): boolean {
    const configured = new Set(this.#configured)
    const announced = [...new Set(urls.map(normalize))].filter((url) => !configured.has(url))
    if (announced.join(',') === this.#announced.join(',')) return false
    this.#announced = announced
    return true
  }

  /** A subscription is live: the count of failures starts again. */
  connected(): void {
    this.#failedInARow = 0
  }

  /** Records a failure; true when every known server has now failed in a row (time to back off). */
  roundFailed(): boolean {
    this.#failedInARow++
    if (this.#failedInARow < this.list().length) return false
    this.#failedInARow = 0
    return true
  }
}

/** One spelling per server (`nats://h:4222` and `nats://h:4222/` are the same), so lists can be compared. */
function normalize(url: string): string {
  return new URL(url).href.replace(/\/$/, '')
}
