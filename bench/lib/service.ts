import { randomBytes } from 'node:crypto'
import { spawnService } from '../../test/support/service-process.js'
import type { BenchBroker } from './broker.js'
import type { Cleanup } from '../../test/support/cleanup.js'
import type { ServiceBuild } from './service-build.js'

export interface ServiceOptions {
  databaseUrl: string
  broker: BenchBroker
  /** The channel and durable it consumes: an empty channel for the read measurements, so nothing is ingested meanwhile. */
  channel: string
  durable: string
  /** Any further settings of src/config.ts, e.g. CACHE_MAX_BYTES or BATCH_MAX_SIZE. */
  env?: Record<string, string>
  /** Extra node flags, e.g. --cpu-prof. */
  nodeFlags?: string[]
}

export interface RunningService {
  baseUrl: string
  pid: number
  /** From the service's own log line "cache warmed": orders taken and the time warm() took. */
  warmed: { orders: number; bytes: number; ms: number }
  /** Milliseconds from spawn until /readyz answered 200. */
  readyMs: number
  /** GET /metrics as text. */
  metrics(): Promise<string>
  /** SIGTERM, i.e. the service's graceful stop; SIGKILL if it takes longer than 10 s. */
  stop(): Promise<void>
}

interface LogLine {
  msg?: string
  orders?: number
  bytes?: number
  ms?: number
  level?: number
}

const READY_TIMEOUT_MS = 120_000

/**
 * Runs the built service (node dist/src/main.js, no TypeScript loader) against the bench PostgreSQL and broker,
 * on a free port, logging at info as JSON lines on stdout, which are read for its URL and its cache warm-up time;
 * resolves once GET /readyz answers 200 (database reachable, cache warm, subscription live).
 */
export async function startService(cleanup: Cleanup, build: ServiceBuild, options: ServiceOptions): Promise<RunningService> {
  const started = performance.now()
  const env = {
    HTTP_HOST: '127.0.0.1',
    HTTP_PORT: '0',
    DATABASE_URL: options.databaseUrl,
    STAN_URL: options.broker.url,
    STAN_CLUSTER_ID: options.broker.clusterId,
    // One client id per run: the broker refuses a second connection under an id still registered.
    STAN_CLIENT_ID: `bench-service-${randomBytes(4).toString('hex')}`,
    STAN_CHANNEL: options.channel,
    STAN_DURABLE: options.durable,
    // No single-instance durable to remove: its connection would only add to what is measured.
    STAN_LEGACY_CLIENT_ID: 'none',
    DATA_DIR: build.dir,
    LOG_LEVEL: 'info',
    ...options.env,
  }
  let warmed: RunningService['warmed'] | undefined
  const onLine = (text: string) => {
    let line: LogLine
    try {
      line = JSON.parse(text) as LogLine
    } catch {
      return
    }
    if (line.msg === 'cache warmed') warmed = { orders: line.orders ?? 0, bytes: line.bytes ?? 0, ms: line.ms ?? NaN }
    // Warnings and errors are worth seeing: a benchmark of a failing service measures the failure.
    if ((line.level ?? 0) >= 40) console.error(`  service: ${text}`)
  }
  const child = spawnService({ main: build.main, nodeFlags: options.nodeFlags, cwd: build.dir, env, output: 'inherit', onLine, killOnExit: true })
  const stop = async () => {
    await child.stop('SIGTERM', 10_000)
  }
  cleanup.add('stop the service', stop)
  const baseUrl = await child.ready(READY_TIMEOUT_MS)
  // Its "cache warmed" line comes before the "ready" line that gave the URL.
  if (warmed === undefined) throw new Error('the service was ready without a "cache warmed" log line')
  const readyMs = performance.now() - started
  return {
    baseUrl,
    pid: child.pid,
    warmed,
    readyMs,
    metrics: async () => (await fetch(`${baseUrl}/metrics`)).text(),
    stop,
  }
}
