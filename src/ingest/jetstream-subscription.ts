import { setTimeout as sleep } from 'node:timers/promises'
import {
  AckPolicy,
  DeliverPolicy,
  jetstream,
  jetstreamManager,
  StorageType,
  type Consumer,
  type ConsumerConfig,
  type ConsumerInfo,
  type ConsumerMessages,
  type JetStreamManager,
  type JsMsg,
  type StreamInfo,
} from '@nats-io/jetstream'
import { connect, millis, nanos, type NatsConnection } from '@nats-io/transport-node'
import type { Logger } from 'pino'
import type { Config } from '../config.js'
import { StartupError } from '../errors.js'
import { rereadJetStream } from './jetstream-reread.js'
import type { BrokerMessage, BrokerSubscription, MessageOrigin, OpenSubscription, Transport } from './transport.js'
import { Backoff, type BackoffPolicy } from '../backoff.js'
import { withTimeout } from '../timeout.js'

export interface JetStreamOptions {
  /** nats:// servers; the client fails over between them (and those the cluster announces). */
  servers: readonly string[]
  stream: string
  subject: string
  /** Durable pull consumer, shared by every instance: they split the stream's messages between them. */
  consumer: string
  /** Used only when the stream is created here. */
  replicas: number
  duplicateWindowMs: number
  /** How long the server waits for an ack before delivering again; longer than a batch takes. */
  ackWaitMs: number
  /** Unacked messages of the whole consumer, all instances together. */
  maxAckPending: number
  /** Unacked messages this instance holds at most: it pulls only what leaves it under this bound. */
  maxInFlight: number
  /** Client name, as the server's monitoring shows it. */
  name: string
  log: Pick<Logger, 'info' | 'warn'>
  /** Waits between attempts, at start-up and after a failed pull: from initialMs, doubling, up to maxMs. */
  retry?: BackoffPolicy
  /** How long one pull request stays open on the server (PULL_EXPIRES_MS); one the server has not ended PULL_GRACE_MS later is ended here. */
  pullExpiresMs?: number
  /** Aborts the start-up wait (a stop signal while the cluster has no leader, say). */
  signal?: AbortSignal
}

/** Start-up problems that waiting will not fix: the operator must change the stream, the consumer or the settings. */
export type JetStreamSetupProblem = { code: 'stream_subjects_mismatch' | 'consumer_mismatch'; message: string }

export type JetStreamReady = { ok: true; open: OpenSubscription } | ({ ok: false } & JetStreamSetupProblem)

const REQUEST_TIMEOUT_MS = 5_000
/**
 * A server that has not answered a new connection within this is given up on for the next of the list. After a
 * stale connection the client tries its server again first: when that server itself hangs, fail-over to another
 * takes this much on top of the pings' 6 s. As on NATS Streaming (src/ingest/stan-subscription.ts).
 */
export const CONNECT_TIMEOUT_MS = 5_000
const CLOSE_TIMEOUT_MS = 5_000

/**
 * How a connection that stops answering without closing (no FIN, no RST) is noticed: the client pings every 2 s
 * and, with 2 pings unanswered, ends the connection as stale at the next tick: more than 2 s and at most 6 s after
 * the last answer. It then reconnects as after any loss (the same server first, then the others of the list and of
 * the cluster in turn) and the pull in progress is made again on the fresh connection. The default (2 min × 2)
 * left ingest stalled for up to 6 min; a ping is a few bytes every 2 s, nothing beside the messages.
 */
export const PINGS = { pingInterval: 2_000, maxPingOut: 2 } as const

/**
 * How long a pull stays open on the server: one ping interval. The server does not know a frozen connection is
 * dead and hands its open pull whatever arrives, which then comes again only after the ack wait; a pull that
 * expires before the client can notice the freeze (> 2 s) means only what arrived in the 2 s after the freeze
 * waits for the ack wait, and everything published once the connection is replaced flows at once. Idle, that is
 * one pull every 2 s.
 */
export const PULL_EXPIRES_MS = PINGS.pingInterval

