import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startFreezingProxy, type FreezingProxy } from './support/tcp-proxy.js'
import { generateOrder } from '../src/publisher/generate-orders.js'
import { acks } from './support/events.js'
import { eventually } from './support/events.js'
import { startTestService, type TestService } from './support/service.js'

/**
 * PostgreSQL connections that stop answering without closing (a freezing proxy between the service and
 * PostgreSQL; connections made after the freeze pass, as after a failover): the writer's transaction and the
 * readiness probe end at their bounds, on fresh connections the service goes on.
 */
const WRITE_TIMEOUT_MS = 1_000
const QUERY_TIMEOUT_MS = 1_000
/** The readiness probe runs every 2 s (src/service.ts). */
const DATABASE_CHECK_MS = 2_000
let svc: TestService
let proxy: FreezingProxy

beforeAll(async () => {
  // The proxy's target is known only once the database runs: the proxy reads it at each connection.
  let target = 0
  proxy = await startFreezingProxy({
    get port() {
      return target
    },
  })
  svc = await startTestService(
    { WRITE_TIMEOUT_MS: String(WRITE_TIMEOUT_MS), QUERY_TIMEOUT_MS: String(QUERY_TIMEOUT_MS) },
    {
      database: (direct) => {
        const url = new URL(direct)
        target = Number(url.port)
        url.port = String(proxy.port)
        return url.href
      },
    },
  )
})
afterAll(async () => {
  proxy?.thaw()
  await svc?.stop()
  await proxy?.close()
})

const order = (index: number) => {
  const generated = generateOrder(11, index) as unknown as { order_uid: string }
  return { uid: generated.order_uid, json: JSON.stringify(generated) }
}
const get = (path: string) => fetch(new URL(path, svc.url))
const stored = async (uid: string) => (await svc.db.sql`select 1 from orders where order_uid = ${uid}`).length === 1
const abandoned = async (pool: string) => {
  const match = new RegExp(`order_database_abandoned_total\\{pool="${pool}"\\} (\\d+)`).exec(await (await get('/metrics')).text())
  return Number(match?.[1] ?? 0)
}

/** Records /readyz's statuses, one request after another, until stopped. */
function watchReadiness() {
  const statuses: number[] = []
  let watching = true
  const done = (async () => {
    while (watching) statuses.push((await get('/readyz')).status)
  })()
  return {
    statuses,
    async stop() {
      watching = false
      await done
      return statuses
    },
  }
}

describe('a PostgreSQL that stops answering', () => {
  it('When the connections freeze mid-stream, then the next batch is stored within the write bound on a fresh connection, cached orders are served, /readyz says not ready and then ready again', async () => {
    const before = order(1)
    const beforeAcked = acks(svc.service.events, 1)
    await svc.publish([before.json])
    await beforeAcked
    await eventually(async () => ((await get('/readyz')).status === 200 ? true : undefined))
    const readiness = watchReadiness()

    proxy.freeze({ newConnections: 'pass' })
    const frozenAt = performance.now()
    const after = order(2)
    const afterAcked = acks(svc.service.events, 1)
    await svc.publish([after.json])
    expect((await get(`/order/${before.uid}`)).status).toBe(200)
    expect((await get('/healthz')).status).toBe(200)

    // The write: its bound, then the usual backoff (100 ms first), then a commit on a fresh connection.
    await afterAcked
    expect(performance.now() - frozenAt).toBeGreaterThanOrEqual(WRITE_TIMEOUT_MS - 50)
    expect(performance.now() - frozenAt).toBeLessThan(WRITE_TIMEOUT_MS + 3_000)
    expect(await stored(after.uid)).toBe(true)
    expect(await abandoned('writer')).toBe(1)
    expect((await get(`/order/${after.uid}`)).status).toBe(200)

    // The probe's connection is frozen too: the next probe (every 2 s) ends at its bound, its pool is replaced,
    // and the probe after that answers on a fresh connection.
    await eventually(async () => ((await abandoned('queries')) >= 1 ? true : undefined), DATABASE_CHECK_MS + QUERY_TIMEOUT_MS + 1_000)
    await eventually(async () => (readiness.statuses.at(-1) === 200 && readiness.statuses.includes(503) ? true : undefined), 2 * DATABASE_CHECK_MS + 1_000)
    const statuses = await readiness.stop()
    // Ready, then not ready during the stall, then ready again.
    expect(statuses[0]).toBe(200)
    expect(statuses.indexOf(503)).toBeGreaterThan(0)
    expect((await get(`/order/${before.uid}`)).status).toBe(200)
  })
})
