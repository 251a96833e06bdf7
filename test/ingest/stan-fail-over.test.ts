import { createServer, type Socket } from 'node:net'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { openStanSubscription, ServerRing } from '../../src/ingest/stan-subscription.js'
import { refusingPort } from '../support/ports.js'
import { startTestDatabase, type TestDatabase } from '../support/postgres.js'
import { stanFeatures, stanServers } from './brokers.js'
import { orderJson, outcomes, stanOptions, writerFor, type StanSettings } from './support.js'
import { clusterContract } from './transport-contract.js'

let db: TestDatabase
let broker: Awaited<ReturnType<typeof stanServers>>
const cleanups: Array<() => Promise<void>> = []

beforeAll(async () => {
  ;[db, broker] = await Promise.all([startTestDatabase(), stanServers()])
})
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})
afterAll(async () => {
  await broker?.close()
  await db?.stop()
})

clusterContract('NATS Streaming', stanFeatures, () => ({ db, broker }))

/** An instance of the service's ingest path: subscription → batch writer → PostgreSQL, acks recorded. */
function instance(settings: StanSettings) {
  const service = writerFor(db.sql, { maxWaitMs: 5 })
  const subscription = openStanSubscription(stanOptions(broker.stan, settings), (message) =>
    service.writer.add({ ...message, ack: () => (service.acked.push(message.sequence), message.ack()) }),
  )
  cleanups.push(() => service.writer.stop(), () => subscription.close())
  return { ...service, subscription }
}

const orders = (prefix: string, count: number) => Array.from({ length: count }, (_, i) => orderJson(`${prefix}-${i}`))

describe('server list', () => {
  it('When the first server of the list refuses connections, then the subscription takes the next one and ingests', async () => {
    const service = instance({ servers: [`nats://127.0.0.1:${await refusingPort()}`, broker.stan.url], clientId: 'list-refused', channel: 'list-refused' })
    await vi.waitFor(() => expect(service.subscription.isLive()).toBe(true), { timeout: 10_000 })
    await broker.publish('list-refused', orders('refused', 10))
    await vi.waitFor(() => expect(service.acked).toHaveLength(10))
    expect(await outcomes(service.metrics)).toEqual({ stored: 10 })
  })

  it('When the first server accepts connections and never answers, then the subscription gives up on it and takes the next', async () => {
    const silent = createServer(() => {})
    const held = new Set<Socket>()
    silent.on('connection', (socket) => held.add(socket))
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', () => resolve()))
    cleanups.push(async () => {
      for (const socket of held) socket.destroy()
      await new Promise<void>((resolve) => silent.close(() => resolve()))
    })
    const service = instance({ servers: [`nats://127.0.0.1:${(silent.address() as { port: number }).port}`, broker.stan.url], clientId: 'list-silent', channel: 'list-silent' })
    await vi.waitFor(() => expect(service.subscription.isLive()).toBe(true), { timeout: 15_000 })
    expect(held.size).toBe(1)
    await broker.publish('list-silent', orders('silent', 5))
    await vi.waitFor(() => expect(service.acked).toHaveLength(5))
  })

  it('Should try the configured servers in order, then those the cluster announced, and back off only after a full round', () => {
    const ring = new ServerRing(['nats://a:4222', 'nats://b:4222/'])
    expect([ring.next(), ring.next(), ring.next()]).toEqual(['nats://a:4222', 'nats://b:4222', 'nats://a:4222'])
    expect(ring.announce(['nats://b:4222', 'nats://c:4222', 'nats://c:4222'])).toBe(true)
    expect(ring.announce(['nats://c:4222'])).toBe(false)
    expect(ring.list()).toEqual(['nats://a:4222', 'nats://b:4222', 'nats://c:4222'])
    expect([ring.roundFailed(), ring.roundFailed(), ring.roundFailed()]).toEqual([false, false, true])
    ring.roundFailed()
    ring.connected()
    expect(ring.roundFailed()).toBe(false)
  })
})
