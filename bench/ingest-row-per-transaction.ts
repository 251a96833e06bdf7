/**
 * What a naive consumer gets: one INSERT per order, each its own (autocommit) transaction, so each waits for
 * its own commit to be flushed to disk. The store's own code is not involved; the statement is the plain one
 * (the document as text, cast: see ingest-raw-insert.ts).
 */
import type { NewOrder } from '../src/store/orders.js'
import type { BenchDatabase } from './lib/postgres.js'
import { perSecond, timeMs } from './lib/stopwatch.js'

export async function rowPerTransactionRowsPerSecond(db: BenchDatabase, orders: readonly NewOrder[]): Promise<number> {
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
