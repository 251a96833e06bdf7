import { createServer, request, type IncomingHttpHeaders } from 'node:http'
import { Socket, type AddressInfo } from 'node:net'
import { OrderCache } from '../../src/cache/order-cache.js'
import { createApp, type AppDeps, type OrderServiceApp } from '../../src/http/app.js'
import { allowedHosts } from '../../src/http/middleware/host-check.js'
import { createRequestListener } from '../../src/http/order-by-id.js'
import type { Readiness } from '../../src/http/routes/health.js'
import { defaultStaticDir } from '../../src/http/routes/static.js'
import { createMetrics } from '../../src/metrics.js'
import { createDeadLetterStore } from '../../src/store/dead-letters.js'
import { createOrderStore } from '../../src/store/orders.js'
import type { TestDatabase } from '../support/postgres.js'
import { checkAnswer, checkingFetch } from './contract.js'

export { orderJson } from '../support/orders.js'

export const DEAD_LETTER_PAYLOAD_MAX_BYTES = 4096

/** Records what the app logs, so tests can see that an internal error was logged. */
export function recordingLog() {
  const entries: Array<{ level: string; details: object; message: string }> = []
  return {
    entries,
    error: (details: object, message: string) => void entries.push({ level: 'error', details, message }),
    warn: (details: object, message: string) => void entries.push({ level: 'warn', details, message }),
  }
}

/** The app over the real stores of a test database; anything can be overridden. Its answers are held to the OpenAPI document (contract.ts). */
export function buildApp(db: TestDatabase, overrides: Partial<AppDeps> = {}) {
  const orders = createOrderStore(db.sql)
  const deadLetters = createDeadLetterStore(db.sql, { maxPayloadBytes: DEAD_LETTER_PAYLOAD_MAX_BYTES })
  const cache = new OrderCache({ maxBytes: 1024 * 1024, store: orders })
  const metrics = createMetrics({ processMetrics: false })
  const readiness: Readiness = { database: true, subscription: true, cache: true }
  const log = recordingLog()
  const deps: AppDeps = {
    cache,
    orders,
    deadLetters,
    replayDeadLetter: async () => ({ outcome: 'not_found' }),
    metrics,
    readiness: () => ({ ...readiness }),
    adminToken: undefined,
    allowedHosts: allowedHosts('127.0.0.1', []),
    staticDir: defaultStaticDir,
    log,
    ...overrides,
  }
  const { app, orderAnswers } = createApp(deps)
  app.fetch = checkingFetch(app.fetch)
  return { app, orderAnswers, orders, deadLetters, cache, metrics, readiness, log }
}

/** The env @hono/node-server passes, reduced to what the app reads: the peer's address. */
export const fromAddress = (remoteAddress: string) => ({ incoming: { socket: { remoteAddress } } })

export const SECURITY_HEADER_NAMES = ['content-security-policy', 'x-content-type-options', 'referrer-policy', 'x-frame-options']

export interface Reply {
  status: number
  headers: IncomingHttpHeaders
  body: string
}

/**
 * A raw request to 127.0.0.1: the path and headers (Host too) go on the wire exactly as written (fetch would normalise them).
 * The answer is held to the OpenAPI document (contract.ts).
 */
export function send(port: number, path: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: init.method ?? 'GET', headers: init.headers, agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () => {
        const { date: _date, ...headers } = res.headers
        const reply = { status: res.statusCode ?? 0, headers, body: Buffer.concat(chunks).toString('utf8') }
        try {
          checkAnswer(init.method ?? 'GET', path, reply.status, headers['content-type'], reply.body)
          resolve(reply)
        } catch (error) {
          reject(error)
        }
      })
    })
    req.on('error', reject)
    req.end(init.body)
  })
}

/** Sends `request` as written (an HTTP/1.0 request, repeated header lines) on a socket of its own; resolves with the whole reply once the server closes it. */
export function rawRequest(port: number, request: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const socket = new Socket()
    let text = ''
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')))
    socket.on('end', () => resolve(text))
    socket.on('error', reject)
    socket.connect(port, '127.0.0.1', () => socket.end(request))
  })
}

/** Serves the app as src/service.ts does (node:http, GET /order/:id on the fast path ahead of Hono) on a free loopback port. */
export async function serve({ app, orderAnswers }: OrderServiceApp): Promise<{ port: number; close: () => Promise<void> }> {
  const server = createServer(createRequestListener({ app, answers: orderAnswers, hostname: '127.0.0.1' }))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}
