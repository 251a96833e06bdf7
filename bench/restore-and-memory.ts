/**
 * The cache at start-up and in memory: the service's restore time by table size (its "cache warmed" log line)
 * beside the raw read of the same rows (bench/cache-warm.ts), what the cache retains per order, and the service's
 * RSS per cached order against the order's JSON. Each table size is read too while it is cached (bench/read.ts).
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { readRssBytes } from '../test/support/proc.js'
import { measureCacheWarm } from './cache-warm.js'
import { expectWarmed, startReadService, type Bench } from './lib/bench.js'
import { loadOrders } from './lib/load-orders.js'
import { ordersBetween } from './lib/orders.js'
import { count, ratio, verdict } from './lib/report.js'
import type { RunningService } from './lib/service.js'
import { measureCachedRead } from './read.js'

const TARGETS = { restoreMs: 2_000, restoreOrders: 100_000, memoryOfJson: 2 }
const MiB = 2 ** 20

/**
 * The service on an empty table (the baseline its memory per order is taken against), then on small tables:
 * restore time by table size, and the read rate with the first size all cached. Returns the empty service's RSS.
 */
export async function measureSmallTables(bench: Bench): Promise<number> {
  const { db, set, plan, add } = bench
  await db.reset()
  const empty = await startReadService(bench)
  const emptyRss = await settledRss(empty)
  await empty.stop()

  let loaded = 0
  for (const [i, size] of plan.smallTables.entries()) {
    loaded += await loadOrders(db, set.orders.slice(loaded, size))
    const service = await startReadService(bench)
    expectWarmed(service, size)
    add({ group: 'restore', name: `service start-up restore, ${count(size)} orders`, value: service.warmed.ms, unit: 'ms', note: 'its "cache warmed" log line' })
    if (i === 0) await measureCachedRead(bench, service, size)
    await service.stop()
  }
  return emptyRss
}

/**
 * With every order of the set stored: the raw read and OrderCache.warm in a process of their own, then the
 * service restoring them at start-up and its memory with all of them cached. Returns that service, for the reads.
 */
export async function measureRestoreAndMemory(bench: Bench, emptyRss: number): Promise<RunningService> {
  const { cleanup, db, set, add } = bench
  const n = count(set.orders.length)
  const warm = await measureCacheWarm(cleanup, db, set.orders.length)
  add({ group: 'restore', name: 'raw read of all rows (ceiling)', value: warm.rawReadMs, unit: 'ms', note: `${n} rows, one query` })

  const jsonPerOrder = set.jsonBytes / set.orders.length
  const retainedPerOrder = warm.retainedBytes / warm.entries
  add({ group: 'memory', name: 'order JSON, mean', value: jsonPerOrder, unit: 'bytes', note: `${n} generated orders` })
  add({ group: 'memory', name: 'cache retained per order (heap + buffers)', value: retainedPerOrder, unit: 'bytes', note: `${ratio(retainedPerOrder, jsonPerOrder)} x JSON; after full GCs` })
  add({
    group: 'memory',
    name: 'cache accounted per order (entrySize)',
    value: warm.accountedBytes / warm.entries,
    unit: 'bytes',
    note: `${ratio(warm.accountedBytes, warm.retainedBytes)} of retained`,
  })

  const service = await startReadService(bench)
  expectWarmed(service, set.orders.length)
  const restoreTarget = set.orders.length === TARGETS.restoreOrders ? `< ${count(TARGETS.restoreMs)} ms: ${verdict(service.warmed.ms < TARGETS.restoreMs)}` : undefined
  add({
    group: 'restore',
    name: `service start-up restore, ${n} orders`,
    value: service.warmed.ms,
    unit: 'ms',
    note: `its "cache warmed" log line; ${ratio(service.warmed.ms, warm.rawReadMs)} x raw read; ready ${Math.round(service.readyMs)} ms after spawn`,
    ...(restoreTarget ? { target: restoreTarget } : {}),
  })
  addServiceMemory(bench, await settledRss(service), emptyRss, set.orders.length)
  return service
}

/** The large end of the growth rows: more orders loaded on top of the set, restored, weighed and read. */
export async function measureLargeTable(bench: Bench, emptyRss: number): Promise<void> {
  const { db, set, plan, add } = bench
  const size = plan.largeTable
  const started = performance.now()
  const loaded = await loadOrders(db, ordersBetween(set.orders.length, size))
  if (loaded !== size - set.orders.length) throw new Error(`loaded ${loaded} orders, expected ${size - set.orders.length}`)
  console.error(`  loaded ${count(loaded)} more orders in ${Math.round(performance.now() - started)} ms`)

  const service = await startReadService(bench, { CACHE_MAX_BYTES: String(2 * 2 ** 30) })
  expectWarmed(service, size)
  add({ group: 'restore', name: `service start-up restore, ${count(size)} orders`, value: service.warmed.ms, unit: 'ms', note: 'its "cache warmed" log line; CACHE_MAX_BYTES 2 GiB' })
  addServiceMemory(bench, await settledRss(service), emptyRss, size)
  await measureCachedRead(bench, service, size)
  await service.stop()
}

/** RSS a second after readiness, when the start-up's last allocations have been made. */
async function settledRss(service: RunningService): Promise<number> {
  await sleep(1000)
  return readRssBytes(service.pid)
}

function addServiceMemory({ add, set }: Bench, rss: number, emptyRss: number, orders: number): void {
  const jsonPerOrder = set.jsonBytes / set.orders.length
  const perOrder = (rss - emptyRss) / orders
  add({ group: 'memory', name: `service RSS, ${count(orders)} cached`, value: rss / MiB, unit: 'MiB', note: `at readiness + 1 s; empty table: ${(emptyRss / MiB).toFixed(1)} MiB` })
  add({
    group: 'memory',
    name: `service RSS per cached order, ${count(orders)}`,
    value: perOrder,
    unit: 'bytes',
    note: `(RSS - RSS with an empty table) / orders; ${ratio(perOrder, jsonPerOrder)} x JSON`,
    target: `< ${TARGETS.memoryOfJson} x JSON: ${verdict(perOrder < TARGETS.memoryOfJson * jsonPerOrder)}`,
  })
}
