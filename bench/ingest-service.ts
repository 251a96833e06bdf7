/**
 * Ingest end to end: the built service taking orders already published to the broker (published while no
 * service was consuming, so the publisher's speed and CPU are out of the figure) through the subscription,
 * the gate, the batch writer and the cache. The rate runs from the first committed batch to the commit of the
 * last order, read from the table: the largest ingest_id visible, polled every few milliseconds on the
 * harness's own connection (an index lookup, nothing the service pays for).
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { BenchBroker } from './lib/broker.js'
import type { Cleanup } from './lib/cleanup.js'
import type { BenchDatabase } from './lib/postgres.js'
import { sampleSum } from './lib/prometheus-text.js'
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
}

export interface ServiceIngestResult {
  /** Orders per second from the first commit seen to the last order committed. */
  rate: number
  /** Orders already committed when the first commit was seen (excluded from the rate). */
  firstSeen: number
  /** From spawning the service to the last order committed: start-up included. */
  totalMs: number
  /** Mean messages per committed batch, from the service's order_batch_size histogram. */
  meanBatch: number
}

const POLL_MS = 5
/** No new commit for this long means the service is stuck: fail instead of waiting for ever. */
const STALL_MS = 30_000

export async function serviceIngestRate(
  cleanup: Cleanup,
  db: BenchDatabase,
  build: ServiceBuild,
  broker: BenchBroker,
  options: ServiceIngestOptions,
): Promise<ServiceIngestResult> {
  await db.reset()
  const spawned = performance.now()
  let failed: unknown
  const starting = startService(cleanup, build, {
    databaseUrl: db.url,
    broker,
    channel: options.channel,
    durable: options.durable,
    ...(options.env ? { env: options.env } : {}),
    ...(options.nodeFlags ? { nodeFlags: options.nodeFlags } : {}),
  }).catch((error: unknown) => {
    failed = error
    return undefined
  })

  // Watched from the spawn on: the first batch can commit before /readyz is seen to answer.
  let first: { at: number; stored: number } | undefined
  let last = { at: performance.now(), stored: 0 }
  while (last.stored < options.count) {
    if (failed !== undefined) throw failed
    await sleep(POLL_MS)
    const [row] = await db.sql<{ stored: string | null }[]>`select max(ingest_id)::text as stored from orders`
    const stored = Number(row?.stored ?? 0)
    const at = performance.now()
    if (stored > 0 && first === undefined) first = { at, stored }
    if (stored > last.stored) last = { at, stored }
    else if (at - last.at > STALL_MS) throw new Error(`the service stopped storing at ${stored} of ${options.count} orders`)
  }
  const service = await starting
  if (service === undefined) throw failed
  const metrics = await service.metrics()
  await service.stop()
  await db.expectOrders(options.count)
  const stored = sampleSum(metrics, 'order_messages_total', { outcome: 'stored' })
  if (stored !== options.count) throw new Error(`the service counted ${stored} stored orders, expected ${options.count}`)
  if (first === undefined || first.stored >= options.count) throw new Error('every order was stored before the first poll: too few orders to time')
  return {
    rate: ((options.count - first.stored) * 1000) / (last.at - first.at),
    firstSeen: first.stored,
    totalMs: last.at - spawned,
    meanBatch: sampleSum(metrics, 'order_batch_size_sum') / sampleSum(metrics, 'order_batch_size_count'),
  }
}
