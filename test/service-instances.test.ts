import pino from 'pino'
import stan from 'node-nats-streaming'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../src/config.js'
import { startService, type RunningService } from '../src/service.js'
import { startStanServer, type StanServer } from '../src/stan-server/index.js'
import { orderJson } from './support/orders.js'
import { startTestDatabase, type TestDatabase } from './support/postgres.js'

let db: TestDatabase
let broker: StanServer
let a: RunningService
let b: RunningService
let publisher: stan.Stan

/** Two instances of the service on one PostgreSQL and one broker, as behind a load balancer. */
beforeAll(async () => {
  db = await startTestDatabase()
  broker = await startStanServer({ port: 0 })
  const endpoints = { databaseUrl: db.url, stanServers: [broker.url], stanClusterId: broker.clusterId, natsServers: [] }
  const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' })
  const common = { HTTP_PORT: '0', STAN_ACK_WAIT_SECONDS: '2', BATCH_MAX_WAIT_MS: '5', STAN_LEGACY_CLIENT_ID: 'none' }
  // A takes no orders (a channel nobody publishes to): every order it serves was written by B.
  a = await startService(loadConfig({ ...common, STAN_CLIENT_ID: 'instance-a', STAN_CHANNEL: 'idle' }), endpoints, log)
  b = await startService(loadConfig({ ...common, STAN_CLIENT_ID: 'instance-b', STAN_CHANNEL: 'orders' }), endpoints, log)
  publisher = await new Promise((resolve, reject) => {
    const connection = stan.connect(broker.clusterId, `publisher-${process.pid}`, { url: broker.url })
    connection.once('connect', () => resolve(connection))
    connection.once('error', reject)
  })
})
afterAll(async () => {
  publisher?.close()
  await a?.stop()
  await b?.stop()
  await broker?.close()
  await db?.stop()
})

const status = async (service: RunningService, orderUid: string) => (await fetch(`${service.url}order/${orderUid}`)).status

describe('two instances, one PostgreSQL', () => {
  it('When an order commits through instance B, then instance A, asked for it all along, serves it within a second', async () => {
    for (const orderUid of ['shared-1', 'shared-2', 'shared-3']) {
      // A is asked before the order exists, and keeps being asked: its "unknown" stays freshly remembered.
      expect(await status(a, orderUid)).toBe(404)
      let servedByB: number | undefined
      let servedByA: number | undefined
      const published = new Promise<void>((resolve, reject) => publisher.publish('orders', orderJson(orderUid), (error) => (error ? reject(error) : resolve())))
      const deadline = Date.now() + 10_000
      // Until both serve it: a request to A may land just after the commit and one to B just before.
      while ((servedByA === undefined || servedByB === undefined) && Date.now() < deadline) {
        const [fromA, fromB] = await Promise.all([servedByA === undefined ? status(a, orderUid) : 200, servedByB === undefined ? status(b, orderUid) : 200])
        const now = performance.now()
        if (fromB === 200) servedByB ??= now
        if (fromA === 200) servedByA ??= now
      }
      await published
      expect(servedByB).toBeDefined()
      expect(servedByA).toBeDefined()
      // Without the commit notifications A would answer 404 for up to the 2 s it remembers an unknown id.
      expect(servedByA! - servedByB!).toBeLessThan(1_000)
    }
  })
})
