import { EventEmitter, once } from 'node:events'
import { connect } from '@nats-io/transport-node'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { connectStan, PINGS, type StanClientOptions, type StanConnection } from '../../src/ingest/stan-client.js'
import { encodeCloseRequest } from '../../src/stan-server/streaming/protocol.js'
import { stanSubjects } from '../../src/stan-server/streaming/subjects.js'
import { Cleanup } from '../support/cleanup.js'
import { startFreezingProxy } from '../support/tcp-proxy.js'
import { startNatsCluster } from '../support/nats-server.js'
import { stanServer } from './brokers.js'

let broker: Awaited<ReturnType<typeof stanServer>>
let cleanup = new Cleanup()

beforeAll(async () => {
  broker = await stanServer()
})
afterEach(async () => {
  await cleanup.run()
  cleanup = new Cleanup()
})
afterAll(async () => {
  await broker?.close()
})

function options(clientId: string, overrides: Partial<StanClientOptions> = {}): StanClientOptions {
  return {
    server: broker.stan().url,
    clusterId: broker.stan().clusterId,
    clientId,
    connectTimeoutMs: 5_000,
    requestTimeoutMs: 5_000,
    pings: PINGS,
    ...overrides,
  }
}

async function connected(clientId: string, overrides: Partial<StanClientOptions> = {}): Promise<StanConnection> {
  const opened = await connectStan(options(clientId, overrides))
  if (!opened.ok) throw new Error(opened.reason)
  cleanup.add(clientId, () => opened.connection.close())
  return opened.connection
}

/** A durable subscription whose deliveries are events named by payload; `ack` says which to ack. */
async function subscribed(connection: StanConnection, channel: string, ack: (payload: string) => boolean) {
  const received = new EventEmitter()
  const sequences: number[] = []
  const opened = await connection.subscribe({ channel, durableName: 'durable', maxInFlight: 64, ackWaitMs: 30_000 }, (message, subscription) => {
    sequences.push(message.sequence)
    if (ack(message.data.toString())) subscription.ack(message.sequence)
    received.emit(message.data.toString())
  })
  if (!opened.ok) throw new Error(opened.reason)
  return { subscription: opened.subscription, received, sequences }
}

describe('connect', () => {
  it('When the client id is held by a client that answers the broker\'s heartbeats, then a second connect under it is refused, as a value', async () => {
    await connected('holder')
    const second = await connectStan(options('holder'))
    expect(second).toEqual({ ok: false, reason: expect.stringContaining('already registered') })
  })

  it('When no server answers the connect request in time, then the connect fails within its bound, as a value', async () => {
    const proxy = await startFreezingProxy({ host: '127.0.0.1', port: broker.stan().port })
    cleanup.add('proxy', () => proxy.close())
    proxy.freeze({ newConnections: 'freeze' })
    const started = performance.now()
    const opened = await connectStan(options('frozen-connect', { server: `nats://127.0.0.1:${proxy.port}`, connectTimeoutMs: 1_000 }))
    expect(opened.ok).toBe(false)
    expect(performance.now() - started).toBeLessThan(2_000)
  })

  it('When the server is a node of a NATS cluster, then the servers the cluster announces are reported, even when it has no streaming server', { timeout: 60_000 }, async () => {
    const cluster = await startNatsCluster(3)
    cleanup.add('cluster', () => cluster.close())
    const announced: string[][] = []
    const opened = await connectStan(options('announced', { server: cluster.urls[0]!, onServers: (urls) => void announced.push(urls) }))
    expect(opened.ok).toBe(false)
    const normalized = (url: string) => new URL(url).href.replace(/\/$/, '')
    expect(announced.at(-1)?.map(normalized)).toEqual(expect.arrayContaining(cluster.urls.slice(1).map(normalized)))
  })
})

describe('streaming pings', () => {
  it('When the broker no longer knows the client, then its answer to the next streaming ping ends the connection as lost', async () => {
    const connection = await connected('forgotten', { pings: { ...PINGS, stanPingInterval: 1_000 } })
    const nc = await connect({ servers: broker.stan().url })
    cleanup.add('nats', () => nc.close())
    await nc.request(stanSubjects(broker.stan().clusterId).close, encodeCloseRequest('forgotten'), { timeout: 5_000 })
    expect(await connection.lost).toMatch(/streaming ping refused/)
  })

  it('When the connection stops answering, then the streaming pings notice it within their bound', async () => {
    const proxy = await startFreezingProxy({ host: '127.0.0.1', port: broker.stan().port })
    cleanup.add('proxy', () => proxy.close())
    // NATS pings far apart: only the streaming level can notice here (1 s, 2 out: lost at the third tick).
    const pings = { pingInterval: 60_000, maxPingOut: 2, stanPingInterval: 1_000, stanMaxPingOut: 2 }
    const connection = await connected('frozen', { server: `nats://127.0.0.1:${proxy.port}`, pings })
    proxy.freeze()
    const frozenAt = performance.now()
    expect(await connection.lost).toMatch(/streaming pings unanswered/)
    expect(performance.now() - frozenAt).toBeLessThan(3 * 1_000 + 500)
  })
})

describe('subscriptions', () => {
  it('When a subscription is closed with messages unacked, then the durable stays, and the next subscription resumes at the first unacked', async () => {
    const first = await connected('closer')
    const early = await subscribed(first, 'closed-durable', (payload) => payload === 'a' || payload === 'b')
    const delivered = once(early.received, 'd')
    await broker.publish('closed-durable', ['a', 'b', 'c', 'd'])
    await delivered
    expect(await early.subscription.close()).toBeUndefined()
    expect(await first.close()).toBeUndefined()

    const second = await subscribed(await connected('closer'), 'closed-durable', () => true)
    await once(second.received, 'd')
    expect(second.sequences).toEqual([3, 4])
  })

  it('When a subscription is unsubscribed, then the durable is gone, and the next subscription starts at the first message', async () => {
    const first = await connected('leaver')
    const early = await subscribed(first, 'removed-durable', () => true)
    const delivered = once(early.received, 'b')
    await broker.publish('removed-durable', ['a', 'b'])
    await delivered
    expect(await early.subscription.unsubscribe()).toBeUndefined()

    const second = await subscribed(first, 'removed-durable', () => true)
    await once(second.received, 'b')
    expect(second.sequences).toEqual([1, 2])
  })

  it('When the broker refuses a subscription, then subscribe says why, as a value', async () => {
    const connection = await connected('twice')
    await subscribed(connection, 'twice', () => true)
    const again = await connection.subscribe({ channel: 'twice', durableName: 'durable', maxInFlight: 1, ackWaitMs: 1_000 }, () => {})
    expect(again).toEqual({ ok: false, reason: expect.stringContaining('duplicate durable') })
  })
})
