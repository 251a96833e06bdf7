import { createServer, type Server } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import type { ServerType } from '@hono/node-server'
import type { Logger } from 'pino'
import { OrderCache } from './cache/order-cache.js'
import type { Config } from './config.js'
import { createApp, type OrderServiceApp } from './http/app.js'
import { createOrderFastPath, createRequestListener } from './http/order-listener.js'
import { defaultStaticDir } from './http/routes/static.js'
import { createBatchWriter } from './ingest/batch-writer.js'
import { gateInThisThread, startGateThread } from './ingest/gate-thread.js'
import { prepareJetStream } from './ingest/jetstream-subscription.js'
import { createReplay } from './ingest/replay.js'
import { openStanSubscription } from './ingest/stan-subscription.js'
import type { BrokerSubscription, OpenSubscription } from './ingest/transport.js'
import { createMetrics } from './metrics.js'
import { StartupError } from './startup-error.js'
import { connectDatabase, isReachable } from './store/db.js'
import { createDeadLetterStore } from './store/dead-letters.js'
import { migrate } from './store/migrate.js'
import { createOrderStore } from './store/orders.js'

export interface ServiceEndpoints {
  databaseUrl: string
  stanUrl: string
  stanClusterId: string
  /** The nats:// servers of JetStream (BROKER=jetstream). */
  natsServers: readonly string[]
}

export interface RunningService {
  /** The page's URL, with the bound port. */
  url: string
  /** Graceful stop: no new messages, the batch in flight committed and acked, durable kept, pool closed. */
  stop(): Promise<void>
}

const DATABASE_CHECK_MS = 2_000
const RETENTION_EVERY_MS = 60 * 60 * 1000
/** The pool: the writer's transaction, cache misses, listings and replays, and the readiness check. */
const POOL_SIZE = 10

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
  const sql = connectDatabase(endpoints.databaseUrl, { max: POOL_SIZE })
  const orders = createOrderStore(sql)
  const deadLetters = createDeadLetterStore(sql, { maxPayloadBytes: config.DEAD_LETTER_PAYLOAD_MAX_BYTES })
  const cache = new OrderCache({ maxBytes: config.CACHE_MAX_BYTES, store: orders })
  const writer = createBatchWriter({
    sql,
    orders,
    deadLetters,
    cache,
    metrics,
    gate,
    // Dead letters name where the message came from: the STAN channel or the JetStream stream.
    channel: config.BROKER === 'jetstream' ? config.JETSTREAM_STREAM : config.STAN_CHANNEL,
    maxBatch: config.BATCH_MAX_SIZE,
    maxWaitMs: config.BATCH_MAX_WAIT_MS,
    log: log.child({ component: 'writer' }),
  })
  const replayDeadLetter = createReplay({ sql, orders, deadLetters, cache, gate })

  const state = { databaseReachable: false, cacheWarm: false }
  let subscription: BrokerSubscription | undefined
  const readiness = () => ({
    database: state.databaseReachable && writer.isHealthy(),
    subscription: subscription?.isLive() ?? false,
    cache: state.cacheWarm,
  })

  const app = createApp({
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
  const server = await listen(app, config.HTTP_HOST, config.HTTP_PORT)
  const url = `http://${urlHost(config.HTTP_HOST)}:${boundPort(server)}/`

  const databaseCheck = setInterval(async () => {
    state.databaseReachable = await isReachable(sql)
  }, DATABASE_CHECK_MS)
  let openSubscription: OpenSubscription
  try {
    await waitForDatabase(() => migrate(sql), log, signal)
    state.databaseReachable = true
    const warmStarted = performance.now()
    const warmed = await cache.warm(orders.newestFirst())
    state.cacheWarm = true
    log.info({ orders: warmed, bytes: cache.stats().bytes, ms: Math.round(performance.now() - warmStarted) }, 'cache warmed')
    openSubscription = await openTransport(config, endpoints, log.child({ component: 'subscription' }), signal)
    signal?.throwIfAborted()
  } catch (error) {
    // Nothing was taken from the channel yet: closing the listener and the pool is all there is to undo.
    clearInterval(databaseCheck)
    await new Promise<void>((resolve) => server.close(() => resolve()))
    await sql.end({ timeout: 1 })
    await gateThread.close()
    throw error
  }

  const prune = async () => {
    try {
      const removed = await deadLetters.prune({ maxRows: config.DEAD_LETTER_MAX_ROWS, maxAgeDays: config.DEAD_LETTER_RETENTION_DAYS })
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
    async stop() {
      clearInterval(databaseCheck)
      clearInterval(retention)
      // Order matters: finish and ack the batch in flight while the connection is still up, then leave.
      await writer.stop()
      await gateThread.close()
      await subscription?.close()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      await sql.end({ timeout: 5 })
    },
  }
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
        url: endpoints.stanUrl,
        clusterId: endpoints.stanClusterId,
        clientId: config.STAN_CLIENT_ID,
        channel: config.STAN_CHANNEL,
        durableName: config.STAN_DURABLE,
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
      if (signal?.aborted || !isConnectionError(error)) throw error
      log.warn({ err: { message: (error as Error).message }, retryInMs: delay }, 'database not reachable yet')
      await sleep(delay, undefined, { signal })
    }
  }
}

function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  // Node socket errors, postgres.js connection errors, and PostgreSQL's "starting up / shutting down" (57P0x).
  return typeof code === 'string' && (/^E[A-Z]+$/.test(code) || code.startsWith('CONNECT') || code.startsWith('57P') || code === '08006')
}

/**
 * Serves the app on node:http, with GET /order/:id answered ahead of Hono (src/http/order-listener.ts).
 * server.close() (Node 19+) also closes idle keep-alive connections, so stopping does not wait for clients to leave.
 */
function listen(app: OrderServiceApp, hostname: string, port: number): Promise<Server> {
  const server = createServer(createRequestListener(app, createOrderFastPath(app.orderAnswers), { hostname }))
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
