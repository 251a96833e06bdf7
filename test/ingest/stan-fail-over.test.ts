import { createServer, type Socket } from 'node:net'
import stan from 'node-nats-streaming'
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { openStanSubscription, ServerRing } from '../../src/ingest/stan-subscription.js'
import type { BrokerMessage, BrokerSubscription } from '../../src/ingest/transport.js'
import { createOrderStore } from '../../src/store/orders.js'
import { startStanServer, type StanServer } from '../../src/stan-server/index.js'
import { refusingPort } from '../support/ports.js'
import { startTestDatabase, type TestDatabase } from '../support/postgres.js'
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js'
import { orderJson, outcomes, stanOptions, writerFor, type StanSettings } from './support.js'

let db: TestDatabase
let broker: StanServer
const cleanups: Array<() => Promise<void>> = []

beforeAll(async () => {
  db = await startTestDatabase()
  broker = await startStanServer({ port: 0 })
})
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup()
  await broker?.close()
  await db?.stop()
})
beforeEach(() => db.truncate())

function subscribe(settings: StanSettings, onMessage: (message: BrokerMessage) => void): BrokerSubscription {
  const subscription = openStanSubscription(stanOptions(broker, settings), onMessage)
  cleanups.push(() => subscription.close())
  return subscription
}

/** An instance of the service's ingest path: subscription → batch writer → PostgreSQL, acks recorded. */
function instance(settings: StanSettings) {
  const service = writerFor(db.sql, { maxWaitMs: 5 })
  cleanups.push(() => service.writer.stop())
  const subscription = subscribe(settings, (message) => service.writer.add({ ...message, ack: () => (service.acked.push(message.sequence), message.ack()) }))
  return { ...service, subscription }
}

async function proxy(): Promise<TcpProxy> {
  const started = await startTcpProxy({ host: broker.host, port: broker.port })
  cleanups.push(() => started.close())
  return started
}

/** Publishes through node-nats-streaming, as any producer would; resolves when the broker acked every message. */
async function publish(channel: string, payloads: string[]): Promise<void> {
  const connection = stan.connect(broker.clusterId, `publisher-${process.pid}-${channel}-${Date.now()}`, { url: broker.url })
  await new Promise<void>((resolve, reject) => {
    connection.once('connect', () => resolve())
    connection.once('error', reject)
  })
  await Promise.all(payloads.map((payload) => new Promise<void>((resolve, reject) => connection.publish(channel, payload, (error) => (error ? reject(error) : resolve())))))
  await new Promise<void>((resolve) => {
    connection.once('close', () => resolve())
    connection.close()
  })
}

const orders = (prefix: string, count: number) => Array.from({ length: count }, (_, i) => orderJson(`${prefix}-${i}`))

