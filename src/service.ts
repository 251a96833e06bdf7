import { createServer, type Server } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import type { ServerType } from '@hono/node-server'
import type { Logger } from 'pino'
import { OrderCache } from './cache/order-cache.js'
import type { Config } from './config.js'
import { isAddressInUse, PortInUseError, StartupError } from './errors.js'
import { createApp, type OrderServiceApp } from './http/app.js'
import { createRequestListener } from './http/order-by-id.js'
import { defaultStaticDir } from './http/routes/static.js'
import { createBatchWriter, type BatchWriter, type BatchWriterOptions } from './ingest/batch-writer.js'
import { gateInThisThread, startGateThread } from './ingest/gate-thread.js'
import { prepareJetStream } from './ingest/jetstream-subscription.js'
import { createReplay } from './ingest/replay.js'
import { openStanSubscription } from './ingest/stan-subscription.js'
import type { BrokerSubscription, OpenSubscription } from './ingest/transport.js'
import { createMetrics, type Metrics } from './metrics.js'
import { classifyDatabaseError } from './store/database-errors.js'
import { boundedPages, createBoundedPool, type BoundedPool } from './store/bounded-pool.js'
import { isReachable } from './store/db.js'
import { createDeadLetterStore } from './store/dead-letters.js'
import { migrate } from './store/migrate.js'
import { listenForCommits, type CommitListener } from './store/order-commits.js'
import { createOrderStore } from './store/orders.js'

export interface ServiceEndpoints {
  databaseUrl: string
  /** The broker's servers: one, or the nodes of a cluster. */
  stanServers: readonly string[]
  stanClusterId: string
  /** The nats:// servers of JetStream (BROKER=jetstream). */
  natsServers: readonly string[]
}

export interface RunningService {
  /** The page's URL, with the bound port. */
  url: string
  /** The batch writer's events (committed, acked, dead-lettered, write-failed, state): what tests await. */
  events: BatchWriter['events']
  /** Graceful stop: no new messages, the batch in flight committed and acked, durable kept, pool closed. */
  stop(): Promise<void>
}

const DATABASE_CHECK_MS = 2_000
const RETENTION_EVERY_MS = 60 * 60 * 1000
/** The pool: cache misses, listings and replays, and the readiness check. */
const POOL_SIZE = 8
/** The writer's own pool: one connection per batch in flight (the writer's default concurrency). */
const WRITER_POOL_SIZE = 2

/**
 * Builds every part from the configuration and wires broker → gate → batch writer → store → cache → HTTP.
 * HTTP listens first, so /healthz answers and /readyz says why not ready while the database is awaited,
 * the cache warms and the subscription starts.
 */
