import { EventEmitter } from 'node:events'
import pino from 'pino'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { loadConfig } from '../src/config.js'
import { startService, type RunningService } from '../src/service.js'
import { startStanServer, type StanServer } from '../src/stan-server/index.js'
import { connectDatabase } from '../src/store/db.js'
import { createOrderStore } from '../src/store/orders.js'
import { orderJson } from './support/orders.js'
import { startTestDatabase, type TestDatabase } from './support/postgres.js'

/**
 * The cache's warm-up meets a database that stops answering (here: a table lock, so the warm-up's read waits
 * without an error, as on a frozen connection). Its page read ends at QUERY_TIMEOUT_MS and the warm-up begins
 * again, as the wait for the database at start-up does, instead of failing the start.
 */
const QUERY_TIMEOUT_MS = 1_000
const ORDERS = 50
let db: TestDatabase
let broker: StanServer
let service: RunningService | undefined

beforeAll(async () => {
  ;[db, broker] = await Promise.all([startTestDatabase(), startStanServer({ port: 0 })])
  const uids = Array.from({ length: ORDERS }, (_, i) => `warm-${i}`)
  await createOrderStore(db.sql).insertMany(uids.map((uid, i) => ({ orderUid: uid, json: orderJson(uid), brokerSeq: i + 1 })))
})
afterAll(async () => {
  await service?.stop()
  await broker?.close()
  await db?.stop()
})

it('When a page of the warm-up does not come within QUERY_TIMEOUT_MS, then the warm-up begins again and the service comes up with every order cached', async () => {
  // Holds the table until released: the warm-up's read waits on it, with nothing said.
  const locker = connectDatabase(db.url, { max: 1 })
  let release!: () => void
  const released = new Promise<void>((resolve) => (release = resolve))
  let locked!: () => void
  const lockTaken = new Promise<void>((resolve) => (locked = resolve))
  const holding = locker.begin(async (tx) => {
    await tx`lock table orders in access exclusive mode`
    locked()
    await released
  })
  await lockTaken

  const lines = new EventEmitter<{ line: [{ msg: string; err?: { message: string } }] }>()
  const log = pino({ level: 'warn' }, { write: (line: string) => void lines.emit('line', JSON.parse(line)) })
  const retried = new Promise<string>((resolve) =>
    lines.on('line', (line) => {
      if (line.msg === 'database not reachable yet') resolve(line.err?.message ?? '')
    }),
  )
  const config = loadConfig({ HTTP_PORT: '0', QUERY_TIMEOUT_MS: String(QUERY_TIMEOUT_MS) })
  const endpoints = { databaseUrl: db.url, stanServers: [broker.url], stanClusterId: broker.clusterId, natsServers: [] }
  const starting = startService(config, endpoints, log)
  const failed = await Promise.race([retried, starting.then(() => 'started while the table was locked')])
  expect(failed).toContain(`no answer from PostgreSQL within ${QUERY_TIMEOUT_MS} ms`)

  release()
  await holding
  await locker.end()
  service = await starting
  const metrics = await (await fetch(new URL('/metrics', service.url))).text()
  expect(metrics).toMatch(new RegExp(`^order_cache_entries ${ORDERS}$`, 'm'))
  expect((await fetch(new URL('/order/warm-0', service.url))).status).toBe(200)
  lines.removeAllListeners()
})
