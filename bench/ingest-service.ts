/**
 * Ingest end to end: the built service taking orders already published to the broker (published while no
 * service was consuming, so the publisher's speed and CPU are out of the figure) through the subscription,
 * the gate, the batch writer and the cache. Or, with `live`, orders published while the service ingests: a
 * publisher at full speed started once the service is ready, timed from its first publish, its own CPU apart.
 *
 * The rate is read afterwards from the table itself: every row carries its transaction's start (received_at,
 * now()), so the orders of all batches but the last, over the time from the first batch's start to the last's,
 * is the steady rate, with nothing measured while the service runs. An earlier version polled
 * max(ingest_id) every 5 ms instead: each poll walked past the uncommitted rows of the batches in flight, and
 * the polling backend took half a core from the two the service, the broker and PostgreSQL share. Now the
 * harness only asks the service's /metrics whether it is done, every 100 ms, and leaves PostgreSQL alone.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { BenchBroker } from './lib/broker.js'
import type { Cleanup } from '../test/support/cleanup.js'
import type { BenchDatabase } from './lib/postgres.js'
import { readCpuSeconds } from '../test/support/proc.js'
import { publishOrders } from './lib/publish.js'
import type { PublishReport } from './lib/publish-process.js'
import { sampleSum } from '../test/support/prometheus-text.js'
import type { ServiceBuild } from './lib/service-build.js'
import { startService } from './lib/service.js'

export interface ServiceIngestOptions {
  channel: string
  /** How many orders the channel holds; all must be stored. */
  count: number
  /** A durable name not used before, so the service starts at the channel's first message. */
  durable: string
  env?: Record<string, string>
  nodeFlags?: string[]
  /**
   * Service processes sharing the channel in one durable queue group (default 1). They are spawned together; the
   * first to subscribe takes messages alone until the others join, a fraction of a second later.
   */
  instances?: number
  /**
   * Publish while the service ingests, instead of taking a backlog: `channel` (above) must then hold nothing yet,
   * and the publisher sends `count` orders of `seed` to `publishTo` (the channel; on JetStream the stream's subject).
   */
  live?: { publishTo: string; seed: number }
}

export interface ServiceIngestResult {
  /**
   * Orders per second from the start of the first batch to the start of the last; with `live`, from the first
   * publish to the start of the last batch.
   */
  rate: number
  /** How many transactions stored the orders. */
  transactions: number
  /** From spawning the service to the last order counted stored (within 100 ms): start-up included. */
  totalMs: number
  /** Mean messages per committed batch, from the services' order_batch_size histograms. */
  meanBatch: number
  /** Orders each instance stored. */
  storedBy: number[]
  /**
   * CPU time per order (user + system, microseconds) of the service (all its instances), the broker and PostgreSQL (all its
   * processes), from the first poll that saw orders stored to the last: what each part costs, which on a shared
   * machine varies far less than a rate does.
   */
  cpuPerOrder: CpuPerOrder
}

export interface CpuPerOrder {
  service: number
  broker: number
  postgres: number
  /** With `live`: the publisher's, from its first publish to its last ack. */
  publisher?: number
}

interface CpuReading {
  stored: number
  service: number
  broker: number
  postgres: number
}

const POLL_MS = 100
/** No new commit for this long means the service is stuck: fail instead of waiting for ever. */
const STALL_MS = 30_000

/**
 * Reads `count` every 100 ms until it reaches `target`; fails when it has not grown for STALL_MS (a stuck service
 * would otherwise be waited for for ever). The orders counted are of `outcome`, for the message.
 */
export async function untilCounted(target: number, outcome: string, count: () => Promise<number>): Promise<void> {
  let last = { at: performance.now(), seen: -1 }
  for (;;) {
    const seen = await count()
    if (seen >= target) return
    const at = performance.now()
    if (seen > last.seen) last = { at, seen }
    else if (at - last.at > STALL_MS) throw new Error(`the service stopped at ${seen} of ${target} ${outcome} orders`)
    await sleep(POLL_MS)
  }
}

