/**
 * Ingest latency under steady traffic: how long from the broker's ack of a producer's publish until the order is
 * committed in PostgreSQL, and so servable. The throughput figures (bench/ingest-service.ts) take a backlog, which
 * fills every batch and every pull by count; steady traffic at a few hundred orders a second is what a user sends,
 * and where waits on timers (a batch's BATCH_MAX_WAIT_MS, a JetStream pull's expiry) show.
 *
 * The service is started on an empty table and a channel (or stream) with nothing in it; a child process publishes
 * orders at a steady rate and notes when the broker acked each; this process hears each commit from outside the
 * service, without polling: the table's trigger (sql/002_order_commit_notify.sql) notifies the committed ids, and
 * the time a notification arrives is the time its orders became visible. Both clocks are the epoch at
 * sub-millisecond resolution (performance.timeOrigin + performance.now()) of processes on this one machine.
 */
import pino from 'pino'
import { orderUid } from '../src/publisher/generate-orders.js'
import { listenForCommits } from '../src/store/order-commits.js'
import { ownFeed, type Bench, type Variant } from './lib/bench.js'
import type { BenchBroker } from './lib/broker.js'
import type { Cleanup } from '../test/support/cleanup.js'
import type { BenchDatabase } from './lib/postgres.js'
import { publishOrders } from './lib/publish.js'
import { describeMachine, textTable } from './lib/report.js'
import type { ServiceBuild } from './lib/service-build.js'
import { startService } from './lib/service.js'

/** Orders per second, for `seconds` after `warmupSeconds` published at the same rate and not counted. */
export interface SteadyTraffic {
  rate: number
  seconds: number
  warmupSeconds: number
}

export interface IngestLatencyOptions extends SteadyTraffic {
  /** A channel (or, on JetStream, the stream's subject) that holds nothing yet. */
  channel: string
  /** The channel the service consumes: the same on NATS Streaming; on JetStream its settings are in `env`. */
  serviceChannel: string
  durable: string
  /** Distinct per run, so no order (nor JetStream message id) repeats one of an earlier run. */
  seed: number
  env?: Record<string, string>
  nodeFlags?: string[]
}

export interface IngestLatencyRun {
  /** Milliseconds from ack to commit heard, of each counted order (those published after the warm-up). */
  latencies: number[]
  /** The rate the publisher kept, over the whole run: orders / time to the last ack. */
  publishedRate: number
}

/** The figures of one run's latencies, or of several runs' pooled. */
export interface IngestLatency {
  orders: number
  /** The lowest rate the publisher kept of the runs summarised. */
  publishedRate: number
  /** Milliseconds from ack to commit heard. */
  p50: number
  p90: number
  p99: number
  p999: number
  max: number
  /** The smallest: below 0 when a commit was heard before the publisher heard its ack. */
  min: number
  /** Counted orders that took longer than 1 s. */
  overOneSecond: number
}

/** After the last ack, how long the service may take to commit what is left before the run counts as stuck. */
const DRAIN_TIMEOUT_MS = 30_000

const now = () => performance.timeOrigin + performance.now()

/**
 * The latency loop (--latency): on NATS Streaming, then on JetStream when asked, the service (this build and each
 * variant) in rounds, taking turns going first (nats-server 2.9.10 drops a JetStream pull at random: none to four
 * of the ten or so pulls of a 20 s run were dropped here, so one run may or may not meet one; and in runs of a fixed
 * order the build that went first met more of them). Each run has an empty table, a channel (or a purged stream)
 * of its own and orders of its own. Rows: each round, then all rounds of a service pooled.
 */
export async function measureLatencyRounds(
  bench: Pick<Bench, 'cleanup' | 'db' | 'build' | 'broker' | 'serviceFlags'>,
  steady: SteadyTraffic,
  rounds: number,
  variants: Variant[],
  nats: BenchBroker | undefined,
): Promise<LatencyRow[]> {
  if (!(steady.rate > 0) || !(steady.seconds > 0) || !(steady.warmupSeconds >= 0)) throw new Error('--rate and --seconds must be above 0, --warmup at least 0')
  const rows: LatencyRow[] = []
  const services = [{ label: 'this build', build: bench.build, env: {} }, ...variants]
  const transports = [
    { name: 'NATS Streaming (embedded broker)', broker: bench.broker },
    ...(nats === undefined ? [] : [{ name: 'JetStream (nats-server, file store)', broker: nats }]),
  ]
  let run = 0
  for (const transport of transports) {
    const runs = new Map(services.map((service) => [service.label, [] as IngestLatencyRun[]]))
    for (let round = 1; round <= rounds; round++) {
      for (const variant of services.map((_, i) => services[(i + round - 1) % services.length]!)) {
        const durable = `latency-${++run}`
        const feed = await ownFeed(transport.broker, durable, variant.env)
        const result = await measureIngestLatency(bench.cleanup, bench.db, variant.build, transport.broker, {
          channel: feed.publishTo,
          serviceChannel: feed.channel,
          durable,
          seed: 100 + run,
          ...steady,
          env: feed.env,
          nodeFlags: bench.serviceFlags,
        })
        runs.get(variant.label)!.push(result)
        const figures = summarise([result])
        const ms = (value: number) => `${value.toFixed(1)} ms`
        console.error(
          `  ${transport.name} / ${variant.label} / round ${round}: p50 ${ms(figures.p50)}, p99 ${ms(figures.p99)}, max ${ms(figures.max)}, ${figures.overOneSecond} of ${figures.orders.toLocaleString('en-US')} over 1 s`,
        )
      }
    }
    for (const [service, measured] of runs) {
      measured.forEach((one, i) => rows.push({ transport: transport.name, service, round: String(i + 1), result: summarise([one]) }))
      if (rounds > 1) rows.push({ transport: transport.name, service, round: 'all', result: summarise(measured) })
    }
  }
  return rows
}

