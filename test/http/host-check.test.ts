import { describe, expect, it } from 'vitest'
import { allowedHosts, hostRule } from '../../src/http/middleware/host-check.js'
import { loadConfig } from '../../src/config.js'
import { testDatabaseForFile } from '../support/shared-by-tests.js'
import { buildApp, orderJson, rawRequest, SECURITY_HEADER_NAMES, send, serve } from './harness.js'

const db = testDatabaseForFile()

/** One route of each kind: the hot path (fast path and Hono), the lists, the admin routes, the page, metrics, no route. */
const ROUTES = [
  ['an order by id (fast path)', 'GET', '/order/o-1'],
  ['an order by id (Hono: a trailing slash)', 'GET', '/order/o-1/'],
  ['the orders', 'GET', '/orders'],
  ['the dead letters', 'GET', '/dead-letters'],
  ['one dead letter', 'GET', '/dead-letters/1'],
  ['a replay', 'POST', '/dead-letters/1/replay'],
  ['the page', 'GET', '/'],
  ['a page script', 'GET', '/app.js'],
  ['metrics', 'GET', '/metrics'],
  ['the API description', 'GET', '/openapi.json'],
  ['readiness', 'GET', '/readyz'],
  ['no route', 'GET', '/nothing-here'],
] as const

async function served() {
  const harness = buildApp(db)
  await harness.orders.insertMany([{ orderUid: 'o-1', json: orderJson('o-1'), brokerSeq: 1 }])
  const server = await serve(harness)
  return { harness, server }
}

describe('Host check (DNS rebinding)', () => {
  it.each(ROUTES)('When %s is asked under a foreign Host, then 421 unknown_host in the JSON shape', async (_, method, path) => {
    const { server } = await served()
    try {
      for (const host of ['rebind.evil.example', 'rebind.evil.example:8000', 'localhost.evil.example', '127.0.0.1.nip.io']) {
        const reply = await send(server.port, path, { method, headers: { host } })
        expect(reply.status, `${host} ${path}`).toBe(421)
        expect(JSON.parse(reply.body)).toEqual({ error: { code: 'unknown_host', message: expect.stringContaining('ALLOWED_HOSTS') } })
        for (const name of SECURITY_HEADER_NAMES) expect(reply.headers, name).toHaveProperty(name)
      }
    } finally {
      await server.close()
    }
  })

  it('When the Host is a loopback name on any port, then the routes answer as before', async () => {
    const { server } = await served()
    try {
      for (const host of ['localhost', 'localhost:8000', '127.0.0.1', '127.0.0.1:1', '[::1]', '[::1]:65535']) {
        expect((await send(server.port, '/order/o-1', { headers: { host } })).status, host).toBe(200)
        expect((await send(server.port, '/dead-letters', { headers: { host } })).status, host).toBe(200)
        expect((await send(server.port, '/', { headers: { host } })).status, host).toBe(200)
      }
    } finally {
      await server.close()
    }
  })

  it('When the Host is malformed or missing (HTTP/1.0), then 421', async () => {
    const { server } = await served()
    try {
      for (const host of ['localhost:', 'localhost:80:80', 'localhost:http', '[::1', '[::1]x', 'localhost.', 'localhost:8000.evil.example']) {
        expect((await send(server.port, '/order/o-1', { headers: { host } })).status, JSON.stringify(host)).toBe(421)
      }
      const reply = await rawRequest(server.port, 'GET /order/o-1 HTTP/1.0\r\n\r\n')
      expect(reply).toMatch(/^HTTP\/1\.1 421 /)
    } finally {
      await server.close()
    }
  })

  it('When ALLOWED_HOSTS names a host, then it is answered on any port, and * answers every host', async () => {
    const config = loadConfig({ HTTP_HOST: '0.0.0.0', ALLOWED_HOSTS: 'orders.example.com, 10.0.0.5,2001:db8::1' })
    const named = hostRule(allowedHosts(config.HTTP_HOST, config.ALLOWED_HOSTS))
    for (const host of ['orders.example.com', 'Orders.Example.COM:443', 'LOCALHOST', '10.0.0.5:8000', '[2001:db8::1]:80', 'localhost:8000']) expect(named(host), host).toBe(true)
    for (const host of ['example.com', 'evil.orders.example.com', '0.0.0.0:8000', '10.0.0.6', undefined]) expect(named(host), host).toBe(false)

    // HTTP_HOST naming one address is a name the service is reached by.
    expect(hostRule(allowedHosts('192.168.1.5', []))('192.168.1.5:8000')).toBe(true)
    expect(hostRule(allowedHosts('::1', []))('[::1]:8000')).toBe(true)

    const any = hostRule(allowedHosts('127.0.0.1', loadConfig({ ALLOWED_HOSTS: '*' }).ALLOWED_HOSTS))
    expect(any('rebind.evil.example')).toBe(true)
    expect(() => loadConfig({ ALLOWED_HOSTS: 'orders.example.com:8000' })).toThrow(/ALLOWED_HOSTS/)
  })

  it('When a foreign Host is refused, then /metrics counts it as 421 under its route', async () => {
    const { harness, server } = await served()
    try {
      await send(server.port, '/order/o-1', { headers: { host: 'rebind.evil.example' } })
      await send(server.port, '/orders', { headers: { host: 'rebind.evil.example' } })
      const metrics = (await harness.app.request('/metrics')).text()
      expect(await metrics).toMatch(/http_requests_total\{method="GET",route="\/order\/:id",status="421"\} 1/)
      expect(await metrics).toMatch(/http_requests_total\{method="GET",route="\/orders",status="421"\} 1/)
    } finally {
      await server.close()
    }
  })
})