export async function serviceIngestRate(
  cleanup: Cleanup,
  db: BenchDatabase,
  build: ServiceBuild,
  broker: BenchBroker,
  options: ServiceIngestOptions,
): Promise<ServiceIngestResult> {
  await db.reset()
  const spawned = performance.now()
  const services = await Promise.all(
    Array.from({ length: options.instances ?? 1 }, () =>
      startService(cleanup, build, { databaseUrl: db.url, broker, channel: options.channel, durable: options.durable, env: options.env, nodeFlags: options.nodeFlags }),
    ),
  )
  // Done when the services count every order stored: /metrics, every 100 ms, costs each well under 1%.
  let metrics: string[] = []
  const storedIn = (texts: string[]) => texts.reduce((sum, text) => sum + sampleSum(text, 'order_messages_total', { outcome: 'stored' }), 0)
  let firstCpu: CpuReading | undefined
  const readCpu = async (stored: number): Promise<CpuReading> => ({
    stored,
    service: (await Promise.all(services.map((service) => readCpuSeconds(service.pid)))).reduce((a, b) => a + b, 0),
    broker: await readCpuSeconds(broker.pid),
    postgres: await db.cpuSeconds(),
  })
  let published: Promise<PublishReport> | undefined
  if (options.live) {
    firstCpu = await readCpu(0)
    published = publishOrders(cleanup, broker, { channel: options.live.publishTo, count: options.count, seed: options.live.seed })
    // A failed publisher fails the run now, not after the stall bound.
    published.catch(() => {})
  }
  await untilCounted(options.count, 'stored', async () => {
    // Both settled already when the publisher has failed: the race then rejects with its error.
    if (published !== undefined) await Promise.race([published, Promise.resolve()])
    metrics = await Promise.all(services.map((service) => service.metrics()))
    const stored = storedIn(metrics)
    if (stored > 0 && firstCpu === undefined) firstCpu = await readCpu(stored)
    return stored
  })
  const lastCpu = await readCpu(storedIn(metrics))
  const totalMs = performance.now() - spawned
  await Promise.all(services.map((service) => service.stop()))
  await db.expectOrders(options.count)
  const stored = storedIn(metrics)
  if (stored !== options.count) throw new Error(`the services counted ${stored} stored orders, expected ${options.count}`)
  const span = await transactionSpan(db)
  if (span.transactions < 3) throw new Error(`the orders were stored in ${span.transactions} transactions: too few to time`)
  const publisher = await published
  const cpu = cpuPerOrder(firstCpu, lastCpu)
  return {
    rate: publisher === undefined ? (span.beforeLast * 1000) / span.ms : (span.beforeLast * 1000) / (span.lastStart - publisher.startedAt),
    transactions: span.transactions,
    totalMs,
    meanBatch: sum(metrics, 'order_batch_size_sum') / sum(metrics, 'order_batch_size_count'),
    storedBy: metrics.map((text) => sampleSum(text, 'order_messages_total', { outcome: 'stored' })),
    cpuPerOrder: publisher === undefined ? cpu : { ...cpu, publisher: (publisher.cpuSeconds * 1e6) / options.count },
  }
}

function sum(texts: string[], name: string): number {
  return texts.reduce((total, text) => total + sampleSum(text, name), 0)
}

function cpuPerOrder(first: CpuReading | undefined, last: CpuReading | undefined): CpuPerOrder {
  if (first === undefined || last === undefined) throw new Error('no CPU readings: the service stored nothing')
  const orders = last.stored - first.stored
  if (orders < 1000) throw new Error(`only ${orders} orders stored between two CPU readings: too few to divide by`)
  const perOrder = (key: Exclude<keyof CpuReading, 'stored'>) => ((last[key] - first[key]) * 1e6) / orders
  return { service: perOrder('service'), broker: perOrder('broker'), postgres: perOrder('postgres') }
}

/** From the table: transactions (distinct starts), orders stored before the last one, and first to last start. */
async function transactionSpan(db: BenchDatabase): Promise<{ transactions: number; beforeLast: number; ms: number; lastStart: number }> {
  const [row] = await db.sql<{ transactions: number; before_last: number; ms: number; last_start: number }[]>`
    with span as (select min(received_at) as first, max(received_at) as last from orders)
    select count(distinct received_at)::int as transactions,
           (count(*) filter (where received_at < span.last))::int as before_last,
           (extract(epoch from span.last - span.first) * 1000)::float8 as ms,
           (extract(epoch from span.last) * 1000)::float8 as last_start
    from orders, span
    group by span.first, span.last`
  if (row === undefined) throw new Error('no orders stored')
  return { transactions: row.transactions, beforeLast: row.before_last, ms: row.ms, lastStart: row.last_start }
}
