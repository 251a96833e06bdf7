/**
 * What the commit notifications cost the write path: the raw INSERT ceiling (bench/ingest-raw-insert.ts) with the
 * `orders_committed` trigger (sql/002_order_commit_notify.sql: one NOTIFY per statement and per 100 ids) enabled,
 * and with it disabled, alternately, so each pair is taken seconds apart on the same machine.
 *
 *   node --import tsx bench/commit-trigger.ts [--orders N] [--rounds N] [--batch N]
 *
 * Prints one line per round and the median ratio; writes nothing.
 */
import { parseArgs } from 'node:util'
import { Cleanup } from '../test/support/cleanup.js'
import { rawInsertRowsPerSecond } from './ingest-raw-insert.js'
import { orderSet } from './lib/orders.js'
import { startBenchDatabase, type BenchDatabase } from './lib/postgres.js'

const { values } = parseArgs({
  options: {
    orders: { type: 'string', default: '50000' },
    rounds: { type: 'string', default: '5' },
    batch: { type: 'string', default: '500' },
  },
  strict: true,
})
const count = Number(values.orders)
const rounds = Number(values.rounds)
const batch = Number(values.batch)

const setTrigger = (db: BenchDatabase, on: boolean) =>
  on ? db.sql`alter table orders enable trigger orders_committed` : db.sql`alter table orders disable trigger orders_committed`

const cleanup = new Cleanup()
try {
  const db = await startBenchDatabase(cleanup)
  const { orders } = orderSet(count)
  // An unreported pass of each first, so neither measured one runs cold.
  for (const on of [true, false]) {
    await setTrigger(db, on)
    await rawInsertRowsPerSecond(db, orders.slice(0, Math.ceil(count / 10)), batch)
  }
  const ratios: number[] = []
  console.log(`${count.toLocaleString('en-US')} orders, ${batch} rows per INSERT, ${rounds} rounds`)
  for (let round = 1; round <= rounds; round++) {
    // Taking turns at going first, so neither is always measured on the warmer machine.
    const order = round % 2 === 1 ? [true, false] : [false, true]
    const rate: Record<string, number> = {}
    for (const on of order) {
      await setTrigger(db, on)
      rate[String(on)] = await rawInsertRowsPerSecond(db, orders, batch)
    }
    const ratio = rate.true! / rate.false!
    ratios.push(ratio)
    console.log(`round ${round}: with the trigger ${Math.round(rate.true!)} rows/s, without ${Math.round(rate.false!)} rows/s: ${ratio.toFixed(3)}`)
  }
  ratios.sort((a, b) => a - b)
  console.log(`median ratio (with / without): ${ratios[Math.floor(ratios.length / 2)]!.toFixed(3)}`)
  await setTrigger(db, true)
} finally {
  await cleanup.run()
}
