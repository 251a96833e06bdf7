/**
 * What the one-time re-read of an upgrade costs: the single-instance version kept a plain durable, and the first
 * start of this version joins its queue group at the channel's first message (README "Upgrading"), so it reads
 * the whole channel again while every order in it is stored already. This runs the built service over N orders
 * twice on one table: first with a new durable into an empty table (every order stored), then with another new
 * durable over the same channel (every order a duplicate, absorbed), and prints the time and rate of each.
 *
 *   node --import tsx bench/channel-reread.ts [--orders N]
 *
 * Both end when the service's /metrics count N orders of their outcome (read every 100 ms, as the ingest bench
 * does); the rows are checked to be N, each once.
 */
import { parseArgs } from 'node:util'
import { Cleanup } from '../test/support/cleanup.js'
import { untilCounted } from './ingest-service.js'
import { startBroker, type BenchBroker } from './lib/broker.js'
import { startBenchDatabase, type BenchDatabase } from './lib/postgres.js'
import { sampleSum } from '../test/support/prometheus-text.js'
import { publishOrders } from './lib/publish.js'
import { buildService, type ServiceBuild } from './lib/service-build.js'
import { startService } from './lib/service.js'

const CHANNEL = 'orders'

const { values } = parseArgs({ options: { orders: { type: 'string', default: '100000' } }, strict: true })
const count = Number(values.orders)

/** Runs the service with a new durable until /metrics counts `count` messages of `outcome`; milliseconds from ready. */
async function pass(cleanup: Cleanup, db: BenchDatabase, build: ServiceBuild, broker: BenchBroker, durable: string, outcome: 'stored' | 'duplicate') {
  const service = await startService(cleanup, build, { databaseUrl: db.url, broker, channel: CHANNEL, durable })
  const started = performance.now()
  await untilCounted(count, outcome, async () => sampleSum(await service.metrics(), 'order_messages_total', { outcome }))
  const ms = performance.now() - started
  await service.stop()
  return ms
}

const cleanup = new Cleanup()
try {
  const [db, build] = await Promise.all([startBenchDatabase(cleanup), buildService(cleanup)])
  const broker = await startBroker(cleanup, build)
  await publishOrders(cleanup, broker, { channel: CHANNEL, count, seed: 1 })
  const stored = await pass(cleanup, db, build, broker, 'first-run', 'stored')
  const reread = await pass(cleanup, db, build, broker, 'after-upgrade', 'duplicate')
  await db.expectOrders(count)
  const line = (what: string, ms: number) => `${what}: ${(ms / 1000).toFixed(1)} s, ${Math.round((count * 1000) / ms).toLocaleString('en-US')} orders/s`
  console.log(`${count.toLocaleString('en-US')} orders on the channel (the embedded broker, memory store)`)
  console.log(line('stored into an empty table', stored))
  console.log(line('read again, every one a duplicate (the upgrade)', reread))
} finally {
  await cleanup.run()
}