export async function startService(
  config: Config,
  endpoints: ServiceEndpoints,
  log: Logger,
  /** Aborted by a stop signal during start-up (say, while PostgreSQL is awaited): start-up undoes itself and throws. */
  signal?: AbortSignal,
): Promise<RunningService> {
  const metrics = createMetrics()
  // First: the one part that can fail to start before anything else needs undoing.
  const gateOptions = { maxMessageBytes: config.MAX_MESSAGE_BYTES }
  const gateThread = config.GATE_THREAD === 'on' ? await startGateThread(gateOptions) : gateInThisThread(gateOptions)
  const gate = gateThread.check
  // Every wait on PostgreSQL has a bound: work past it abandons its pool's connections (src/store/bounded-pool.ts).
  const pool = createBoundedPool({
    url: endpoints.databaseUrl,
    name: 'order-service',
    max: POOL_SIZE,
    boundMs: config.QUERY_TIMEOUT_MS,
    idleInTransactionMs: config.QUERY_TIMEOUT_MS,
    pooler: config.DATABASE_POOLER,
    onAbandoned: () => metrics.databaseAbandoned.inc({ pool: 'queries' }),
  })
  const deadLetterLimits = { maxPayloadBytes: config.DEAD_LETTER_PAYLOAD_MAX_BYTES }
  // Each call on a generation of its pool and within its bound: nothing here holds a connection past its work.
  const orders = pool.bound(createOrderStore)
  const deadLetters = pool.bound((sql) => createDeadLetterStore(sql, deadLetterLimits))
  const cache = new OrderCache({ maxBytes: config.CACHE_MAX_BYTES, store: orders })
  const { writer, writerPool } = createWriter(config, endpoints.databaseUrl, { gate, cache, metrics, log })
  const replayDeadLetter = createReplay({ transaction: pool.begin, orders, deadLetters, cache, gate })

  const state = { databaseReachable: false, cacheWarm: false }
  let subscription: BrokerSubscription | undefined
  const readiness = () => ({
    database: state.databaseReachable && writer.isHealthy(),
    subscription: subscription?.isLive() ?? false,
    cache: state.cacheWarm,
  })

  const http = createApp({
    cache,
    orders,
    deadLetters,
    replayDeadLetter,
    metrics,
    readiness,
    adminToken: config.ADMIN_TOKEN,
    staticDir: defaultStaticDir,
    log: log.child({ component: 'http' }),
  })
  let server: Server
  try {
    server = await listen(http, config.HTTP_HOST, config.HTTP_PORT)
  } catch (error) {
    await Promise.all([pool.end({ timeout: 1 }), writerPool.end({ timeout: 1 })])
    await gateThread.close()
    if (isAddressInUse(error)) throw new PortInUseError('HTTP_PORT', config.HTTP_HOST, config.HTTP_PORT, { cause: error })
    throw error
  }
  const url = `http://${urlHost(config.HTTP_HOST)}:${boundPort(server)}/`

  // A probe still unanswered at the next check counts as an answer: not reachable. It ends at its bound.
  let probing = false
  const databaseCheck = setInterval(async () => {
    if (probing) {
      state.databaseReachable = false
      return
    }
    probing = true
    state.databaseReachable = await isReachable(pool)
    probing = false
  }, DATABASE_CHECK_MS)
  let openSubscription: OpenSubscription
  let commits: CommitListener | undefined
  try {
    await waitForDatabase(() => pool.run((sql) => migrate(sql), { boundMs: config.MIGRATION_TIMEOUT_MS }), log, signal)
    state.databaseReachable = true
    // Orders committed through other instances: ids this one remembered as unknown are forgotten at once. Started
    // before the warm-up, so that nothing committed meanwhile goes unheard.
    commits = startCommitListener(config, endpoints, cache, log.child({ component: 'commits' }))
    const warmStarted = performance.now()
    // A page that does not come within the bound, or a database lost meanwhile, is waited out as at the start:
    // the warm-up begins again on fresh connections.
    const warmed = await waitForDatabase(() => cache.warm(boundedPages(pool, (sql) => createOrderStore(sql).newestFirst())), log, signal)
    state.cacheWarm = true
    log.info({ orders: warmed, bytes: cache.stats().bytes, ms: Math.round(performance.now() - warmStarted) }, 'cache warmed')
    await commits.started.catch((error: unknown) => {
      throw new StartupError('listen_refused', `${config.DATABASE_LISTEN_URL === undefined ? 'DATABASE_URL' : 'DATABASE_LISTEN_URL'} leads to a standby, which refuses LISTEN (${(error as Error).message}): name the primary, or add target_session_attrs=read-write to a host list`)
    })
    openSubscription = await openTransport(config, endpoints, log.child({ component: 'subscription' }), signal)
    signal?.throwIfAborted()
  } catch (error) {
    // Nothing was taken from the channel yet: closing the listener and the pool is all there is to undo.
    clearInterval(databaseCheck)
    await commits?.close()
    await new Promise<void>((resolve) => server.close(() => resolve()))
    await Promise.all([pool.end({ timeout: 1 }), writerPool.end({ timeout: 1 })])
    await gateThread.close()
    throw error
  }

  const prune = async () => {
    try {
      // A long delete, bounded as a migration is, not as a lookup.
      const retention = { maxRows: config.DEAD_LETTER_MAX_ROWS, maxAgeDays: config.DEAD_LETTER_RETENTION_DAYS }
      const removed = await pool.run((sql) => createDeadLetterStore(sql, deadLetterLimits).prune(retention), { boundMs: config.MIGRATION_TIMEOUT_MS })
      if (removed > 0) log.info({ removed }, 'dead-letter retention applied')
    } catch (error) {
      log.warn({ err: error }, 'dead-letter retention failed; next try in an hour')
    }
  }
  void prune()
  const retention = setInterval(prune, RETENTION_EVERY_MS)

  subscription = openSubscription((message) => writer.add(message))

  return {
    url,
    events: writer.events,
    async stop() {
      clearInterval(databaseCheck)
      clearInterval(retention)
      // Order matters: finish and ack the batch in flight while the connection is still up, then leave.
      await writer.stop()
      await gateThread.close()
      await subscription?.close()
      await commits?.close()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      await Promise.all([pool.end({ timeout: 5 }), writerPool.end({ timeout: 5 })])
    },
  }
}

/**
 * The batch writer on a pool of its own (abandoning one never cuts the reads, nor the reverse), as the service and
 * the re-read command (src/reread.ts) both write.
 */
