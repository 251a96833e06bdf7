import { describe, expect, it } from 'vitest'
import { connectDatabase } from '../../src/store/db.js'
import { createOrderStore } from '../../src/store/orders.js'
import { testDatabaseForFile } from '../support/shared-by-tests.js'
import { buildApp, fromAddress, orderJson, SECURITY_HEADER_NAMES } from './harness.js'

const db = testDatabaseForFile()

/** Stores orders through the real store, oldest first. */
async function store(harness: ReturnType<typeof buildApp>, uids: string[]) {
  await harness.orders.insertMany(
    uids.map((uid, i) => ({ orderUid: uid, json: orderJson(uid, (doc) => (doc.date_created = `2021-11-2${i % 10}T06:22:19Z`)), brokerSeq: i + 1 })),
  )
}

/** The newest orders are an admin route: asked as the local operator (a loopback peer, no ADMIN_TOKEN). */
const operator = fromAddress('127.0.0.1')

const errorOf = async (res: Response) => ((await res.json()) as { error: { code: string; message: string } }).error

describe('GET /order/:id', () => {
  it('When the order is stored, then it is served with its ETag, immutable caching and the security headers', async () => {
    const harness = buildApp(db)
    await store(harness, ['abc-123_X'])

    const res = await harness.app.request('/order/abc-123_X')

    expect(res.status).toBe(200)
    expect(await res.text()).toBe(await harness.orders.findBody('abc-123_X'))
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8')
    expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable')
    expect(res.headers.get('etag')).toMatch(/^"[^"]+"$/)
    for (const name of SECURITY_HEADER_NAMES) expect(res.headers.get(name)).toBeTruthy()
  })

  it('When If-None-Match names the ETag (alone, in a list, weak, or *), then the answer is 304 without a body', async () => {
    const harness = buildApp(db)
    await store(harness, ['o1'])
    const etag = (await harness.app.request('/order/o1')).headers.get('etag')!

    for (const header of [etag, `"other", W/${etag}`, '*']) {
      const res = await harness.app.request('/order/o1', { headers: { 'if-none-match': header } })
      expect(res.status).toBe(304)
      expect(res.headers.get('etag')).toBe(etag)
      expect(await res.text()).toBe('')
    }
    const stale = await harness.app.request('/order/o1', { headers: { 'if-none-match': '"stale"' } })
    expect(stale.status).toBe(200)
  })

  it('When the id is unknown, then 404 not_found in the JSON error shape, also on a repeated lookup', async () => {
    const harness = buildApp(db)
    for (let i = 0; i < 2; i++) {
      const res = await harness.app.request('/order/nope')
      expect(res.status).toBe(404)
      expect(res.headers.get('content-type')).toContain('application/json')
      expect(await errorOf(res)).toMatchObject({ code: 'not_found' })
    }
  })

  it('When an order arrives after a lookup of its id failed, then it is served at once', async () => {
    const harness = buildApp(db)
    expect((await harness.app.request('/order/late')).status).toBe(404)
    const [stored] = await harness.orders.insertMany([{ orderUid: 'late', json: orderJson('late'), brokerSeq: 1 }])
    if (stored?.status === 'stored') harness.cache.set('late', stored.body)
    expect((await harness.app.request('/order/late')).status).toBe(200)
  })

  it.each([
    ['too long', `/order/${'a'.repeat(65)}`],
    ['a character outside the alphabet', '/order/abc$def'],
    ['an encoded slash', '/order/abc%2Fdef'],
    ['an encoded NUL', '/order/abc%00'],
    ['a slash', '/order/abc/def'],
    ['a space', '/order/abc%20def'],
  ])('When the id has %s, then 400 invalid_id', async (_, path) => {
    const res = await buildApp(db).app.request(path)
    expect(res.status).toBe(400)
    expect(await errorOf(res)).toMatchObject({ code: 'invalid_id' })
    expect(res.headers.get('content-security-policy')).toBeTruthy()
  })

  it('Should accept an id of exactly 64 characters', async () => {
    const res = await buildApp(db).app.request(`/order/${'a'.repeat(64)}`)
    expect(res.status).toBe(404)
  })

  it('When the database is unreachable on a miss, then 503 not_ready and the failure is logged', async () => {
    const closed = connectDatabase(db.url, { max: 1 })
    await closed.end()
    const { OrderCache } = await import('../../src/cache/order-cache.js')
    const harness = buildApp(db, { cache: new OrderCache({ maxBytes: 1 << 20, store: createOrderStore(closed) }) })

    const res = await harness.app.request('/order/o1')

    expect(res.status).toBe(503)
    expect(await errorOf(res)).toMatchObject({ code: 'not_ready' })
    expect(harness.log.entries.map((entry) => entry.level)).toEqual(['error'])
  })
})