describe('server list', () => {
  it('When the first server of the list refuses connections, then the subscription takes the next one and ingests', async () => {
    const service = instance({ servers: [`nats://127.0.0.1:${await refusingPort()}`, broker.url], clientId: 'list-refused', channel: 'list-refused' })
    await vi.waitFor(() => expect(service.subscription.isLive()).toBe(true), { timeout: 10_000 })
    await publish('list-refused', orders('refused', 10))
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
    const service = instance({ servers: [`nats://127.0.0.1:${(silent.address() as { port: number }).port}`, broker.url], clientId: 'list-silent', channel: 'list-silent' })
    await vi.waitFor(() => expect(service.subscription.isLive()).toBe(true), { timeout: 15_000 })
    expect(held.size).toBe(1)
    await publish('list-silent', orders('silent', 5))
    await vi.waitFor(() => expect(service.acked).toHaveLength(5))
  })

  it('When the address it is connected to goes away mid-ingest, then it moves to the next server and nothing is lost or doubled', async () => {
    const [first, second] = [await proxy(), await proxy()]
    const service = instance({ servers: [first.url, second.url], clientId: 'list-moves', channel: 'list-moves' })
    await vi.waitFor(() => expect(service.subscription.isLive()).toBe(true), { timeout: 10_000 })
    expect([first.connections(), second.connections()]).toEqual([1, 0])
    await publish('list-moves', orders('before', 20))
    await vi.waitFor(() => expect(service.acked).toHaveLength(20))

    // The node goes away while a burst is published: what was in flight comes again through the other address.
    const burst = publish('list-moves', orders('during', 200))
    await first.close()
    await burst
    await vi.waitFor(() => expect(second.connections()).toBe(1), { timeout: 10_000 })
    await vi.waitFor(() => expect(service.subscription.isLive()).toBe(true), { timeout: 10_000 })
    await publish('list-moves', orders('after', 20))
    await vi.waitFor(async () => expect(await createOrderStore(db.sql).count()).toBe(240), { timeout: 20_000 })
    const counted = await outcomes(service.metrics)
    expect(counted.stored).toBe(240)
    expect(Object.keys(counted).filter((key) => key !== 'stored' && key !== 'duplicate')).toEqual([])
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

describe('durable queue group', () => {
  it('When two instances share the channel and one dies holding messages, then the other gets them: nothing lost or doubled', async () => {
    const channel = 'group'
    const group = { channel, queueGroup: 'order-service', ackWaitMs: 1_000 }
    // Instance A reaches the broker through an address of its own, takes messages and never acks them.
    const toA = await proxy()
    const held: number[] = []
    const a = subscribe({ ...group, servers: [toA.url], clientId: 'instance-a' }, (message) => held.push(message.sequence))
    const b = instance({ ...group, servers: [broker.url], clientId: 'instance-b' })
    await vi.waitFor(() => expect(a.isLive() && b.subscription.isLive()).toBe(true), { timeout: 10_000 })

    await publish(channel, orders('shared', 100))
    await vi.waitFor(() => expect(held.length + b.acked.length).toBe(100))
    expect(held.length).toBeGreaterThan(0)
    expect(b.acked.length).toBeGreaterThan(0)

    // A dies: its connection drops and it cannot come back. What it held goes to B after the ack wait.
    await toA.close()
    await vi.waitFor(async () => expect(await createOrderStore(db.sql).count()).toBe(100), { timeout: 20_000 })
    await vi.waitFor(() => expect(new Set(b.acked).size).toBe(100))
    expect(b.acked.filter((sequence) => held.includes(sequence)).sort()).toEqual([...held].sort())
    expect(await outcomes(b.metrics)).toEqual({ stored: 100 })
  })

  it('When a member leaves gracefully, then its unacked messages go to the others at once', async () => {
    const channel = 'group-leave'
    const group = { channel, queueGroup: 'order-service', ackWaitMs: 60_000 }
    const held: number[] = []
    const a = subscribe({ ...group, servers: [broker.url], clientId: 'leaving-a' }, (message) => held.push(message.sequence))
    const b = instance({ ...group, servers: [broker.url], clientId: 'staying-b' })
    await vi.waitFor(() => expect(a.isLive() && b.subscription.isLive()).toBe(true), { timeout: 10_000 })
    await publish(channel, orders('leave', 50))
    await vi.waitFor(() => expect(held.length + b.acked.length).toBe(50))
    expect(held.length).toBeGreaterThan(0)

    // Well before the minute of ack wait: the broker moves a leaving member's messages to the others.
    await a.close()
    await vi.waitFor(() => expect(new Set(b.acked).size).toBe(50), { timeout: 10_000 })
    expect(await createOrderStore(db.sql).count()).toBe(50)
    expect(await outcomes(b.metrics)).toEqual({ stored: 50 })
  })

  it('When upgrading from a single plain durable with unacked messages, then the new group ingests them all and the old durable is removed', async () => {
    const channel = 'upgrade'
    // The single-instance version: plain durable 'order-service' under client id 'order-service', stopped while
    // holding 10 messages it never acked.
    const legacy = await connectAs('order-service')
    const old = legacy.subscribe(channel, legacy.subscriptionOptions().setDeliverAllAvailable().setDurableName('order-service').setManualAckMode(true))
    await new Promise((resolve) => old.once('ready', resolve))
    const delivered = new Promise<void>((resolve) => old.on('message', (message: { getSequence(): number }) => message.getSequence() === 10 && resolve()))
    await publish(channel, orders('upgrade', 10))
    await delivered
    await new Promise<void>((resolve) => {
      legacy.once('close', () => resolve())
      legacy.close()
    })

    const service = instance({ channel, servers: [broker.url], clientId: 'order-service-web-1-8000', queueGroup: 'order-service', retireDurableOf: 'order-service' })
    await vi.waitFor(() => expect(new Set(service.acked).size).toBe(10), { timeout: 10_000 })
    await service.subscription.close()
    expect(await outcomes(service.metrics)).toEqual({ stored: 10 })

    // Reopened, the old durable would redeliver its 10 first; removed, a new durable starts at the next message.
    const check = await connectAs('order-service')
    const first = new Promise<number>((resolve) => {
      const reopened = check.subscribe(channel, check.subscriptionOptions().setDurableName('order-service').setManualAckMode(true))
      reopened.on('message', (message: { getSequence(): number }) => resolve(message.getSequence()))
      reopened.once('ready', () => void publish(channel, [orderJson('after-upgrade')]))
    })
    expect(await first).toBe(11)
    check.close()
  })
})

function connectAs(clientId: string): Promise<stan.Stan> {
  return new Promise((resolve, reject) => {
    const connection = stan.connect(broker.clusterId, clientId, { url: broker.url })
    connection.once('connect', () => resolve(connection))
    connection.once('error', reject)
  })
}
