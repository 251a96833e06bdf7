import stan from 'node-nats-streaming'
import type { Logger } from 'pino'
import type { Config } from '../config.js'
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

type Connection = ReturnType<typeof stan.connect>
type Subscription = ReturnType<Connection['subscribe']>
/** node-nats-streaming's Message (its class is not exported by the typings). */
interface StanMessage {
  getRawData(): Buffer
  getSequence(): number
  ack(): void
}

interface Session {
  connection: Connection
  server: string
  /** Gives up on a server that has not answered in time (node-nats-streaming passes no connect timeout on). */
  connectTimer: NodeJS.Timeout
  subscription?: Subscription
  /** Set once this session failed: its late events are ignored, a new session takes over. */
  over: boolean
}

/** The part of the NATS v1 client (under node-nats-streaming) that knows the servers the cluster announced. */
interface AnnouncingClient {
  servers?: Array<{ url: URL; implicit?: boolean }>
  on(event: 'servers', listener: () => void): void
}

const CLOSE_TIMEOUT_MS = 5_000
const RETIRE_TIMEOUT_MS = 10_000
/** From connecting to one server to the streaming session's answer: TCP, the NATS handshake, the connect request. */
export const CONNECT_TIMEOUT_MS = 5_000

/**
 * How a connection that stops answering without closing (no FIN, no RST) is noticed: by pings, on two levels.
 * The NATS client pings every 2 s and, with 2 pings unanswered, ends the connection as stale at the third tick:
 * ≤ 6 s after the last answer. The streaming client pings the broker every 2 s (whole seconds on the wire) and
 * ends the connection as lost with 3 pings unanswered at the fourth: ≤ 8 s. Either way the connection is
 * replaced as after any loss (connect again with backoff, resume the durable). The defaults (NATS 2 min × 2,
 * streaming 5 s × 3) left it to luck: about 19 s, or 4 min if only the NATS level answered. A ping is a few
 * bytes every 2 s: nothing beside the messages.
 */