describe('GET /orders', () => {
  it('When paged with limit and the returned cursor, then every order comes once, newest first, and the last page has no next', async () => {
    const harness = buildApp(db)
    await store(harness, ['a', 'b', 'c', 'd', 'e'])
    const seen: string[] = []
    let path = '/orders?limit=2'
    for (;;) {
      const res = await harness.app.request(path, {}, operator)
      expect(res.status).toBe(200)
      const page = (await res.json()) as { orders: Array<{ order_uid: string; date_created: string; received_at: string }>; next: string | null }
      seen.push(...page.orders.map((order) => order.order_uid))
      for (const order of page.orders) {
        expect(order.date_created).toMatch(/^2021-11-2\dT06:22:19Z$/)
        expect(Number.isNaN(Date.parse(order.received_at))).toBe(false)
      }
      if (page.next === null) break
      path = `/orders?limit=2&before=${page.next}`
    }
    expect(seen).toEqual(['e', 'd', 'c', 'b', 'a'])
  })

  it('When no limit is given, then 20 at most are returned; unknown parameters are ignored', async () => {
    const harness = buildApp(db)
    await store(harness, Array.from({ length: 25 }, (_, i) => `n${i}`))
    const res = await harness.app.request('/orders?colour=blue', {}, operator)
    const page = (await res.json()) as { orders: unknown[]; next: string | null }
    expect(page.orders).toHaveLength(20)
    expect(page.next).not.toBeNull()
  })

  it.each([
    ['limit=0'],
    ['limit=101'],
    ['limit=abc'],
    ['limit=-1'],
    ['before=abc'],
    ['before=12345678901234567890'],
    ['before=9223372036854775808'],
    [`x=${'a'.repeat(600)}`],
  ])('When the query is %s, then 400 invalid_query', async (query) => {
    const res = await buildApp(db).app.request(`/orders?${query}`, {}, operator)
    expect(res.status).toBe(400)
    expect(await errorOf(res)).toMatchObject({ code: 'invalid_query' })
    expect(res.headers.get('content-security-policy')).toBeTruthy()
  })

  it('When the store fails unexpectedly, then 500 internal without details, and the error is logged', async () => {
    const closed = connectDatabase(db.url, { max: 1 })
    await closed.end()
    const harness = buildApp(db, { orders: createOrderStore(closed) })

    const res = await harness.app.request('/orders', {}, operator)

    expect(res.status).toBe(500)
    expect(await res.json()).toEqual({ error: { code: 'internal', message: 'Internal error' } })
    expect(harness.log.entries).toHaveLength(1)
  })
})

describe('health, readiness and metrics', () => {
  it('Should answer /healthz with ok', async () => {
    const res = await buildApp(db).app.request('/healthz')
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ status: 'ok' })
  })

  it('When a check fails, then /readyz answers 503 not_ready with the checks; when all pass, 200 ready', async () => {
    const harness = buildApp(db)
    harness.readiness.subscription = false
    const notReady = await harness.app.request('/readyz')
    expect(notReady.status).toBe(503)
    expect(await notReady.json()).toMatchObject({ status: 'not_ready', checks: { database: true, subscription: false, cache: true } })

    harness.readiness.subscription = true
    const ready = await harness.app.request('/readyz')
    expect(ready.status).toBe(200)
    expect(await ready.json()).toEqual({ status: 'ready', checks: { database: true, subscription: true, cache: true } })
  })

  it('When orders were served, then /metrics shows requests by route and status and the cache figures', async () => {
    const harness = buildApp(db)
    await store(harness, ['m1'])
    await harness.app.request('/order/m1')
    await harness.app.request('/order/m1')
    await harness.app.request('/order/bad$id')
    await harness.app.request('/no/such/route')

    const res = await harness.app.request('/metrics')
    const text = await res.text()

    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toContain('text/plain')
    expect(text).toContain('http_requests_total{method="GET",route="/order/:id",status="200"} 2')
    expect(text).toContain('http_requests_total{method="GET",route="/order/:id",status="400"} 1')
    expect(text).toContain('http_requests_total{method="ANY",route="unmatched",status="404"} 1')
    expect(text).toContain('order_cache_lookups_total{result="miss"} 1')
    expect(text).toContain('order_cache_lookups_total{result="hit"} 1')
    expect(text).toContain('order_cache_entries 1')
    expect(text).toMatch(/order_cache_bytes [1-9]\d*/)
  })

  it('When a route is unknown, then 404 not_found with the security headers', async () => {
    const res = await buildApp(db).app.request('/nothing-here')
    expect(res.status).toBe(404)
    expect(await errorOf(res)).toMatchObject({ code: 'not_found' })
    for (const name of SECURITY_HEADER_NAMES) expect(res.headers.get(name)).toBeTruthy()
  })
})
