/**
 * Restore ceiling: the time PostgreSQL and the driver take to hand over every stored order as text,
 * in one query, with nothing built from the rows.
 */
import type { Sql } from '../src/store/db.js'
import { timeMs } from './lib/stopwatch.js'

export async function rawReadMs(sql: Sql, expected: number): Promise<number> {
  let rows = 0
  const ms = await timeMs(async () => {
    rows = (await sql`select order_uid, doc::text from orders`).length
  })
  if (rows !== expected) throw new Error(`read ${rows} rows, expected ${expected}`)
  return ms
}
