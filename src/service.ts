import type { Logger } from 'pino'
import { retry } from './backoff.js'
import { OrderCache } from './cache/order-cache.js'
import type { Config } from './config.js'
import { StartupError } from './errors.js'
import { createApp } from './http/app.js'
import { allowedHosts } from './http/middleware/host-check.js'
import { defaultStaticDir } from './http/routes/static.js'
import { serveHttp } from './http/server.js'
import { createBatchWriter, type BatchWriter, type BatchWriterOptions } from './ingest/batch-writer.js'
import { gateInThisThread, startGateThread } from './ingest/gate-thread.js'
import { jetStreamTransport } from './ingest/jetstream-subscription.js'
import { createRedrive, createRedriveRunner } from './ingest/redrive.js'
import { createReplay, createReplayStep } from './ingest/replay.js'
import { stanTransport } from './ingest/stan-subscription.js'
import type { BrokerSubscription, Transport } from './ingest/transport.js'
import { Lifecycle } from './lifecycle.js'
import { createMetrics, type Metrics } from './metrics.js'
import { DatabaseProbe } from './readiness.js'
import { boundedPages, createBoundedPool, type BoundedPool } from './store/bounded-pool.js'
import { classifyDatabaseError } from './store/database-errors.js'
import { startRetention } from './store/dead-letter-retention.js'
import { createRedriveStore } from './store/dead-letter-redrives.js'
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
/** Dead letters per re-drive transaction: about 1 ms each, well within the write bound. */
const REDRIVE_BATCH_SIZE = 100

/**
 * Builds every part from the configuration and wires broker → gate → batch writer → store → cache → HTTP, each
 * part registering its stop as it starts (src/lifecycle.ts): `stop()`, and a start that fails half-way, stop them
 * newest first. HTTP listens before the database is awaited, so /healthz answers and /readyz says why not ready
 * while the database is awaited, the cache warms and the subscription starts.
 */
