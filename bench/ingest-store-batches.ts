/**
 * The service's own write: orders.insertMany (one statement per batch, conflict check, stored bodies returned),
 * batches one after another as the batch writer sends them, without the broker or the gate.
 */
import type { NewOrder } from '../src/store/orders.js'
import { createOrderStore } from '../src/store/orders.js'
import { batchesOf, type BatchSize } from './lib/orders.js'
import type { BenchDatabase } from './lib/postgres.js'
import { perSecond, timeMs } from './lib/stopwatch.js'

/** `batchSize` rows per batch, or sizes spread over a range `[min, max]`. */
export async function storeInsertRowsPerSecond(
  db: BenchDatabase,
  orders: readonly NewOrder[],
  batchSize: BatchSize,
): Promise<number> {
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