export function createWriter(
  config: Config,
  databaseUrl: string,
  parts: { gate: BatchWriterOptions['gate']; cache: BatchWriterOptions['cache']; metrics: Metrics; log: Logger },
): { writer: BatchWriter; writerPool: BoundedPool } {
  const writerPool = createBoundedPool({
    url: databaseUrl,
    name: 'order-service writer',
    max: WRITER_POOL_SIZE,
    boundMs: config.WRITE_TIMEOUT_MS,
    idleInTransactionMs: config.WRITE_TIMEOUT_MS,
    lockTimeoutMs: config.WRITE_TIMEOUT_MS,
    pooler: config.DATABASE_POOLER,
    onAbandoned: () => parts.metrics.databaseAbandoned.inc({ pool: 'writer' }),
  })
  const deadLetterLimits = { maxPayloadBytes: config.DEAD_LETTER_PAYLOAD_MAX_BYTES }
  const writer = createBatchWriter({
    transaction: writerPool.begin,
    // Inside the writer's transactions: given its `tx`, on the writer pool's generation.
    orders: writerPool.bound(createOrderStore),
    deadLetters: writerPool.bound((sql) => createDeadLetterStore(sql, deadLetterLimits)),
    cache: parts.cache,
    metrics: parts.metrics,
    gate: parts.gate,
    // Dead letters name where the message came from: the STAN channel or the JetStream stream.
    channel: config.BROKER === 'jetstream' ? config.JETSTREAM_STREAM : config.STAN_CHANNEL,
    maxBatch: config.BATCH_MAX_SIZE,
    maxWaitMs: config.BATCH_MAX_WAIT_MS,
    log: parts.log.child({ component: 'writer' }),
  })
  return { writer, writerPool }
}

/**
 * The commit listener, on DATABASE_LISTEN_URL when set. LISTEN needs a session of its own, which a transaction
 * pooler does not give: behind one without DATABASE_LISTEN_URL there is no listener, and the service says so once.
 */
function startCommitListener(config: Config, endpoints: ServiceEndpoints, cache: OrderCache, log: Logger): CommitListener {
  const url = config.DATABASE_LISTEN_URL ?? (config.DATABASE_POOLER === 'transaction' ? undefined : endpoints.databaseUrl)
  if (url === undefined) {
    log.warn(
      'DATABASE_POOLER=transaction without DATABASE_LISTEN_URL: no LISTEN through a transaction pooler, so orders written by other instances are seen here only after the unknown-id memory expires (2 s); set DATABASE_LISTEN_URL to the primary or a session-mode pool',
    )
    return { started: Promise.resolve(), close: async () => {} }
  }
  return listenForCommits({
    url,
    name: 'order-service commits',
    handlers: { committed: (orderUids) => cache.forgetAbsent(orderUids), listening: () => cache.forgetAllAbsent() },
    log,
  })
}

/**
 * The configured broker's subscription: the one place the service chooses a transport. JetStream's stream and
 * consumer are made ready first (waiting while the cluster has no leader), so a stream that cannot serve is a
 * start-up error rather than a subscription that never delivers.
 */
async function openTransport(config: Config, endpoints: ServiceEndpoints, log: Logger, signal: AbortSignal | undefined): Promise<OpenSubscription> {
  if (config.BROKER === 'jetstream') {
    const ready = await prepareJetStream({
      servers: endpoints.natsServers,
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
  }
  return (onMessage) =>
    openStanSubscription(
      {
        servers: endpoints.stanServers,
        clusterId: endpoints.stanClusterId,
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
    )
}

/** Runs `task` until the database lets it: a server still starting or briefly down is waited for, not fatal. */
async function waitForDatabase<T>(task: () => Promise<T>, log: Logger, signal: AbortSignal | undefined): Promise<T> {
  for (let delay = 250; ; delay = Math.min(delay * 2, 5_000)) {
    try {
      return await task()
    } catch (error) {
      if (signal?.aborted || classifyDatabaseError(error) !== 'transient') throw error
      log.warn({ err: { message: (error as Error).message }, retryInMs: delay }, 'database not reachable yet')
      await sleep(delay, undefined, { signal })
    }
  }
}

/**
 * Serves the app on node:http, with GET /order/:id answered ahead of Hono (src/http/order-by-id.ts).
 * server.close() (Node 19+) also closes idle keep-alive connections, so stopping does not wait for clients to leave.
 */
function listen({ app, orderAnswers }: OrderServiceApp, hostname: string, port: number): Promise<Server> {
  const server = createServer(createRequestListener({ app, answers: orderAnswers, hostname }))
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, hostname, () => {
      server.off('error', reject)
      resolve(server)
    })
  })
}

function boundPort(server: ServerType): number {
  const address = server.address()
  return typeof address === 'object' && address !== null ? address.port : 0
}

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1'
  return host.includes(':') ? `[${host}]` : host
}
