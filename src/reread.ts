import { parseArgs } from 'node:util'
import pino from 'pino'
import { loadConfig, loadDotEnv } from './config.js'
import { ConfigError } from './errors.js'
import { gateInThisThread } from './ingest/gate-thread.js'
import { rereadThroughWriter } from './ingest/reread.js'
import type { RereadFrom } from './ingest/transport.js'
import { createMetrics } from './metrics.js'
import { createWriter, transportFor } from './service.js'

/** EX_USAGE and EX_CONFIG: the arguments, or the configuration, need a change. */
const EX_USAGE = 64
const EX_CONFIG = 78

const USAGE = 'usage: node dist/src/reread.js --since <10m | 2h | 1d | an ISO date> | --sequence <n>'

/**
 * The way back after a fail-over with asynchronous replication lost commits that were acked to the broker: reads
 * the channel (NATS Streaming) or stream (JetStream) again from a moment (or a sequence) up to its last message,
 * through the service's gate and batch writer (idempotent inserts), and prints what it restored and what was
 * already there, as one JSON line. Runs beside the service, with its configuration (DATABASE_URL and STAN_URL or
 * NATS_URL must name the servers).
 */
async function main(): Promise<number> {
  loadDotEnv()
  let from: RereadFrom
  let config
  try {
    from = parseFrom(process.argv.slice(2), Date.now())
    config = loadConfig()
  } catch (error) {
    const usage = !(error instanceof ConfigError)
    console.error(usage ? `${(error as Error).message}\n${USAGE}` : error.message)
    return usage ? EX_USAGE : EX_CONFIG
  }
  const log = pino({ level: config.LOG_LEVEL, base: { service: 'order-service reread' } })
  const transport = transportFor(config, { stanServers: config.STAN_URL ?? [], stanClusterId: config.STAN_CLUSTER_ID, natsServers: config.NATS_URL ?? [] }, log)
  if (config.DATABASE_URL === undefined || config[transport.serversSetting] === undefined) {
    console.error(`the re-read needs DATABASE_URL and ${transport.serversSetting}: the servers the service uses`)
    return EX_CONFIG
  }
  const gate = gateInThisThread({ maxMessageBytes: config.MAX_MESSAGE_BYTES })
  const metrics = createMetrics({ processMetrics: false })
  // Dead letters record where the messages came from: the channel or the stream.
  const channel = transport.origin
  // Nothing is served here: the instances' caches learn of the restored orders from their commit listeners.
  const { writer, writerPool } = createWriter(config, config.DATABASE_URL, { gate: gate.check, cache: { set: () => {}, has: () => true }, metrics, log, origin: channel })
  try {
    const read = transport.reread(from, 'reread')
    const count = await rereadThroughWriter(writer, read)
    console.log(JSON.stringify({ channel, from: 'since' in from ? from.since.toISOString() : from.sequence, ...count }))
    return 0
  } finally {
    await writer.stop()
    await gate.close()
    await writerPool.end({ timeout: 5 })
  }
}

const UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** `--since 10m` (s, m, h, d before `now`) or an ISO date, or `--sequence n`: exactly one. */
export function parseFrom(args: string[], now: number): RereadFrom {
  const { values } = parseArgs({ args, options: { since: { type: 'string' }, sequence: { type: 'string' } }, strict: true })
  if ((values.since === undefined) === (values.sequence === undefined)) throw new Error('give --since or --sequence, one of them')
  if (values.sequence !== undefined) {
    if (!/^[1-9]\d{0,15}$/.test(values.sequence)) throw new Error(`--sequence must be a positive whole number, not "${values.sequence}"`)
    return { sequence: Number(values.sequence) }
  }
  const since = values.since ?? ''
  const relative = /^(\d{1,6})([smhd])$/.exec(since)
  const at = relative ? now - Number(relative[1]) * (UNIT_MS[relative[2] ?? 's'] ?? 0) : Date.parse(since)
  if (!Number.isFinite(at)) throw new Error(`--since must be like 10m, 2h, 1d or an ISO date, not "${since}"`)
  return { since: new Date(at) }
}

if (import.meta.url === `file://${process.argv[1]}`) process.exit(await main())