/**
 * How long after its expiry a pull the server has not ended is ended here, and made again. nats-server before
 * 2.9.16 (Debian's 2.9.10 among them) drops a pull that expires while it is delivering without a word: no 408
 * (fixed by nats-io/nats-server df282a221). The client would hear of it only from the missed heartbeats, 2 to 3 s
 * with no pull open while orders wait; measured here, about one pull in six under steady publishing. By this
 * much after its expiry the server has let go of the pull, so nothing it sends is lost with it; a message sent
 * into it all the same (a request that took longer than this to reach the server) comes again after the ack wait.
 */
export const PULL_GRACE_MS = 250

/**
 * JetStream as configured (JETSTREAM_*), on `servers` (NATS_URL's, or the local nats-server's); its stream and
 * consumer are made ready first, so a stream that cannot serve is a start-up error rather than a subscription
 * that never delivers.
 */
export function jetStreamTransport(config: Config, servers: readonly string[], log: Logger): Transport {
  return {
    origin: config.JETSTREAM_STREAM,
    serversSetting: 'NATS_URL',
    reread: (from, name) => (onMessage) =>
      rereadJetStream(
        { servers, stream: config.JETSTREAM_STREAM, subject: config.JETSTREAM_SUBJECT, from, maxInFlight: config.JETSTREAM_MAX_IN_FLIGHT, name: `${config.JETSTREAM_CONSUMER}-${name}` },
        onMessage,
      ),
    async prepare(signal) {
      const ready = await prepareJetStream({
        servers,
        stream: config.JETSTREAM_STREAM,
        subject: config.JETSTREAM_SUBJECT,
        consumer: config.JETSTREAM_CONSUMER,
        replicas: config.JETSTREAM_REPLICAS,
        duplicateWindowMs: config.JETSTREAM_DUPLICATE_WINDOW_SECONDS * 1000,
        ackWaitMs: config.JETSTREAM_ACK_WAIT_SECONDS * 1000,
        maxAckPending: config.JETSTREAM_MAX_ACK_PENDING,
        maxInFlight: config.JETSTREAM_MAX_IN_FLIGHT,
        name: config.JETSTREAM_CONSUMER,
        log,
        signal,
      })
      if (!ready.ok) throw new StartupError(ready.code, ready.message)
      return ready.open
    },
  }
}

/**
 * Connects, makes sure the stream and the durable consumer exist, and hands back the subscription's opener.
 * Waits with backoff while no server answers or the cluster has no JetStream leader yet; gives up only on
 * problems waiting cannot fix (a stream without the subject, a consumer that cannot be made to fit).
 * The only place in the service that imports the JetStream client (the JetStream transport).
 */
export async function prepareJetStream(options: JetStreamOptions): Promise<JetStreamReady> {
  const { log, signal } = options
  const retry = options.retry ?? { initialMs: 250, maxMs: 5_000 }
  let nc: NatsConnection | undefined
  for (const delays = new Backoff(retry); ; ) {
    signal?.throwIfAborted()
    try {
      nc ??= await connect({
        servers: [...options.servers],
        name: options.name,
        timeout: CONNECT_TIMEOUT_MS,
        // Once connected, the client reconnects by itself, forever, to any server of the list or the cluster.
        reconnect: true,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 500,
        ...PINGS,
      })
      const jsm = await jetstreamManager(nc, { timeout: REQUEST_TIMEOUT_MS })
      const problem = (await ensureStream(jsm, options)) ?? (await ensureConsumer(jsm, options))
      if (problem !== undefined) {
        await nc.close()
        return { ok: false, ...problem }
      }
      const connection = nc
      return { ok: true, open: (onMessage) => subscribe(connection, options, onMessage) }
    } catch (error) {
      if (signal?.aborted) {
        await nc?.close()
        throw error
      }
      const delay = delays.next()
      log.warn({ err: { message: (error as Error).message }, retryInMs: delay }, 'JetStream not available yet')
      await sleep(delay, undefined, { signal }).catch(async (aborted: unknown) => {
        await nc?.close()
        throw aborted
      })
    }
  }
}

