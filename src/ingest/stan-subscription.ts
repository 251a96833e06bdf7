import stan from 'node-nats-streaming'
import type { Logger } from 'pino'
import type { BrokerMessage, BrokerSubscription } from './transport.js'

export interface StanSubscriptionOptions {
  url: string
  clusterId: string
  /** Stable across restarts, so a restarted service takes over its own durable. */
  clientId: string
  channel: string
  durableName: string
  /** Messages delivered and not acked at most: this bounds the writer's buffer during an outage. */
  maxInFlight: number
  /** How long the broker waits for an ack before redelivering; longer than a batch takes. */
  ackWaitMs: number
  log: Pick<Logger, 'info' | 'warn'>
  /** Reconnect delays: from initialMs, doubling, up to maxMs. */
  retry?: { initialMs: number; maxMs: number }
}

type Connection = ReturnType<typeof stan.connect>
type Subscription = ReturnType<Connection['subscribe']>
/** node-nats-streaming's Message (its class is not exported by the typings). */
interface StanMessage {
  getRawData(): Buffer
  getSequence(): number
  isRedelivered(): boolean
  ack(): void
}

interface Session {
  connection: Connection
  subscription?: Subscription
  /** Set once this session failed: its late events are ignored, a new session takes over. */
  over: boolean
}

const CLOSE_TIMEOUT_MS = 5_000

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

/**
 * A durable, manual-ack subscription that keeps itself alive: whenever the connection is lost, closed or
 * refused (including "clientID already registered" while the broker still remembers the dead connection),
 * it connects again with backoff and resubscribes the same durable, which resumes at the first unacked message.
 * The only place in the service that subscribes with node-nats-streaming (the NATS Streaming transport).
 */
export function openStanSubscription(options: StanSubscriptionOptions, onMessage: (message: BrokerMessage) => void): BrokerSubscription {
  const { log } = options
  const retry = options.retry ?? { initialMs: 100, maxMs: 5_000 }
  let delay = retry.initialMs
  let current: Session | undefined
  let live = false
  let closing = false
  let retryTimer: NodeJS.Timeout | undefined

  function connect(): void {
    if (closing) return
    // The NATS client's own reconnect is off: after a broker restart the streaming session must be set up
    // again (connect request, subscription), which only a fresh connection does.
    const connection = stan.connect(options.clusterId, options.clientId, {
      url: options.url,
      reconnect: false,
      maxReconnectAttempts: 0,
      name: options.clientId,
      ...PINGS,
    })
    const session: Session = { connection, over: false }
    current = session
    const fail = (what: string) => (error?: unknown) => failed(session, what, error)
    // Listeners stay attached for the connection's whole life: an 'error' without one would crash the process.
    connection.on('connect', () => subscribe(session))
    connection.on('error', fail('connection error'))
    connection.on('connection_lost', fail('connection lost'))
    connection.on('close', fail('connection closed'))
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
    const subscription = session.connection.subscribe(options.channel, subscriptionOptions)
    session.subscription = subscription
    subscription.on('ready', () => {
      if (session.over) return
      live = true
      delay = retry.initialMs
      log.info({ channel: options.channel, durable: options.durableName }, 'subscribed')
    })
    subscription.on('error', (error: unknown) => failed(session, 'subscription error', error))
    subscription.on('timeout', (error: unknown) => failed(session, 'subscription timeout', error))
    subscription.on('message', (message: StanMessage) => {
      onMessage({
        data: message.getRawData(),
        sequence: message.getSequence(),
        redelivered: message.isRedelivered(),
        ack: () => ackQuietly(message),
      })
    })
  }

  function failed(session: Session, what: string, error: unknown): void {
    if (session.over || closing) return
    session.over = true
    live = false
    try {
      session.connection.close()
    } catch {
      // Already closed underneath: nothing left to release.
    }
    log.warn({ err: error, retryInMs: delay }, `broker ${what}: reconnecting`)
    retryTimer = setTimeout(connect, delay)
    delay = Math.min(delay * 2, retry.maxMs)
  }

  connect()

  return {
    isLive: () => live && !closing,

    async close(): Promise<void> {
      if (closing) return
      closing = true
      live = false
      clearTimeout(retryTimer)
      const session = current
      if (session === undefined || session.over) return
      session.over = true
      const subscription = session.subscription
      if (subscription !== undefined && !subscription.isClosed()) {
        await settle(subscription, ['closed', 'error', 'timeout'], () => subscription.close())
      }
      await settle(session.connection, ['close', 'error'], () => session.connection.close())
    },
  }
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
  return new Promise((resolve) => {
    const timeout = setTimeout(done, CLOSE_TIMEOUT_MS)
    function done() {
      clearTimeout(timeout)
      for (const event of events) emitter.off(event, done)
      resolve()
    }
    for (const event of events) emitter.once(event, done)
    try {
      action()
    } catch {
      done()
    }
  })
}
