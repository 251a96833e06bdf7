import { describe, expect, it } from 'vitest'
import { ADMIN_PATHS, isAdminPath } from '../../src/http/app.js'
import { testDatabaseForFile } from '../support/shared-by-tests.js'
import { buildApp, fromAddress, orderJson, send, serve } from './harness.js'

const TOKEN = 'a-long-enough-admin-token'
const remote = fromAddress('203.0.113.9')

const db = testDatabaseForFile()

/** The app served on loopback as src/service.ts serves it; replays are recorded (the replay itself is tested elsewhere). */
async function served(adminToken: string | undefined) {
  const replays: string[] = []
  const harness = buildApp(db, { adminToken, replayDeadLetter: async (id) => (replays.push(id), { outcome: 'not_found' }) })
  await harness.orders.insertMany([{ orderUid: 'o-1', json: orderJson('o-1'), brokerSeq: 1 }])
  const server = await serve(harness)
  const own = `http://127.0.0.1:${server.port}`
  return { harness, server, replays, own }
}

/** Every admin route, as a browser-driven request would ask it. */
const ADMIN_REQUESTS = [
  ['GET', '/orders'],
  ['GET', '/dead-letters'],
  ['GET', '/dead-letters/1'],
  ['POST', '/dead-letters/1/replay'],
] as const

/** What a browser adds to a request another site's page makes it send. */
const CROSS_SITE: ReadonlyArray<Record<string, string>> = [
  { 'sec-fetch-site': 'cross-site' },
  { 'sec-fetch-site': 'same-site' },
  { origin: 'https://evil.example' },
  { origin: 'null' },
  { origin: 'http://127.0.0.1:1' },
  { origin: 'http://localhost.evil.example' },
]

describe('Admin routes without ADMIN_TOKEN: the local operator, from the service\'s own page only', () => {
  it.each(ADMIN_REQUESTS)('When %s %s comes from another site through the operator\'s browser, then 403 forbidden', async (method, path) => {
    const { server, replays } = await served(undefined)
    try {
      for (const headers of CROSS_SITE) {
        const reply = await send(server.port, path, { method, headers })
        expect(reply.status, JSON.stringify(headers)).toBe(403)
        expect(JSON.parse(reply.body)).toMatchObject({ error: { code: 'forbidden' } })
      }
      expect(replays).toEqual([])
    } finally {
      await server.close()
    }
  })

  it('When a cross-site form posts a replay (form body, foreign Origin), then it is refused and nothing is replayed', async () => {
    const { server, replays } = await served(undefined)
    try {
      const reply = await send(server.port, '/dead-letters/5/replay', {
        method: 'POST',
        headers: { origin: 'https://evil.example', 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate' },
        body: 'x=1',
      })
      expect(reply.status).toBe(403)
      expect(replays).toEqual([])
    } finally {
      await server.close()
    }
  })

  it.each(ADMIN_REQUESTS)('When %s %s comes from the page itself or from a client that is no browser, then it is answered', async (method, path) => {
    const { server, own } = await served(undefined)
    try {
      const fromThePage: Record<string, string>[] = [{}, { origin: own, 'sec-fetch-site': 'same-origin' }, { 'sec-fetch-site': 'none' }, { origin: own.replace('127.0.0.1', 'localhost'), host: `localhost:${server.port}` }, { origin: `http://[::1]:${server.port}`, host: `[::1]:${server.port}` }]
      for (const headers of fromThePage) {
        const reply = await send(server.port, path, { method, headers })
        expect([200, 404], `${JSON.stringify(headers)}: ${reply.status} ${reply.body}`).toContain(reply.status)
      }
    } finally {
      await server.close()
    }
  })
})

describe('Admin routes with ADMIN_TOKEN', () => {
  it('When a POST carries a foreign Origin, then it is refused even with the token; the bearer header stays the only credential', async () => {
    const { server, replays, own } = await served(TOKEN)
    try {
      const auth = { authorization: `Bearer ${TOKEN}` }
      expect((await send(server.port, '/dead-letters/1/replay', { method: 'POST', headers: { ...auth, origin: 'https://evil.example' } })).status).toBe(403)
      expect((await send(server.port, '/orders', { headers: { ...auth, 'sec-fetch-site': 'cross-site' } })).status).toBe(403)
      expect(replays).toEqual([])
      expect((await send(server.port, '/dead-letters/1/replay', { method: 'POST', headers: { ...auth, origin: own } })).status).toBe(404)
      expect(replays).toEqual(['1'])
      // Neither a cookie nor the URL carries the token.
      expect((await send(server.port, '/orders', { headers: { cookie: `token=${TOKEN}; authorization=Bearer ${TOKEN}` } })).status).toBe(401)
      expect((await send(server.port, `/orders?token=${TOKEN}&access_token=${TOKEN}`)).status).toBe(401)
    } finally {
      await server.close()
    }
  })
})

describe('GET /orders is an admin route; GET /order/:id stays open', () => {
  it('When the newest orders are asked without the admin\'s right, then 401 (token set) or 403 (no token, not the local operator)', async () => {
    const withToken = buildApp(db, { adminToken: TOKEN }).app
    const noToken = buildApp(db).app
    const refused = await withToken.request('/orders', {}, remote)
    expect(refused.status).toBe(401)
    expect(refused.headers.get('www-authenticate')).toBe('Bearer')
    expect((await withToken.request('/orders', { headers: { authorization: `Bearer ${TOKEN}` } }, remote)).status).toBe(200)
    expect((await noToken.request('/orders', {}, remote)).status).toBe(403)
    expect((await noToken.request('/orders', { headers: { 'x-forwarded-for': '203.0.113.9' } }, fromAddress('127.0.0.1'))).status).toBe(403)
    expect((await noToken.request('/orders', {}, fromAddress('127.0.0.1'))).status).toBe(200)
  })

  it('When an order is looked up by its id from anywhere, then it is served without any admin right', async () => {
    const harness = buildApp(db, { adminToken: TOKEN })
    await harness.orders.insertMany([{ orderUid: 'o-1', json: orderJson('o-1'), brokerSeq: 1 }])
    expect((await harness.app.request('/order/o-1', {}, remote)).status).toBe(200)
  })

  it('When any route is registered under an admin path, then it refuses a client without the admin\'s right', async () => {
    const { app } = buildApp(db)
    const admin = app.routes.filter((route) => isAdminPath(route.path) && route.method !== 'ALL')
    expect(new Set(admin.map((route) => route.path))).toEqual(new Set(['/orders', '/dead-letters', '/dead-letters/:id', '/dead-letters/:id/replay']))
    for (const route of admin) {
      const res = await app.request(route.path.replaceAll(':id', '1'), { method: route.method }, remote)
      expect(res.status, `${route.method} ${route.path}`).toBe(403)
    }
    expect(ADMIN_PATHS).toContain('/orders')
    expect(isAdminPath('/order/o-1')).toBe(false)
  })
})
