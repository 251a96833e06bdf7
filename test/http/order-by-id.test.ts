import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { getRequestListener } from '@hono/node-server'
import { afterEach, describe, expect, it } from 'vitest'
import { OrderCache } from '../../src/cache/order-cache.js'
import { createOrderFastPath, createRequestListener, ORDER_ID, type FastPath } from '../../src/http/order-by-id.js'
import { ORDER_UID_PATTERN } from '../../src/ingest/order-schema.js'
import { createOrderStore } from '../../src/store/orders.js'
import { testDatabaseForFile } from '../support/shared-by-tests.js'
import { buildApp, orderJson, rawRequest, SECURITY_HEADER_NAMES, send } from './harness.js'

const db = testDatabaseForFile()
const servers: Server[] = []

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))))
})

async function listen(listener: Parameters<typeof createServer>[1]): Promise<number> {
  const server = createServer(listener)
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return (server.address() as AddressInfo).port
}

/**
 * One app served twice: by @hono/node-server alone (as before the fast path), and by the composed listener,
 * whose fast path's every decision (answered or passed on) is recorded.
 */
async function startBoth(harness: ReturnType<typeof buildApp>) {
  const fastPath = createOrderFastPath(harness.orderAnswers)
  const answered: boolean[] = []
  const observed: FastPath = (req, res) => {
    const took = fastPath(req, res)
    answered.push(took)
    return took
  }
  const honoPort = await listen(getRequestListener(harness.app.fetch))
  const composedPort = await listen(createRequestListener({ app: harness.app, answers: harness.orderAnswers, fastPath: observed }))
  return {
    /** The same request to both servers: the composed listener's reply, Hono's, and whether the fast path answered. */
    async both(path: string, init: { method?: string; headers?: Record<string, string> } = {}) {
      const hono = await send(honoPort, path, init)
      const composed = await send(composedPort, path, init)
      return { hono, composed, fast: answered.at(-1) }
    },
    composed: (path: string, init: { method?: string; headers?: Record<string, string> } = {}) => send(composedPort, path, init),
    ports: { hono: honoPort, composed: composedPort },
  }
}

/** The status of the answer to `request`, sent as written (repeated header lines included). */
async function rawStatus(port: number, request: string): Promise<number> {
  return Number(/^HTTP\/1\.1 (\d{3}) /.exec(await rawRequest(port, request))?.[1])
}

/** Stores an order through the real store; returns its body as PostgreSQL gives it back (jsonb text). */
async function store(harness: ReturnType<typeof buildApp>, uid: string): Promise<string> {
  await harness.orders.insertMany([{ orderUid: uid, json: orderJson(uid), brokerSeq: 1 }])
  const body = await harness.orders.findBody(uid)
  if (body === undefined) throw new Error(`order ${uid} was not stored`)
  return body
}

