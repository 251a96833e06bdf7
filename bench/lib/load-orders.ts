import { createOrderStore, type NewOrder } from '../../src/store/orders.js'
import type { BenchDatabase } from './postgres.js'

const BATCH = 1000

/**
 * Stores orders straight into the table with the store's insertMany, 1,000 a statement: the quick way to give
 * the service a table to restore from. The next batch is built while PostgreSQL writes the one before.
 * Returns how many were stored; refreshes the planner's statistics at the end, as autovacuum would in time.
 */
export async function loadOrders(db: BenchDatabase, orders: Iterable<NewOrder>): Promise<number> {
  const store = createOrderStore(db.sql)
  let stored = 0
  let writing: Promise<void> | undefined
  const write = async (batch: NewOrder[]) => {
    for (const result of await store.insertMany(batch)) if (result.status === 'stored') stored++
  }
  let batch: NewOrder[] = []
  for (const order of orders) {
    batch.push(order)
    if (batch.length === BATCH) {
      await writing
      writing = write(batch)
      batch = []
    }
  }
  await writing
  if (batch.length > 0) await write(batch)
  await db.sql`analyze orders`
  return stored
}
