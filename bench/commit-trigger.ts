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
import { rawInsert, type RawInsertResult } from './ingest-raw-insert.js'
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
    await rawInsert(db, orders.slice(0, Math.ceil(count / 10)), batch)
  }
  const ratios: number[] = []
  console.log(`${count.toLocaleString('en-US')} orders, ${batch} rows per INSERT, ${rounds} rounds`)
  for (let round = 1; round <= rounds; round++) {
    // Taking turns at going first, so neither is always measured on the warmer machine.
    const order = round % 2 === 1 ? [true, false] : [false, true]
    const runs: Record<string, RawInsertResult> = {}
    for (const on of order) {
      await setTrigger(db, on)
      runs[String(on)] = await rawInsert(db, orders, batch)
    }
    const [on, off] = [runs.true!, runs.false!]
    const ratio = on.rowsPerSecond / off.rowsPerSecond
    ratios.push(ratio)
    const cpu = (run: RawInsertResult) => `${run.cpuPerRow.postgres.toFixed(1)} us`
    console.log(
      `round ${round}: with the trigger ${Math.round(on.rowsPerSecond)} rows/s (PostgreSQL CPU per row ${cpu(on)}), ` +
        `without ${Math.round(off.rowsPerSecond)} rows/s (${cpu(off)}): ${ratio.toFixed(3)}`,
    )
  }
  ratios.sort((a, b) => a - b)
  console.log(`median ratio (with / without): ${ratios[Math.floor(ratios.length / 2)]!.toFixed(3)}`)
  await setTrigger(db, true)
} finally {
  await cleanup.run()
}
