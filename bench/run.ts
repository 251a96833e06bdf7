/**
 * The benchmark entry: `npm run bench` (node --import tsx bench/run.ts), or `npm run bench -- --quick` for a smoke
 * run with smaller counts. Starts its own embedded PostgreSQL in a temp dir, measures each figure beside its
 * ceiling in this same run, prints one table and writes its JSON copy to bench/results/ (latest.json, or
 * quick.json for --quick). Every number comes from this run; rows the harness cannot measure yet say TODO.
 */
import { parseArgs } from 'node:util'
import type { NewOrder } from '../src/store/orders.js'
import { createOrderStore } from '../src/store/orders.js'
import { measureCacheWarm } from './cache-warm.js'
import { rawInsertRowsPerSecond } from './ingest-raw-insert.js'
import { rowPerTransactionRowsPerSecond } from './ingest-row-per-transaction.js'
import { storeInsertRowsPerSecond } from './ingest-store-batches.js'
import { Cleanup } from './lib/cleanup.js'
import { medianOf } from './lib/median.js'
import { orderSet, type OrderSet } from './lib/orders.js'
import { startBenchDatabase, type BenchDatabase } from './lib/postgres.js'
import { describeMachine, formatTable, writeReport, type Report, type Row } from './lib/report.js'
import { measureBareRead } from './read-bare.js'

interface Plan {
  orders: number
  /** The one-row-per-transaction rate is taken on fewer rows: it is slow, and its rate does not depend on count. */
  rowPerTransactionOrders: number
  batchSizes: number[]
  /** Small batches are slow too: at most this many orders for a batch size. */
  ordersForBatchSize: (size: number) => number
  /** Each ingest rate is the median of this many runs. */
  repeats: number
  readSeconds: number
  warmupSeconds: number
}

const PLANS: Record<Report['mode'], Plan> = {
  full: {
    orders: 100_000,
    rowPerTransactionOrders: 5_000,
    batchSizes: [1, 10, 100, 500, 1000],
    ordersForBatchSize: (size) => (size === 1 ? 5_000 : size === 10 ? 20_000 : 100_000),
    repeats: 3,
    readSeconds: 10,
    warmupSeconds: 3,
  },
  quick: {
    orders: 10_000,
    rowPerTransactionOrders: 500,
    batchSizes: [1, 10, 100, 500, 1000],
    ordersForBatchSize: (size) => (size === 1 ? 500 : size === 10 ? 2_000 : 10_000),
    repeats: 1,
    readSeconds: 3,
    warmupSeconds: 1,
  },
}

/** The batch size of the multi-row INSERT ceiling, and the service's default BATCH_MAX_SIZE. */
const CEILING_BATCH = 500
const NOT_YET = 'TODO: needs the service (src/main.ts), next slice'

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false } } })
  const mode: Report['mode'] = values.quick ? 'quick' : 'full'
  const plan = PLANS[mode]
  const cleanup = new Cleanup()
  cleanup.onSignals()
  const startedAt = new Date().toISOString()
  try {
    console.error(`${mode} run: ${plan.orders.toLocaleString('en-US')} orders`)
    const rows: Row[] = []
    const add = (row: Row) => {
      rows.push(row)
      console.error(`  ${row.group} / ${row.name}: ${row.value === null ? 'TODO' : row.value.toFixed(2)} ${row.unit}`)
    }
    const db = await startBenchDatabase(cleanup)
    const set = orderSet(plan.orders)
    await measureIngest(db, set.orders, plan, add)
    await measureRestoreAndMemory(cleanup, db, set, add)
    await measureRead(cleanup, db, set.orders, plan, add)

    const report: Report = {
      mode,
      startedAt,
      finishedAt: new Date().toISOString(),
      command: `node --import tsx bench/run.ts${mode === 'quick' ? ' --quick' : ''}`,
      machine: describeMachine(db.version),
      rows: sortByGroup(rows),
    }
    const path = new URL(`./results/${mode === 'quick' ? 'quick' : 'latest'}.json`, import.meta.url).pathname
    await writeReport(path, report)
    console.log(formatTable(report))
    console.log(`\nJSON copy: ${path}`)
  } catch (error) {
    // Interrupted: the connections were closed under the running measurement; that is not a failure to report.
    if (!cleanup.started) throw error
  } finally {
    await cleanup.runAll()
  }
}

