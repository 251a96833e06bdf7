/**
 * What every measurement of a bench run is given: its sizes (the full run's or the quick one's), the parts it
 * started once (PostgreSQL, the service's build, the broker), the generated orders, and where its rows go.
 */
import type { Cleanup } from '../../test/support/cleanup.js'
import type { BenchBroker } from './broker.js'
import { BENCH_SUBJECT, jetStreamEnv, purgeBenchStream } from './nats-server.js'
import type { OrderSet } from './orders.js'
import type { BenchDatabase } from './postgres.js'
import type { Row } from './report.js'
import type { ServiceBuild } from './service-build.js'
import { startService, type RunningService } from './service.js'

export interface Plan {
  orders: number
  /** The one-row-per-transaction rate is taken on fewer rows: it is slow, and its rate does not depend on count. */
  rowPerTransactionOrders: number
  batchSizes: number[]
  /** Small batches are slow too: at most this many orders for a batch size. */
  ordersForBatchSize: (size: number) => number
  /** Each store-level ingest rate is the median of this many runs. */
  repeats: number
  /** Seconds of each wrk run, and of the unmeasured run before a server's first. */
  readSeconds: number
  warmupSeconds: number
  /** Rounds of bare server then service for the read target; the figures are the medians. */
  readRounds: number
  /** Rounds of raw INSERT ceiling then service ingest for the ingest target; the ratio is the median of the rounds'. */
  ingestRounds: number
  /** Tables smaller than `orders` the service is started on, for restore time (and, for the first, read rate) by size. */
  smallTables: number[]
  /** A table larger than `orders` (loaded on top of it) for the large end of the growth rows; 0 for none. */
  largeTable: number
  /** BATCH_MAX_SIZE values the service ingests with besides its default (CEILING_BATCH). */
  serviceBatchSizes: number[]
}

const FULL: Plan = {
  orders: 100_000,
  rowPerTransactionOrders: 5_000,
  batchSizes: [1, 10, 100, 500, 1000],
  ordersForBatchSize: (size) => (size === 1 ? 5_000 : size === 10 ? 20_000 : 100_000),
  repeats: 3,
  readSeconds: 5,
  warmupSeconds: 3,
  readRounds: 3,
  ingestRounds: 3,
  smallTables: [1_000, 10_000],
  largeTable: 1_000_000,
  serviceBatchSizes: [50, 2000],
}

/** The smoke run: a tenth of the orders, one run of each, shorter loads, no large table. */
export const PLANS: Record<'full' | 'quick', Plan> = {
  full: FULL,
  quick: {
    ...FULL,
    orders: FULL.orders / 10,
    rowPerTransactionOrders: FULL.rowPerTransactionOrders / 10,
    ordersForBatchSize: (size) => FULL.ordersForBatchSize(size) / 10,
    repeats: 1,
    readSeconds: 2,
    warmupSeconds: 1,
    readRounds: 2,
    ingestRounds: 1,
    smallTables: [1_000],
    largeTable: 0,
  },
}

export interface Bench {
  cleanup: Cleanup
  db: BenchDatabase
  build: ServiceBuild
  broker: BenchBroker
  plan: Plan
  set: OrderSet
  /** Node flags for every service process (--cpu-prof when asked). */
  serviceFlags: string[]
  add: (row: Row) => void
}

/** A service run beside the default one: other settings (--env), or another build (--baseline). */
export interface Variant {
  label: string
  build: ServiceBuild
  env: Record<string, string>
}

/** The batch size of the multi-row INSERT ceiling, and the service's default BATCH_MAX_SIZE. */
export const CEILING_BATCH = 500
/** Channels on the bench broker: the published orders, and an empty one for services that only serve reads. */
export const ORDERS_CHANNEL = 'orders'
const IDLE_CHANNEL = 'idle'

/** A service that only serves reads: it consumes the empty channel, so nothing is ingested while it is measured. */
export function startReadService(bench: Bench, env: Record<string, string> = {}, build = bench.build): Promise<RunningService> {
  return startService(bench.cleanup, build, { databaseUrl: bench.db.url, broker: bench.broker, channel: IDLE_CHANNEL, durable: 'reader', env, nodeFlags: bench.serviceFlags })
}

export function expectWarmed(service: RunningService, orders: number): void {
  if (service.warmed.orders !== orders) throw new Error(`the service warmed ${service.warmed.orders} orders, expected ${orders}`)
}

/**
 * Where a run that publishes orders of its own sends them, and what its service consumes: on NATS Streaming a
 * channel named after the durable; on JetStream (a broker without a cluster id) the bench stream, emptied first,
 * through a consumer of that name.
 */
export async function ownFeed(broker: BenchBroker, durable: string, env: Record<string, string>): Promise<{ publishTo: string; channel: string; env: Record<string, string> }> {
  if (broker.clusterId !== '') return { publishTo: durable, channel: durable, env }
  await purgeBenchStream(broker)
  return { publishTo: BENCH_SUBJECT, channel: ORDERS_CHANNEL, env: { ...env, ...jetStreamEnv(broker, durable) } }
}