/** The stream as it is, or created when missing; an existing one is never altered, only reported when it differs. */
async function ensureStream(jsm: JetStreamManager, options: JetStreamOptions): Promise<JetStreamSetupProblem | undefined> {
  let info = await streamInfo(jsm, options.stream)
  if (info === undefined) {
    try {
      info = await jsm.streams.add({
        name: options.stream,
        subjects: [options.subject],
        storage: StorageType.File,
        num_replicas: options.replicas,
        duplicate_window: nanos(options.duplicateWindowMs),
      })
      options.log.info({ stream: options.stream, subject: options.subject, replicas: options.replicas }, 'JetStream stream created')
    } catch (error) {
      // Another instance created it first (with the same or another configuration): use theirs.
      info = await streamInfo(jsm, options.stream)
      if (info === undefined) throw error
    }
  }
  const subjects = info.config.subjects ?? []
  if (!subjects.some((pattern) => subjectMatches(pattern, options.subject))) {
    return {
      code: 'stream_subjects_mismatch',
      message: `JetStream stream ${options.stream} takes subjects ${JSON.stringify(subjects)}, which do not include ${options.subject}: set JETSTREAM_SUBJECT to one of them, or JETSTREAM_STREAM to another stream`,
    }
  }
  const differences = [
    info.config.storage !== StorageType.File && `storage ${info.config.storage} (file expected)`,
    info.config.num_replicas !== options.replicas && `${info.config.num_replicas} replicas (JETSTREAM_REPLICAS=${options.replicas})`,
  ].filter(Boolean)
  if (differences.length > 0) options.log.warn({ stream: options.stream, differences }, 'JetStream stream used as it is, unlike the configuration')
  return undefined
}

/**
 * The durable pull consumer, created when missing. An existing one with other settings is updated where
 * JetStream allows it (ack wait, max ack pending, max deliver); what it does not allow (ack policy, deliver
 * policy, filter subject, a push consumer) is a start-up problem naming the consumer to delete or rename.
 */
async function ensureConsumer(jsm: JetStreamManager, options: JetStreamOptions): Promise<JetStreamSetupProblem | undefined> {
  const wanted = {
    ack_wait: nanos(options.ackWaitMs),
    max_ack_pending: options.maxAckPending,
    // Never dropped after N deliveries: a message the service cannot store is dead-lettered and acked instead.
    max_deliver: -1,
  } satisfies Partial<ConsumerConfig>
  let info = await consumerInfo(jsm, options)
  if (info === undefined) {
    try {
      info = await jsm.consumers.add(options.stream, {
        durable_name: options.consumer,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        filter_subject: options.subject,
        ...wanted,
      })
      options.log.info({ stream: options.stream, consumer: options.consumer }, 'JetStream consumer created')
      return undefined
    } catch (error) {
      info = await consumerInfo(jsm, options)
      if (info === undefined) throw error
    }
  }
  const config = info.config
  const fixed = [
    config.ack_policy !== AckPolicy.Explicit && `ack policy ${config.ack_policy} (explicit needed)`,
    config.deliver_policy !== DeliverPolicy.All && `deliver policy ${config.deliver_policy} (all needed)`,
    config.deliver_subject !== undefined && config.deliver_subject !== '' && 'a push consumer (pull needed)',
    (config.filter_subject ?? '') !== options.subject && `filter subject "${config.filter_subject ?? ''}" (${options.subject} needed)`,
  ].filter((difference): difference is string => typeof difference === 'string')
  if (fixed.length > 0) {
    return {
      code: 'consumer_mismatch',
      message: `JetStream consumer ${options.consumer} on stream ${options.stream} has ${fixed.join(', ')}, which JetStream cannot update: delete it, or set JETSTREAM_CONSUMER to another name`,
    }
  }
  const changes = (Object.keys(wanted) as (keyof typeof wanted)[]).filter((key) => config[key] !== wanted[key])
  if (changes.length > 0) {
    await jsm.consumers.update(options.stream, options.consumer, wanted)
    options.log.info(
      {
        consumer: options.consumer,
        changed: Object.fromEntries(changes.map((key) => [key, { from: shown(key, config[key]), to: shown(key, wanted[key]) }])),
      },
      'JetStream consumer updated to the configuration',
    )
  }
  return undefined
}