/** The ceilings first, then the store by batch size; the last batch size leaves every order stored. */
async function measureIngest(db: BenchDatabase, orders: NewOrder[], plan: Plan, add: (row: Row) => void): Promise<void> {
  // An unreported round of each write first, so the first measured one does not run cold.
  const warmup = orders.slice(0, Math.ceil(orders.length / 20))
  await rawInsertRowsPerSecond(db, warmup, CEILING_BATCH)
  await storeInsertRowsPerSecond(db, warmup, CEILING_BATCH)

  const runs = plan.repeats > 1 ? `median of ${plan.repeats}` : '1 run'
  const repeated = async (count: number, measure: () => Promise<number>) => {
    const rate = await medianOf(plan.repeats, measure)
    const spread = plan.repeats > 1 ? ` (${Math.round(rate.min)}..${Math.round(rate.max)})` : ''
    return { value: rate.median, note: `${count.toLocaleString('en-US')} orders; ${runs}${spread}` }
  }

  const raw = await repeated(orders.length, () => rawInsertRowsPerSecond(db, orders, CEILING_BATCH))
  add({ group: 'ingest', name: `raw multi-row INSERT, ${CEILING_BATCH} rows (ceiling)`, unit: 'rows/s', ...raw })
  const ofCeiling = (value: number) => `; ${ratio(value, raw.value)} of ceiling`

  const naive = orders.slice(0, plan.rowPerTransactionOrders)
  const single = await repeated(naive.length, () => rowPerTransactionRowsPerSecond(db, naive))
  add({ group: 'ingest', name: 'one row per transaction (naive)', unit: 'rows/s', value: single.value, note: single.note + ofCeiling(single.value) })
  add({ group: 'ingest', name: 'service end to end (broker, gate, writer, cache)', value: null, unit: 'orders/s', note: NOT_YET })

  for (const size of plan.batchSizes) {
    const some = orders.slice(0, Math.min(plan.ordersForBatchSize(size), orders.length))
    const rate = await repeated(some.length, () => storeInsertRowsPerSecond(db, some, size))
    add({ group: 'ingest', name: `store insertMany, batch ${size}`, unit: 'rows/s', value: rate.value, note: rate.note + ofCeiling(rate.value) })
  }
  await db.expectOrders(orders.length)
}

/** The cache filled from the full table beside the raw read of the same rows, and what the filled cache weighs. */
async function measureRestoreAndMemory(cleanup: Cleanup, db: BenchDatabase, set: OrderSet, add: (row: Row) => void): Promise<void> {
  const n = set.orders.length.toLocaleString('en-US')
  const warm = await measureCacheWarm(cleanup, db, set.orders.length)
  add({ group: 'restore', name: 'raw read of all rows (ceiling)', value: warm.rawReadMs, unit: 'ms', note: `${n} rows, one query` })
  add({ group: 'restore', name: 'OrderCache.warm from the table', value: warm.warmMs, unit: 'ms', note: `${ratio(warm.warmMs, warm.rawReadMs)} x raw read` })
  add({ group: 'restore', name: 'service start-up restore', value: null, unit: 'ms', note: NOT_YET })

  const jsonPerOrder = set.jsonBytes / set.orders.length
  const retainedPerOrder = warm.retainedBytes / warm.entries
  add({ group: 'memory', name: 'order JSON, mean', value: jsonPerOrder, unit: 'bytes', note: `${n} generated orders` })
  add({ group: 'memory', name: 'cache retained per order (heap + buffers)', value: retainedPerOrder, unit: 'bytes', note: `${ratio(retainedPerOrder, jsonPerOrder)} x JSON` })
  add({
    group: 'memory',
    name: 'cache accounted per order (entrySize)',
    value: warm.accountedBytes / warm.entries,
    unit: 'bytes',
    note: `${ratio(warm.accountedBytes, warm.retainedBytes)} of retained`,
  })
  add({ group: 'memory', name: 'RSS of the warm-up process', value: warm.rssBytes / 2 ** 20, unit: 'MiB', note: `${n} orders cached; under tsx` })
  add({ group: 'memory', name: `service RSS, ${n} cached`, value: null, unit: 'MiB', note: NOT_YET })
}

/** The bare server over the same ids the service will be asked for, answering with a stored order's served form. */
async function measureRead(cleanup: Cleanup, db: BenchDatabase, orders: NewOrder[], plan: Plan, add: (row: Row) => void): Promise<void> {
  const ids = orders.map((order) => order.orderUid)
  const body = await createOrderStore(db.sql).findBody(ids[0]!)
  if (body === undefined) throw new Error('the first order is not stored')
  const bare = await measureBareRead(cleanup, { body, ids, seconds: plan.readSeconds, warmupSeconds: plan.warmupSeconds })
  const n = orders.length.toLocaleString('en-US')
  add({ group: 'read', name: 'bare node:http, one prebuilt order (ceiling)', value: bare.load.rps, unit: 'req/s', note: `wrk 50 conn, 2 threads, ${plan.readSeconds} s` })
  add({ group: 'read', name: 'bare node:http p50', value: bare.load.p50Ms, unit: 'ms' })
  add({ group: 'read', name: 'bare node:http p99', value: bare.load.p99Ms, unit: 'ms' })
  add({ group: 'read', name: `service GET /order/:id, ${n} cached`, value: null, unit: 'req/s', note: NOT_YET })
  add({ group: 'read', name: 'service read-through (not cached)', value: null, unit: 'req/s', note: NOT_YET })
  add({ group: 'read', name: 'service unknown ids (404)', value: null, unit: 'req/s', note: NOT_YET })
  add({ group: 'memory', name: 'RSS of the bare server after load', value: bare.rssBytes / 2 ** 20, unit: 'MiB', note: 'plain node, no TS loader' })
}

/** `a / b` with two decimals, for notes such as "0.85 of ceiling". */
function ratio(a: number, b: number): string {
  return (a / b).toFixed(2)
}

const GROUP_ORDER: Row['group'][] = ['read', 'ingest', 'restore', 'memory']

function sortByGroup(rows: Row[]): Row[] {
  return GROUP_ORDER.flatMap((group) => rows.filter((row) => row.group === group))
}

await main()