export const PINGS = { pingInterval: 2_000, maxPingOut: 2, stanPingInterval: 2_000, stanMaxPingOut: 3 } as const

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
 * The only place in the service that subscribes with node-nats-streaming (the NATS Streaming transport).
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
    const server = servers.next()
    const connection = stan.connect(options.clusterId, options.clientId, connectOptions(server, options.clientId))
    // A node whose host is gone drops the SYN, and a stuck one may accept and say nothing: without this bound the
    // walk would wait on it for minutes (the kernel's connect timeout) or for ever before trying the next server.
    const connectTimer = setTimeout(() => failed(session, `connect: no answer within ${CONNECT_TIMEOUT_MS} ms`, undefined), CONNECT_TIMEOUT_MS)
    const session: Session = { connection, server, connectTimer, over: false }
    current = session
    const fail = (what: string) => (error?: unknown) => failed(session, what, error)
    // Listeners stay attached for the connection's whole life: an 'error' without one would crash the process.
    connection.on('connect', () => {
      clearTimeout(connectTimer)
      learnServers(session)
      subscribe(session)
    })
    connection.on('error', fail('connection error'))
    connection.on('connection_lost', fail('connection lost'))
    connection.on('close', fail('connection closed'))
  }

  /** Servers the cluster announces (the NATS INFO's connect_urls) join the list, now and whenever they change. */
  function learnServers(session: Session): void {
    const client = (session.connection as unknown as { nc?: AnnouncingClient }).nc
    if (client === undefined) return
    const learn = () => {
      const announced = (client.servers ?? []).filter((known) => known.implicit === true).map((known) => known.url.href)
      if (servers.announce(announced)) log.info({ servers: servers.list() }, 'broker cluster announced servers')
    }
    learn()
    client.on('servers', learn)
  }

  function subscribe(session: Session): void {
    if (session.over || closing) return
    const subscriptionOptions = session.connection
      .subscriptionOptions()
      .setDeliverAllAvailable()
      .setDurableName(options.durableName)
      .setManualAckMode(true)
      .setMaxInFlight(options.maxInFlight)
      .setAckWait(options.ackWaitMs)
    const subscription =
      options.queueGroup === undefined
        ? session.connection.subscribe(options.channel, subscriptionOptions)
        : session.connection.subscribe(options.channel, options.queueGroup, subscriptionOptions)
    session.subscription = subscription
    subscription.on('ready', () => {
      if (session.over) return
      live = true
      delays.reset()
      servers.connected()
      log.info({ channel: options.channel, durable: options.durableName, queueGroup: options.queueGroup, server: session.server }, 'subscribed')
      if (retirement === undefined && options.retireDurableOf !== undefined && options.queueGroup !== undefined) {
        retirement = retireDurable(session, options.retireDurableOf)
      }
    })
    subscription.on('error', (error: unknown) => failed(session, 'subscription error', error))
    subscription.on('timeout', (error: unknown) => failed(session, 'subscription timeout', error))
    subscription.on('message', (message: StanMessage) => {
      onMessage({
        data: message.getRawData(),
        sequence: message.getSequence(),
        ack: () => ackQuietly(message),
      })
    })
  }

  function failed(session: Session, what: string, error: unknown): void {
    if (session.over || closing) return
    session.over = true
    live = false
    clearTimeout(session.connectTimer)
    try {
      session.connection.close()
    } catch {
      // Already closed underneath: nothing left to release.
    }
    // Another server first; a pause only once every known server has failed since the last subscription.
    const wait = servers.roundFailed() ? delays.next() : 0
    log.warn({ err: error, server: session.server, retryInMs: wait }, `broker ${what}: reconnecting`)
    retryTimer = setTimeout(connect, wait)
  }

  /**
   * Subscribes to the legacy plain durable (under its own client id, on a connection of its own unless that is
   * ours) and unsubscribes it, which deletes it on the broker. Whatever it delivers meanwhile is left unacked: the
   * group has those messages too. Refused while an instance of the old version still runs under that client id:
   * then it stays, and the next start tries again.
   */
  async function retireDurable(session: Session, legacyClientId: string): Promise<void> {
    const own = legacyClientId === options.clientId
    const connection = own ? session.connection : stan.connect(options.clusterId, legacyClientId, connectOptions(session.server, legacyClientId))
    const answer = new Promise<string | undefined>((resolve) => {
      const done = (error?: unknown) => resolve(error === undefined ? undefined : String((error as Error)?.message ?? error))
      const unsubscribe = () => {
        const legacy = connection.subscribe(
          options.channel,
          connection.subscriptionOptions().setDurableName(options.durableName).setManualAckMode(true).setMaxInFlight(1).setAckWait(options.ackWaitMs),
        )
        legacy.on('ready', () => legacy.unsubscribe())
        legacy.on('unsubscribed', () => done())
        legacy.on('error', done)
        legacy.on('timeout', done)
      }
      if (own) return unsubscribe()
      connection.on('connect', unsubscribe)
      connection.on('error', done)
    })
    const outcome = await withTimeout(answer, RETIRE_TIMEOUT_MS, () => `no answer within ${RETIRE_TIMEOUT_MS} ms`)
    if (!own) {
      await settle(connection, ['close', 'error'], () => connection.close())
    }
    if (outcome === undefined) log.info({ clientId: legacyClientId, durable: options.durableName }, 'removed the durable of the single-instance version')
    else log.info({ clientId: legacyClientId, durable: options.durableName, reason: outcome }, 'the durable of the single-instance version was not removed; the next start tries again')
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
      clearTimeout(session.connectTimer)
      const subscription = session.subscription
      if (subscription !== undefined && !subscription.isClosed()) {
        await settle(subscription, ['closed', 'error', 'timeout'], () => subscription.close())
      }
      await settle(session.connection, ['close', 'error'], () => session.connection.close())
    },
  }
}

/**
 * The NATS connection's options for one server. The NATS client's own reconnect is off: a new server (or a broker
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

function ackQuietly(message: StanMessage): void {
  try {
    message.ack()
  } catch {
    // The connection is gone: the broker will deliver the message again, and the store takes it as a duplicate.
  }
}

/** Calls `action` and resolves on the first of `events`, or after a timeout so shutdown never hangs. */
function settle(emitter: NodeJS.EventEmitter, events: string[], action: () => void): Promise<void> {
  let done!: () => void
  const happened = new Promise<void>((resolve) => (done = resolve))
  for (const event of events) emitter.once(event, done)
  try {
    action()
  } catch {
    done()
  }
  return withTimeout(happened, CLOSE_TIMEOUT_MS, () => undefined).finally(() => {
    for (const event of events) emitter.off(event, done)
  })
}