const shown = (key: string, value: number | undefined) => (key === 'ack_wait' && value !== undefined ? `${millis(value) / 1000}s` : value)

async function streamInfo(jsm: JetStreamManager, stream: string): Promise<StreamInfo | undefined> {
  try {
    return await jsm.streams.info(stream)
  } catch (error) {
    if (isNotFound(error)) return undefined
    throw error
  }
}

async function consumerInfo(jsm: JetStreamManager, options: JetStreamOptions): Promise<ConsumerInfo | undefined> {
  try {
    return await jsm.consumers.info(options.stream, options.consumer)
  } catch (error) {
    if (isNotFound(error)) return undefined
    throw error
  }
}

function isNotFound(error: unknown): boolean {
  const code = (error as { code?: unknown }).code
  return code === 10059 || code === 10014 // stream not found, consumer not found
}

/** Whether a stream subject (which may hold `*` and `>` wildcards) takes messages published on `subject`. */
export function subjectMatches(pattern: string, subject: string): boolean {
  const wanted = pattern.split('.')
  const tokens = subject.split('.')
  for (let i = 0; i < wanted.length; i++) {
    if (wanted[i] === '>') return tokens.length > i
    if (i >= tokens.length || (wanted[i] !== '*' && wanted[i] !== tokens[i])) return false
  }
  return wanted.length === tokens.length
}

/**
 * The pull loop: asks for as many messages as leave this instance under maxInFlight unacked, delivers them,
 * and asks again. A pull lives pullExpiresMs on the server and at most PULL_GRACE_MS longer here; a failed
 * pull (disconnect, no JetStream leader during a fail-over, consumer briefly unknown) is retried with backoff on
 * the same connection, which the client re-establishes by itself.
 */
