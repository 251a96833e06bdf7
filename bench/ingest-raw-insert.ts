/**
 * Ingest ceiling: the same PostgreSQL taking the same documents as plain parameterized multi-row INSERTs
 * (`insert into orders (order_uid, doc) values ($1, $2), ...`), one statement per batch, one after another,
 * with no conflict handling and nothing returned: the least work an ingest path could ask of the database.
 */
import type { NewOrder } from '../src/store/orders.js'
import { batchesOf } from './lib/orders.js'
import type { BenchDatabase } from './lib/postgres.js'
import { perSecond, timeMs } from './lib/stopwatch.js'

export async function rawInsertRowsPerSecond(db: BenchDatabase, orders: readonly NewOrder[], batchSize: number): Promise<number> {
  await db.reset()
  const { sql } = db
  const ms = await timeMs(async () => {
    for (const batch of batchesOf(orders, batchSize)) {
      const rows = batch.map((order) => ({ order_uid: order.orderUid, doc: order.json }))
      // Strings are sent untyped, so PostgreSQL parses doc as the column's type, jsonb.
      await sql`insert into orders ${sql(rows, 'order_uid', 'doc')}`
    }
  })
  await db.expectOrders(orders.length)
  return perSecond(orders.length, ms)
}
