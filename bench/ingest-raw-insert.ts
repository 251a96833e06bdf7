/**
 * Ingest ceiling: the same PostgreSQL taking the same documents as plain parameterized multi-row INSERTs
 * (`insert into orders (order_uid, doc) values ($1, $2::text::jsonb), ...`), one statement per batch, one after
 * another, with no conflict handling and nothing returned: the least work an ingest path could ask of the database.
 *
 * The documents must arrive as text: a parameter typed jsonb (as `sql(rows)` or `$2::jsonb` make it) is
 * JSON.stringify'd by postgres.js, so a string is stored as a jsonb string, not as the object (an earlier version
 * of this ceiling did that, and measured a cheaper write than the service's). BenchDatabase.expectOrders checks.
 */
import type { NewOrder } from '../src/store/orders.js'
import { batchesOf, type BatchSize } from './lib/orders.js'
import type { BenchDatabase } from './lib/postgres.js'
import { perSecond, timeMs } from './lib/stopwatch.js'

export interface RawInsertResult {
  rowsPerSecond: number
  /** CPU time per row (user + system, microseconds) of the PostgreSQL server, and of this process sending the rows. */
  cpuPerRow: { postgres: number; client: number }
}

/**
 * `batchSize` rows per statement; or sizes spread over a range `[min, max]`, each size its own statement text as
 * a naive writer would send it (PostgreSQL plans each anew: what the store's statement ladder avoids).
 */
export async function rawInsert(db: BenchDatabase, orders: readonly NewOrder[], batchSize: BatchSize): Promise<RawInsertResult> {
  await db.reset()
  const { sql } = db
  const postgresBefore = await db.cpuSeconds()
  const clientBefore = process.cpuUsage()
  const ms = await timeMs(async () => {
    for (const batch of batchesOf(orders, batchSize)) {
      const params: NewOrder[keyof NewOrder][] = []
      for (const order of batch) params.push(order.orderUid, order.json)
      await sql.unsafe(statementFor(batch.length), params, { prepare: true })
    }
  })
  const client = process.cpuUsage(clientBefore)
  const postgres = (await db.cpuSeconds()) - postgresBefore
  await db.expectOrders(orders.length)
  return {
    rowsPerSecond: perSecond(orders.length, ms),
    cpuPerRow: { postgres: (postgres * 1e6) / orders.length, client: (client.user + client.system) / orders.length },
  }
}

const statements = new Map<number, string>()

/** The statement for `rows` rows, built once per row count, so PostgreSQL prepares it once (as the store does). */
function statementFor(rows: number): string {
  let statement = statements.get(rows)
  if (statement === undefined) {
    const values = Array.from({ length: rows }, (_, i) => `($${2 * i + 1}, $${2 * i + 2}::text::jsonb)`)
    statements.set(rows, (statement = `insert into orders (order_uid, doc) values ${values.join(', ')}`))
  }
  return statement
}

/** CPU per row of the raw INSERT: PostgreSQL's, and the bench's own sending them. */
export function insertCpuNote({ cpuPerRow: cpu }: RawInsertResult): string {
  return `CPU per row: PostgreSQL ${cpu.postgres.toFixed(1)} us, client ${cpu.client.toFixed(1)} us`
}