function subscribe(nc: NatsConnection, options: JetStreamOptions, onMessage: (message: BrokerMessage) => void): BrokerSubscription {
  const { log } = options
  const retry = options.retry ?? { initialMs: 250, maxMs: 5_000 }
  const expires = options.pullExpiresMs ?? PULL_EXPIRES_MS
  const js = jetstream(nc, { timeout: REQUEST_TIMEOUT_MS })
  /** Messages delivered to the service and not acked yet, by stream sequence: what this instance holds. */
  const held = new Map<number, JsMsg>()
  /** Pull again once this much room is free, so a trickle of acks does not make a trickle of tiny pulls. */
  const refill = Math.max(1, Math.floor(options.maxInFlight / 4))
  let wake: (() => void) | undefined
  let pulling: ConsumerMessages | undefined
  let consumer: Consumer | undefined
  /**
   * Whether the server answers the pull loop: false from a failed pull (missed heartbeats, say, on a connection
   * that stopped answering) until a pull delivers or ends on its expiry. A new pull alone proves nothing: it is
   * sent without an answer, into a frozen connection as readily as into a live one.
   */
  let answered = true
  let connected = true
  let closing = false
  const stopped = new AbortController()

  void (async () => {
    for await (const status of nc.status()) {
      if (closing) continue
      if (status.type === 'staleConnection') log.warn('JetStream connection stopped answering (pings unanswered): replacing it')
      else if (status.type === 'disconnect') {
        connected = false
        log.warn({ server: status.server }, 'JetStream connection lost: reconnecting')
      } else if (status.type === 'reconnect') {
        connected = true
        log.info({ server: status.server }, 'JetStream connected again')
      }
    }
  })()

  const released = (sequence: number) => {
    held.delete(sequence)
    if (options.maxInFlight - held.size >= refill) wake?.()
  }

  const deliver = (message: JsMsg) => {
    const sequence = message.info.streamSequence
    held.set(sequence, message)
    const data = message.data
    onMessage({
      // A view, not a copy: `held` keeps the message (and so the socket chunk under it) until the ack anyway.
      data: Buffer.from(data.buffer, data.byteOffset, data.byteLength),
      sequence,
      origin: copiedFrom(message),
      ack: () => {
        released(sequence)
        try {
          message.ack()
        } catch {
          // The connection is gone: the server delivers the message again, and the store takes it as a duplicate.
        }
      },
    })
  }

  const loop = (async () => {
    const delays = new Backoff(retry)
    while (!closing) {
      const room = options.maxInFlight - held.size
      if (room < refill) {
        // Bounded, so a stop is noticed even when no ack ever frees room (the database is down).
        await withTimeout(new Promise<void>((resolve) => (wake = resolve)), 1_000, () => undefined)
        wake = undefined
        continue
      }
      let overdue: NodeJS.Timeout | undefined
      try {
        // Looked up once: a lookup is a request, and one sent into a frozen connection waits out its timeout even
        // after the connection is replaced, while the client makes a pull in progress again on the fresh connection.
        consumer ??= await js.consumers.get(options.stream, options.consumer)
        const batch = await consumer.fetch({ max_messages: room, expires })
        pulling = batch
        if (closing) batch.stop()
        let delivered = 0
        // Ended quietly when it delivered (the server dropped it unsaid, see PULL_GRACE_MS); a pull that got no
        // answer at all, not even its expiry, fails as one with missed heartbeats does. Decided only after what
        // has reached the socket meanwhile is read (setImmediate runs after the poll phase): a process that was
        // busy past the bound must not cut off the 408, or messages, already waiting there. (Stopping a pull that
        // has ended is nothing.)
        overdue = setTimeout(
          () => setImmediate(() => batch.stop(delivered > 0 ? undefined : new Error('no answer to the pull by its expiry'))),
          expires + PULL_GRACE_MS,
        )
        for await (const message of batch) {
          answered = true
          delivered++
          deliver(message)
        }
        answered = true
        delays.reset()
      } catch (error) {
        answered = false
        if (closing) break
        const delay = delays.next()
        log.warn({ err: { message: (error as Error).message }, retryInMs: delay }, 'JetStream pull failed: pulling again')
        await Backoff.wait(delay, stopped.signal)
      } finally {
        clearTimeout(overdue)
        pulling = undefined
      }
    }
  })()

  log.info({ stream: options.stream, consumer: options.consumer }, 'subscribed')

  return {
    isLive: () => answered && connected && !closing && !nc.isClosed(),

    async close(): Promise<void> {
      if (closing) return
      closing = true
      stopped.abort()
      wake?.()
      pulling?.stop()
      await withTimeout(loop.catch(() => undefined), CLOSE_TIMEOUT_MS, () => undefined)
      // The service stops after its writer: what is still held will not be acked here. Handing it back now lets
      // another instance (or the next run) have it at once instead of after the ack wait.
      for (const message of held.values()) {
        try {
          message.nak()
        } catch {
          // The connection is gone: the ack wait hands it back instead.
        }
      }
      held.clear()
      // Acks sent just before are flushed by close; the durable keeps its position for the next run.
      await withTimeout(nc.close().catch(() => undefined), CLOSE_TIMEOUT_MS, () => undefined)
    },
  }
}

/** A channel name as NATS Streaming allows it, and a sequence as it counts (from 1, 64 bits; JavaScript-safe here). */
const STAN_CHANNEL = /^[A-Za-z0-9_.-]{1,255}$/
const STAN_SEQUENCE = /^[1-9][0-9]{0,15}$/

/** The origin stan2js recorded in the headers of a message it copied; undefined when absent or malformed. */
export function copiedFrom(message: Pick<JsMsg, 'headers'>): MessageOrigin | undefined {
  const channel = message.headers?.get('Nats-Streaming-Channel')
  const sequence = message.headers?.get('Nats-Streaming-Sequence')
  if (channel === undefined || sequence === undefined || !STAN_CHANNEL.test(channel) || !STAN_SEQUENCE.test(sequence)) return undefined
  const number = Number(sequence)
  return Number.isSafeInteger(number) ? { channel, sequence: number } : undefined
}