async function measureIngestLatency(
  cleanup: Cleanup,
  db: BenchDatabase,
  build: ServiceBuild,
  broker: BenchBroker,
  options: IngestLatencyOptions,
): Promise<IngestLatencyRun> {
  const warmup = Math.round(options.rate * options.warmupSeconds)
  const count = warmup + Math.round(options.rate * options.seconds)
  const uids = new Map(Array.from({ length: count }, (_, index) => [orderUid(options.seed, index), index]))
  await db.reset()
  const service = await startService(cleanup, build, { databaseUrl: db.url, broker, channel: options.serviceChannel, durable: options.durable, env: options.env, nodeFlags: options.nodeFlags })
  try {
    const committedAt = new Array<number | undefined>(count)
    let heard = 0
    let listens = 0
    let allHeard: () => void = () => undefined
    const all = new Promise<void>((resolve) => (allHeard = resolve))
    let listening: () => void = () => undefined
    const listened = new Promise<void>((resolve) => (listening = resolve))
    const listener = listenForCommits({
      url: db.url,
      name: 'bench listener',
      handlers: {
        committed: (ids) => {
          const at = now()
          for (const id of ids) {
            const index = uids.get(id)
            if (index === undefined || committedAt[index] !== undefined) continue
            committedAt[index] = at
            if (++heard === count) allHeard()
          }
        },
        listening: () => {
          listens++
          listening()
        },
      },
      log: pino({ level: 'warn' }, pino.destination(2)),
    })
    try {
      await listened
      const published = await publishOrders(cleanup, broker, { channel: options.channel, count, seed: options.seed, rate: options.rate })
      await Promise.race([all, new Promise((resolve) => setTimeout(resolve, DRAIN_TIMEOUT_MS).unref())])
      // A second LISTEN means the connection was lost and notifications sent meanwhile are gone.
      if (listens !== 1) throw new Error(`the commit listener listened ${listens} times: commits may have gone unheard`)
      if (heard < count) throw new Error(`${count - heard} of ${count} orders not heard committed within ${DRAIN_TIMEOUT_MS / 1000} s of the last ack`)
      const ackedAt = published.ackedAt
      if (ackedAt === undefined) throw new Error('the publisher reported no ack times')
      return {
        latencies: ackedAt.slice(warmup).map((acked, i) => committedAt[warmup + i]! - acked!),
        publishedRate: (count * 1000) / published.ms,
      }
    } finally {
      await listener.close()
    }
  } finally {
    await service.stop()
  }
}

function summarise(runs: IngestLatencyRun[]): IngestLatency {
  const sorted = runs.flatMap((run) => run.latencies).sort((a, b) => a - b)
  // Nearest rank: the smallest latency at least that share of the orders had.
  const at = (share: number) => sorted[Math.max(0, Math.ceil(share * sorted.length) - 1)]!
  return {
    orders: sorted.length,
    publishedRate: Math.min(...runs.map((run) => run.publishedRate)),
    p50: at(0.5),
    p90: at(0.9),
    p99: at(0.99),
    p999: at(0.999),
    max: sorted.at(-1)!,
    min: sorted[0]!,
    overOneSecond: sorted.filter((ms) => ms > 1000).length,
  }
}

/** One line of the table: which transport, which service build or settings, which round (or 'all'), and its figures. */
export interface LatencyRow {
  transport: string
  service: string
  round: string
  result: IngestLatency
}

/** Fixed-width text: what was measured where, then one line per run, milliseconds right-aligned. */
export function formatLatencyTable(rows: LatencyRow[], run: { startedAt: string; postgres: string; steady: SteadyTraffic; rounds: number }): string {
  const m = describeMachine(run.postgres)
  const { rate, seconds, warmupSeconds } = run.steady
  const header = [
    `order-service ingest latency under steady traffic, ${run.startedAt}`,
    `${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB; Node ${m.node}; ${m.postgres}`,
    `command: npm run bench -- ${process.argv.slice(2).join(' ')}`,
    `${rate} orders/s for ${seconds} s after ${warmupSeconds} s not counted, ${run.rounds} rounds; ms from the broker's ack of each publish to its commit heard (LISTEN orders_committed)`,
  ]
  const ms = (value: number) => value.toFixed(value >= 100 ? 0 : 1)
  const titles = ['transport', 'service', 'round', 'orders', 'published/s', 'p50 ms', 'p90 ms', 'p99 ms', 'p99.9 ms', 'max ms', '> 1 s', 'min ms']
  const cells = rows.map(({ transport, service, round, result: r }) => [
    transport,
    service,
    round,
    r.orders.toLocaleString('en-US'),
    Math.round(r.publishedRate).toLocaleString('en-US'),
    ms(r.p50),
    ms(r.p90),
    ms(r.p99),
    ms(r.p999),
    ms(r.max),
    String(r.overOneSecond),
    ms(r.min),
  ])
  return textTable(header, titles, cells, (column) => column >= 3)
}