export async function startService(
  config: Config,
  endpoints: ServiceEndpoints,
  log: Logger,
  /** Aborted by a stop signal during start-up (say, while PostgreSQL is awaited): start-up undoes itself and throws. */
  signal?: AbortSignal,
): Promise<RunningService> {
  const life = new Lifecycle((part, error) => log.warn({ err: error, part }, 'stopping a part failed'))
  return life.startAll(async () => {
    const metrics = createMetrics()
    const transport = transportFor(config, endpoints, log.child({ component: 'subscription' }))
    const gateOptions = { maxMessageBytes: config.MAX_MESSAGE_BYTES }
    const gateThread = await life.start(
      'gate',
      () => (config.GATE_THREAD === 'on' ? startGateThread(gateOptions) : gateInThisThread(gateOptions)),
      (gate) => gate.close(),
    )
    const gate = gateThread.check

    // Every wait on PostgreSQL has a bound: work past it abandons its pool's connections (src/store/bounded-pool.ts).
    const pool = await life.start(
      'query pool',
      () =>
        createBoundedPool({
          url: endpoints.databaseUrl,
          name: 'order-service',
          max: POOL_SIZE,
          boundMs: config.QUERY_TIMEOUT_MS,
          idleInTransactionMs: config.QUERY_TIMEOUT_MS,
          pooler: config.DATABASE_POOLER,
          onAbandoned: () => metrics.databaseAbandoned.inc({ pool: 'queries' }),
        }),
      // Graceful: what still runs on it has 5 s to finish.
      (pool) => pool.end({ timeout: 5 }),
    )
    const deadLetterLimits = { maxPayloadBytes: config.DEAD_LETTER_PAYLOAD_MAX_BYTES }
    // Each call on a generation of its pool and within its bound: nothing here holds a connection past its work.
    const orders = pool.bound(createOrderStore)
    const deadLetters = pool.bound((sql) => createDeadLetterStore(sql, deadLetterLimits))
    const cache = new OrderCache({ maxBytes: config.CACHE_MAX_BYTES, store: orders })
    const { writer } = await life.start(
      'writer pool',
      () => createWriter(config, endpoints.databaseUrl, { gate, cache, metrics, log, origin: transport.origin }),
      ({ writerPool }) => writerPool.end({ timeout: 5 }),
    )
    const replayDeadLetter = createReplay({ transaction: pool.begin, orders, deadLetters, cache, gate })
    // Bulk re-drive: on the query pool (never the writer's), each batch's transaction within the query bound.
    const redrives = createRedriveRunner(
      createRedrive({
        transaction: pool.begin,
        store: pool.bound(createRedriveStore),
        deadLetters,
        replayLetter: createReplayStep({ orders, deadLetters, gate }),
        cache,
        metrics,
        batchSize: REDRIVE_BATCH_SIZE,
      }),
      log.child({ component: 'redrive' }),
    )

    const database = await life.start('database probe', () => new DatabaseProbe(pool, DATABASE_CHECK_MS), (probe) => probe.stop())
    const state = { cacheWarm: false, subscription: undefined as BrokerSubscription | undefined }
    const http = createApp({
      cache,
      orders,
      deadLetters,
      replayDeadLetter,
      redrives,
      metrics,
      readiness: () => ({
        database: database.reachable && writer.isHealthy(),
        subscription: state.subscription?.isLive() ?? false,
        cache: state.cacheWarm,
      }),
      adminToken: config.ADMIN_TOKEN,
      allowedHosts: allowedHosts(config.HTTP_HOST, config.ALLOWED_HOSTS),
      staticDir: defaultStaticDir,
      log: log.child({ component: 'http' }),
    })
    const server = await life.start('HTTP server', () => serveHttp(http, config.HTTP_HOST, config.HTTP_PORT), (server) => server.close())

    await waitForDatabase(() => pool.run((sql) => migrate(sql), { boundMs: config.MIGRATION_TIMEOUT_MS }), log, signal)
    database.answered()
    // Orders committed through other instances: ids this one remembered as unknown are forgotten at once. Started
    // before the warm-up, so that nothing committed meanwhile goes unheard.
    const commits = await life.start('commit listener', () => startCommitListener(config, endpoints, cache, log.child({ component: 'commits' })), (listener) => listener.close())
    const warmStarted = performance.now()
    // A page that does not come within the bound, or a database lost meanwhile, is waited out as at the start:
    // the warm-up begins again on fresh connections.
    const warmed = await waitForDatabase(() => cache.warm(boundedPages(pool, (sql) => createOrderStore(sql).newestFirst())), log, signal)
    state.cacheWarm = true
    log.info({ orders: warmed, bytes: cache.stats().bytes, ms: Math.round(performance.now() - warmStarted) }, 'cache warmed')
    await commits.started.catch((error: unknown) => {
      throw new StartupError('listen_refused', `${config.DATABASE_LISTEN_URL === undefined ? 'DATABASE_URL' : 'DATABASE_LISTEN_URL'} leads to a standby, which refuses LISTEN (${(error as Error).message}): name the primary, or add target_session_attrs=read-write to a host list`)
    })
    const openSubscription = await transport.prepare(signal)
    signal?.throwIfAborted()

    // A long delete, bounded as a migration is, not as a lookup.
    const retention = { maxRows: config.DEAD_LETTER_MAX_ROWS, maxAgeDays: config.DEAD_LETTER_RETENTION_DAYS }
    const prune = () => pool.run((sql) => createDeadLetterStore(sql, deadLetterLimits).prune(retention), { boundMs: config.MIGRATION_TIMEOUT_MS })
    await life.start('dead-letter retention', () => startRetention(prune, RETENTION_EVERY_MS, log), (rounds) => rounds.stop())

    state.subscription = await life.start('subscription', () => openSubscription((message) => writer.add(message)), (subscription) => subscription.close())
    // Stopped first: no new re-drive batches, then the batch in flight committed and acked while the broker
    // connection is still up; the subscription leaves after it, keeping the durable's position.
    life.onStop('batch writer', () => writer.stop())
    life.onStop('re-drives', () => redrives.close())
    return { url: server.url, events: writer.events, stop: () => life.stop() }
  })
}

/** The configured broker: the one place the service (and the re-read command) chooses a transport. */
export function transportFor(config: Config, endpoints: Omit<ServiceEndpoints, 'databaseUrl'>, log: Logger): Transport {
  return config.BROKER === 'jetstream'
    ? jetStreamTransport(config, endpoints.natsServers, log)
    : stanTransport(config, { servers: endpoints.stanServers, clusterId: endpoints.stanClusterId }, log)
}

/**
 * The batch writer on a pool of its own (abandoning one never cuts the reads, nor the reverse), as the service and
 * the re-read command (src/reread.ts) both write.
 */
export function createWriter(
  config: Config,
  databaseUrl: string,
  /** `origin`: where the messages come from, as a dead letter records it (the transport's origin). */
  parts: { gate: BatchWriterOptions['gate']; cache: BatchWriterOptions['cache']; metrics: Metrics; log: Logger; origin: string },
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
    channel: parts.origin,
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

/** Runs `task` until the database lets it: a server still starting or briefly down is waited for, not fatal. */
function waitForDatabase<T>(task: () => Promise<T>, log: Logger, signal: AbortSignal | undefined): Promise<T> {
  return retry(task, {
    policy: { initialMs: 250, maxMs: 5_000 },
    retryable: (error) => classifyDatabaseError(error) === 'transient',
    onRetry: (error, retryInMs) => log.warn({ err: { message: (error as Error).message }, retryInMs }, 'database not reachable yet'),
    ...(signal ? { signal } : {}),
  })
}
