/**
 * Child process for bench/cache-warm.ts: a fresh Node process (run with --expose-gc) that reads the whole orders
 * table raw, then warms an OrderCache from it the way the service does at start-up, and reports over IPC the raw
 * read's time and how much memory the filled cache holds (the service's own restore time is read from its log). Both reads run in this one process, so neither pays for
 * the harness's heap.
 *   EXPECTED_ORDERS=100000 DATABASE_URL=... node --expose-gc --import tsx bench/lib/cache-warm-process.ts
 */
import { OrderCache } from '../../src/cache/order-cache.js'
import { connectDatabase } from '../../src/store/db.js'
import { createOrderStore } from '../../src/store/orders.js'
import { timeMs } from './stopwatch.js'

export interface CacheWarmReport {
  rawReadMs: number
  entries: number
  /** Growth of V8 heap plus Buffer memory across the warm-up, after full collections: what the cache keeps. */
  retainedBytes: number
  /** The cache's own accounting (CACHE_MAX_BYTES is checked against this). */
  accountedBytes: number
}

const url = process.env.DATABASE_URL
const expected = Number(process.env.EXPECTED_ORDERS)
if (url === undefined || !Number.isInteger(expected)) throw new Error('DATABASE_URL and EXPECTED_ORDERS are required')
const gc = globalThis.gc
if (gc === undefined) throw new Error('run with --expose-gc')

const sql = connectDatabase(url, { max: 2 })
const orders = createOrderStore(sql)
// A budget larger than the table, so warm() takes every order.
const cache = new OrderCache({ maxBytes: 64 * 2 ** 30, store: orders })

/** The restore's ceiling: every stored order handed over as text, in one query, with nothing built from the rows. */
const rawReadMs = async () => {
  let rows = 0
  const ms = await timeMs(async () => {
    rows = (await sql`select order_uid, doc::text from orders`).length
  })
  if (rows !== expected) throw new Error(`read ${rows} rows, expected ${expected}`)
  return ms
}
// One unmeasured read first: the table is in PostgreSQL's buffers and the driver's code is compiled for both.
await rawReadMs()
const raw = await rawReadMs()

/** Heap plus Buffer memory still reachable. Buffers' memory is released after the collection that finds them
 * dead, by finalizers, so a few rounds with a turn of the event loop between them let it settle. */
const held = async () => {
  for (let round = 0; round < 4; round++) {
    gc()
    await new Promise((resolve) => setImmediate(resolve))
  }
  const usage = process.memoryUsage()
  return usage.heapUsed + usage.external
}
const before = await held()
const entries = await cache.warm(orders.newestFirst())
const retainedBytes = (await held()) - before

const report: CacheWarmReport = {
  rawReadMs: raw,
  entries,
  retainedBytes,
  accountedBytes: cache.stats().bytes,
}
await sql.end({ timeout: 5 })
process.send?.(report)
process.disconnect?.()
