/**
 * Ingest without the service: the raw multi-row INSERT ceiling (bench/ingest-raw-insert.ts), what a naive consumer
 * gets (one row per transaction), and the store's own write (orders.insertMany) by batch size, fixed and varying
 * as the batch writer's can, each beside the ceiling.
 */
import type { NewOrder } from '../src/store/orders.js'
import { createOrderStore } from '../src/store/orders.js'
import { insertCpuNote, rawInsert, type RawInsertResult } from './ingest-raw-insert.js'
import { CEILING_BATCH, type Bench } from './lib/bench.js'
import { medianOf } from './lib/median.js'
import { batchesOf, type BatchSize } from './lib/orders.js'
import type { BenchDatabase } from './lib/postgres.js'
import { count, ratio } from './lib/report.js'
import { perSecond, timeMs } from './lib/stopwatch.js'

/** Batch sizes of the store's varying-size measurement. */
const VARYING_BATCH = [300, 500] as const

/** The ceilings first, then the store by batch size (fixed, and varying as the writer's can). */
export async function measureIngestCeiling({ db, set: { orders }, plan, add }: Bench): Promise<void> {
  // An unreported round of each write first, so the first measured one does not run cold.
  const warmup = orders.slice(0, Math.ceil(orders.length / 20))
  await rawInsert(db, warmup, CEILING_BATCH)
  await storeInsertRowsPerSecond(db, warmup, CEILING_BATCH)

  const runs = plan.repeats > 1 ? `median of ${plan.repeats}` : '1 run'
  const repeated = async (orders: number, measure: () => Promise<number>) => {
    const rate = await medianOf(plan.repeats, measure)
    const spread = plan.repeats > 1 ? ` (${Math.round(rate.min)}..${Math.round(rate.max)})` : ''
    return { value: rate.median, note: `${count(orders)} orders; ${runs}${spread}` }
  }
  // The raw INSERT's runs, to note the CPU per row of the run of median rate.
  const rawRuns: RawInsertResult[] = []
  const rawRate = async (batch: BatchSize) => {
    const run = await rawInsert(db, orders, batch)
    rawRuns.push(run)
    return run.rowsPerSecond
  }
  const medianRun = (rate: number) => rawRuns.find((run) => run.rowsPerSecond === rate) ?? rawRuns[0]!

  const raw = await repeated(orders.length, () => rawRate(CEILING_BATCH))
  add({ group: 'ingest', name: `raw multi-row INSERT, ${CEILING_BATCH} rows (ceiling)`, unit: 'rows/s', ...raw, note: `${raw.note}; ${insertCpuNote(medianRun(raw.value))}` })
  const beside = (name: string, rate: { value: number; note: string }) =>
    add({ group: 'ingest', name, unit: 'rows/s', value: rate.value, note: `${rate.note}; ${ratio(rate.value, raw.value)} of ceiling` })

  const naive = orders.slice(0, plan.rowPerTransactionOrders)
  beside('one row per transaction (naive)', await repeated(naive.length, () => rowPerTransactionRowsPerSecond(db, naive)))
  for (const size of plan.batchSizes) {
    const some = orders.slice(0, Math.min(plan.ordersForBatchSize(size), orders.length))
    beside(`store insertMany, batch ${size}`, await repeated(some.length, () => storeInsertRowsPerSecond(db, some, size)))
  }
  // What the writer sends when batches do not fill: a different size each time. The store sizes its statements on
  // a ladder (src/store/orders.ts, slotsFor); the raw INSERT beside it sends a statement text per size.
  const sizes = `${VARYING_BATCH[0]}..${VARYING_BATCH[1]}`
  beside(`raw multi-row INSERT, batches of ${sizes}, a statement per size`, await repeated(orders.length, () => rawRate(VARYING_BATCH)))
  beside(`store insertMany, batches of ${sizes}`, await repeated(orders.length, () => storeInsertRowsPerSecond(db, orders, VARYING_BATCH)))
}

/**
 * What a naive consumer gets: one INSERT per order, each its own (autocommit) transaction, so each waits for
 * its own commit to be flushed to disk. The store's own code is not involved; the statement is the plain one
 * (the document as text, cast: see ingest-raw-insert.ts).
 */
async function rowPerTransactionRowsPerSecond(db: BenchDatabase, orders: readonly NewOrder[]): Promise<number> {
  await db.reset()
  const { sql } = db
  const ms = await timeMs(async () => {
    for (const order of orders) {
      await sql`insert into orders (order_uid, doc) values (${order.orderUid}, ${order.json}::text::jsonb)`
    }
  })
  await db.expectOrders(orders.length)
  return perSecond(orders.length, ms)
}

/**
 * The service's own write: orders.insertMany (one statement per batch, conflict check, stored bodies returned),
 * batches one after another as the batch writer sends them, without the broker or the gate; `batchSize` rows per
 * batch, or sizes spread over a range `[min, max]`.
 */
async function storeInsertRowsPerSecond(db: BenchDatabase, orders: readonly NewOrder[], batchSize: BatchSize): Promise<number> {
  await db.reset()
  const store = createOrderStore(db.sql)
  let stored = 0
  const ms = await timeMs(async () => {
    for (const batch of batchesOf(orders, batchSize)) {
      for (const result of await store.insertMany(batch)) if (result.status === 'stored') stored++
    }
  })
  // A batch that stored nothing would make the rate meaningless: the table was emptied, so all must be new.
  if (stored !== orders.length) throw new Error(`insertMany stored ${stored} of ${orders.length} orders`)
  return perSecond(orders.length, ms)
}