describe('GET /order/:id on the node:http fast path', () => {
  it('When the order is stored, then the fast path answers 200 with the same status, headers and body as Hono', async () => {
    const harness = buildApp(db)
    const body = await store(harness, 'abc-123_X')
    const { both } = await startBoth(harness)

    const { hono, composed, fast } = await both('/order/abc-123_X')

    expect(fast).toBe(true)
    expect(composed).toEqual(hono)
    expect(composed.status).toBe(200)
    expect(composed.body).toBe(body)
    expect(composed.headers).toMatchObject({
      'content-type': 'application/json; charset=utf-8',
      'content-length': String(Buffer.byteLength(body)),
      'cache-control': 'public, max-age=31536000, immutable',
    })
    expect(composed.headers.etag).toMatch(/^"[^"]+"$/)
    for (const name of SECURITY_HEADER_NAMES) expect(composed.headers[name]).toBeTruthy()
  })

  it('When If-None-Match names the ETag (alone, in a list, weak, or *), then both answer the same 304 without a body', async () => {
    const harness = buildApp(db)
    await store(harness, 'o1')
    const { both } = await startBoth(harness)
    const etag = (await both('/order/o1')).composed.headers.etag!

    for (const header of [etag, `"other", W/${etag}`, `W/${etag}`, '*']) {
      const { hono, composed, fast } = await both('/order/o1', { headers: { 'if-none-match': header } })
      expect(fast).toBe(true)
      expect(composed).toEqual(hono)
      expect(composed.status).toBe(304)
      expect(composed.headers.etag).toBe(etag)
      expect(composed.headers['content-type']).toBe('application/json; charset=utf-8')
      expect(composed.body).toBe('')
    }
    const stale = await both('/order/o1', { headers: { 'if-none-match': '"stale", W/"older"' } })
    expect(stale.composed).toEqual(stale.hono)
    expect(stale.composed.status).toBe(200)
  })

  it('When the id is unknown, then the fast path answers the same 404 not_found as Hono, also from the remembered absence', async () => {
    const harness = buildApp(db)
    const { both } = await startBoth(harness)

    for (let i = 0; i < 2; i++) {
      const { hono, composed, fast } = await both('/order/nope')
      expect(fast).toBe(true)
      expect(composed).toEqual(hono)
      expect(composed.status).toBe(404)
      expect(JSON.parse(composed.body)).toMatchObject({ error: { code: 'not_found' } })
    }
  })

  it('When a query string follows a stored id, then it is ignored: 200 from the fast path', async () => {
    const harness = buildApp(db)
    await store(harness, 'q1')
    const { both } = await startBoth(harness)

    const { hono, composed, fast } = await both('/order/q1?fields=all&x=%2F')

    expect(fast).toBe(true)
    expect(composed).toEqual(hono)
    expect(composed.status).toBe(200)
  })

  it.each([
    ['too long', `/order/${'a'.repeat(65)}`],
    ['a character outside the alphabet', '/order/abc$def'],
    ['an encoded slash', '/order/abc%2Fdef'],
    ['an extra slash', '/order/abc/def'],
    ['a trailing slash', '/order/abc/'],
    ['nothing', '/order/'],
    ['a bad id and a query string', '/order/abc$?x=1'],
  ])('When the id has %s, then Hono answers it through the same listener: 400 invalid_id as before', async (_, path) => {
    const harness = buildApp(db)
    const { both } = await startBoth(harness)

    const { hono, composed, fast } = await both(path)

    expect(fast).toBe(false)
    expect(composed).toEqual(hono)
    expect(composed.status).toBe(400)
    expect(JSON.parse(composed.body)).toMatchObject({ error: { code: 'invalid_id' } })
  })

  it('When an allowed letter is %-escaped, then Hono decodes it as before (the fast path passes it on)', async () => {
    const harness = buildApp(db)
    await store(harness, 'abc')
    const { both } = await startBoth(harness)

    const { hono, composed, fast } = await both('/order/%61bc')

    expect(fast).toBe(false)
    expect(composed).toEqual(hono)
    expect(composed.status).toBe(200)
  })

  it('When the database may take no more misses, then the fast path answers the same 503 not_ready with Retry-After', async () => {
    const cache = new OrderCache({ maxBytes: 1 << 20, store: createOrderStore(db.sql), maxConcurrentMisses: 0, maxQueuedMisses: 0 })
    const { both } = await startBoth(buildApp(db, { cache }))

    const { hono, composed, fast } = await both('/order/not-cached')

    expect(fast).toBe(true)
    expect(composed).toEqual(hono)
    expect(composed.status).toBe(503)
    expect(composed.headers['retry-after']).toBe('1')
    expect(JSON.parse(composed.body)).toMatchObject({ error: { code: 'not_ready' } })
  })

  it('When the request is HEAD, then the fast path sends the GET headers (content-length included) and no body, as Hono does', async () => {
    const harness = buildApp(db)
    const body = await store(harness, 'h1')
    const { both } = await startBoth(harness)

    for (const path of ['/order/h1', '/order/unknown']) {
      const { hono, composed, fast } = await both(path, { method: 'HEAD' })
      expect(fast).toBe(true)
      expect(composed).toEqual(hono)
      expect(composed.body).toBe('')
    }
    const head = await both('/order/h1', { method: 'HEAD' })
    expect(head.composed.status).toBe(200)
    expect(head.composed.headers['content-length']).toBe(String(Buffer.byteLength(body)))
  })

  it('When a header comes in two lines or in capitals, then the fast path reads it as Hono does (If-None-Match joined, the first Host)', async () => {
    const harness = buildApp(db)
    await store(harness, 'd1')
    const { both, ports } = await startBoth(harness)
    const etag = (await both('/order/d1')).composed.headers.etag!

    for (const [lines, status] of [
      [`Host: localhost\r\nIf-None-Match: "other"\r\nIf-None-Match: ${etag}`, 304],
      [`HOST: localhost\r\nIF-NONE-MATCH: ${etag}`, 304],
      ['Host: localhost\r\nHost: rebind.evil.example', 200],
      ['Host: rebind.evil.example\r\nHost: localhost', 421],
    ] as const) {
      const request = `GET /order/d1 HTTP/1.1\r\n${lines}\r\nConnection: close\r\n\r\n`
      const [hono, composed] = [await rawStatus(ports.hono, request), await rawStatus(ports.composed, request)]
      expect([composed, hono], lines).toEqual([status, status])
    }
  })

  it('When answers of several orders and statuses interleave, then each carries its own ETag and content-length', async () => {
    const harness = buildApp(db)
    const uids = ['i1', 'i2-longer-id', 'i3']
    const bodies = new Map<string, string>()
    for (const uid of uids) bodies.set(uid, await store(harness, uid))
    const { composed } = await startBoth(harness)
    const etags = new Map<string, string>()
    for (const uid of uids) etags.set(uid, (await composed(`/order/${uid}`)).headers.etag!)
    expect(new Set(etags.values()).size).toBe(uids.length)

    const asked = Array.from({ length: 30 }, (_, i) => ({ uid: uids[i % 3]!, revalidate: i % 2 === 0 }))
    const replies = await Promise.all(
      asked.map(({ uid, revalidate }) => composed(`/order/${uid}`, revalidate ? { headers: { 'if-none-match': etags.get(uid)! } } : {})),
    )

    replies.forEach((reply, i) => {
      const { uid, revalidate } = asked[i]!
      expect(reply.headers.etag).toBe(etags.get(uid))
      if (revalidate) {
        expect([reply.status, reply.headers['content-length'], reply.body]).toEqual([304, undefined, ''])
      } else {
        expect([reply.status, reply.headers['content-length'], reply.body]).toEqual([200, String(Buffer.byteLength(bodies.get(uid)!)), bodies.get(uid)])
      }
    })
  })

  it('When another method or another route is asked, then Hono answers it through the same listener, unchanged', async () => {
    const harness = buildApp(db)
    await store(harness, 'p1')
    const { both } = await startBoth(harness)

    for (const [method, path, status] of [
      ['POST', '/order/p1', 404],
      ['DELETE', '/order/p1', 404],
      ['GET', '/healthz', 200],
      ['GET', '/orders?limit=1', 200],
      ['GET', '/no/such/route', 404],
    ] as const) {
      const { hono, composed, fast } = await both(path, { method })
      expect(fast).toBe(false)
      expect(composed.status).toBe(status)
      expect(composed).toEqual(hono)
    }
  })

  it('When orders are served on the fast path, then /metrics counts them by status and the cache lookups by result', async () => {
    const harness = buildApp(db)
    await store(harness, 'm1')
    const { composed } = await startBoth(harness)
    const etag = (await composed('/order/m1')).headers.etag!
    await composed('/order/m1')
    await composed('/order/m1', { headers: { 'if-none-match': etag } })
    await composed('/order/m1', { method: 'HEAD' })
    await composed('/order/missing')
    await composed('/order/bad$id')

    const text = (await composed('/metrics')).body

    expect(text).toContain('http_requests_total{method="GET",route="/order/:id",status="200"} 3')
    expect(text).toContain('http_requests_total{method="GET",route="/order/:id",status="304"} 1')
    expect(text).toContain('http_requests_total{method="GET",route="/order/:id",status="404"} 1')
    expect(text).toContain('http_requests_total{method="GET",route="/order/:id",status="400"} 1')
    expect(text).toContain('order_cache_lookups_total{result="miss"} 1')
    expect(text).toContain('order_cache_lookups_total{result="hit"} 3')
    expect(text).toContain('order_cache_lookups_total{result="absent"} 1')
  })
})

describe('the order id rule', () => {
  it("When the page or the server checks an order id, then both apply the schema's order_uid pattern", async () => {
    // A URL, not a literal specifier: the page's modules are plain JavaScript outside the type-checked program.
    const page = (await import(new URL('../../static/js/order-id.js', import.meta.url).href)) as { ORDER_ID: RegExp }
    expect(ORDER_ID.source).toBe(ORDER_UID_PATTERN)
    expect([page.ORDER_ID.source, page.ORDER_ID.flags]).toEqual([ORDER_ID.source, ORDER_ID.flags])
  })
})
