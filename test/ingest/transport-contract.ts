import { EventEmitter, once } from 'node:events'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { startFreezingProxy } from '../support/tcp-proxy.js'
import type { BrokerMessage, BrokerSubscription } from '../../src/ingest/transport.js'
import { createOrderStore } from '../../src/store/orders.js'
import { Cleanup } from '../support/cleanup.js'
import type { TestDatabase } from '../support/postgres.js'
import { startTcpProxy } from '../support/tcp-proxy.js'
import { orderJson, outcomes, writerFor } from './support.js'

/**
 * The cases every transport (src/ingest/*-subscription.ts) must pass, written once and run against each, as
 * watermill's TestPubSub: a transport's test file gives a Broker (how to start its servers, publish, open the
 * subscription, take a server away) and Features (what differs), and keeps only what is specific to its broker.
 */

/** What a case asks of the subscription; the transport fills in the rest (short waits, a silent log). */
export interface Settings {
  /** Addresses to use instead of the broker's own (proxies in front of them). */
  servers?: readonly string[]
  ackWaitMs?: number
  maxInFlight?: number
  /** Liveness as the transport logs it: info when (again) live, warn when lost or failing. */
  log?: Log
  /** Another instance of the service sharing the work: its own client name (and id). */
  member?: string
}

type Log = { info: (fields: unknown, message?: string) => void; warn: (fields: unknown, message?: string) => void }

/** One running broker, a single server or a cluster, as the cases drive it; `channel` names a case's own channel or stream. */
export interface Broker {
  /** The servers' client addresses. */
  urls: readonly string[]
  open(channel: string, settings: Settings, onMessage: (message: BrokerMessage) => void): Promise<BrokerSubscription>
  /** Publishes as any producer would; resolves with the sequences once the broker stored every message. */
  publish(channel: string, payloads: readonly string[]): Promise<number[]>
  /** What dead letters name as a message's origin. */
  deadLetterChannel(channel: string): string
  /** What the broker itself reports for the service's durable: delivered and not acked, not delivered yet. */
  state(channel: string): Promise<{ unacked: number; undelivered: number }>
}

/** One server. */
export interface SingleServer extends Broker {
  /** The server goes away (a SIGKILL where it is a process) and comes back on its address. */
  restart(during: () => Promise<void>): Promise<void>
}

/** Several servers any of which serves the channel. */
export interface Cluster extends Broker {
  /** Takes away the server the channel's subscription depends on, once ingest is under way; resolves with how it comes back. */
  failServing(channel: string): Promise<() => Promise<void>>
}

/** How a transport differs: what it cannot do, and its bounds. */
export interface Features {
  /** The broker stores what is published while a server is being taken away (JetStream elects a leader first). */
  publishDuringFailOver: boolean
  /** Bounds for a connection that stops answering without closing (a frozen proxy in front of the server). */
  frozen: {
    /** Short, to keep the case short: what a frozen connection took comes again after it. */
    ackWaitMs: number
    /** A new connection is made within this of the freeze. */
    replacedWithinMs: number
    /** A message published once it is replaced arrives within this of the freeze. */
    resumedWithinMs: number
    /** One published at the freeze (perhaps handed to the frozen connection) arrives within this of it. */
    heldWithinMs: number
    /** The server stays frozen, new connections too: live on another server within this of the freeze. */
    failedOverWithinMs: number
    /** And one published at that freeze arrives within this of it. */
    failedOverHeldWithinMs: number
    /** What the transport logs (with a `server` field) when it is live again. */
    liveAgainLog: string
  }
}

/** Once live again after a freeze, the next message arrives within this. */
const FLOWS_AGAIN_WITHIN_MS = 2_000

export interface Fixture<B extends Broker> {
  db: TestDatabase
  broker: B
}

/** The cases on one server: delivery, acks, redelivery, the in-flight bound, hand-back on close, restart, a frozen connection. */
export function singleServerContract(transport: string, features: Features, fixture: () => Fixture<SingleServer>): void {
  describe(`transport contract on ${transport}, one server`, () => {
    const { ingest, subscribe, flowing, later } = harness(fixture)

    it('When orders are published, then they are delivered in order, stored and acked, and a reopened durable resumes after them', async () => {
      const { db, broker } = fixture()
      const delivered: number[] = []
      const first = await ingest('e2e', {}, (message) => delivered.push(message.sequence))
      await vi.waitFor(() => expect(first.subscription.isLive()).toBe(true))
      const sequences = await broker.publish('e2e', [orderJson('e1'), orderJson('e2'), '{"order_uid":"e3"}', orderJson('e1')])
      await vi.waitFor(() => expect(first.acked).toHaveLength(4))
      expect(delivered).toEqual(sequences)
      expect([...first.acked].sort((a, b) => a - b)).toEqual(sequences)
      await vi.waitFor(async () => expect(await broker.state('e2e')).toEqual({ unacked: 0, undelivered: 0 }))
      await first.subscription.close()
      await first.writer.stop()
      expect(await outcomes(first.metrics)).toEqual({ stored: 2, duplicate: 1, 'dead_lettered/schema': 1 })
      // Dead letters name the channel (or stream) and its sequence.
      expect(await db.sql`select channel, broker_seq::int as seq from dead_letters`).toEqual([{ channel: broker.deadLetterChannel('e2e'), seq: sequences[2] }])

      // Published while the service is away: the durable keeps its place, and acked messages do not come again.
      await broker.publish('e2e', [orderJson('e4')])
      const second = await ingest('e2e')
      await vi.waitFor(() => expect(second.acked).toHaveLength(1))
      await vi.waitFor(async () => expect(await broker.state('e2e')).toEqual({ unacked: 0, undelivered: 0 }))
      await second.subscription.close()
      await second.writer.stop()
      expect(await outcomes(second.metrics)).toEqual({ stored: 1 })
      expect(await createOrderStore(db.sql).count()).toBe(3)
    })

    it('When the database holds the commit back, then nothing is acked to the broker until it commits', async () => {
      const { db, broker } = fixture()
      const service = await ingest('commit')
      const lock = await db.sql.reserve()
      try {
        await lock`begin`
        await lock`lock table orders in exclusive mode`
        await broker.publish('commit', [orderJson('c1')])
        // The writer's insert waits on the lock: delivered, and its transaction open.
        await vi.waitFor(async () => expect(await db.sql`select count(*)::int as n from pg_locks where relation = 'orders'::regclass and not granted`).toEqual([{ n: 1 }]))
        expect(service.acked).toEqual([])
        expect(await broker.state('commit')).toEqual({ unacked: 1, undelivered: 0 })
      } finally {
        await lock`commit`
        lock.release()
      }
      await vi.waitFor(() => expect(service.acked).toHaveLength(1))
      await vi.waitFor(async () => expect(await broker.state('commit')).toEqual({ unacked: 0, undelivered: 0 }))
      expect(await createOrderStore(db.sql).count()).toBe(1)
    })

    it('When a delivery is not acked within the ack wait, then the broker delivers it again after the ack wait: same sequence, same bytes', async () => {
      const { broker } = fixture()
      const deliveries: Array<{ message: BrokerMessage; at: number }> = []
      await subscribe('redeliver', { ackWaitMs: 1_000 }, (message) => deliveries.push({ message, at: performance.now() }))
      const [sequence] = await broker.publish('redeliver', [orderJson('r1')])
      await vi.waitFor(() => expect(deliveries).toHaveLength(2), { timeout: 10_000 })
      const [first, again] = deliveries.map(({ message }) => message)
      expect([first!.sequence, again!.sequence]).toEqual([sequence, sequence])
      expect(again!.data).toEqual(first!.data)
      // Not a second copy at once: the ack wait passed (the broker's sweep may round it down a little).
      expect(deliveries[1]!.at - deliveries[0]!.at).toBeGreaterThan(800)
      again!.ack()
      await vi.waitFor(async () => expect((await broker.state('redeliver')).unacked).toBe(0))
    })

    it('When the service holds maxInFlight unacked messages, then the broker delivers no more until it acks', async () => {
      const { broker } = fixture()
      const deliveries: BrokerMessage[] = []
      await subscribe('bound', { maxInFlight: 8 }, (message) => deliveries.push(message))
      await broker.publish('bound', Array.from({ length: 20 }, (_, i) => orderJson(`b${i}`)))
      await vi.waitFor(async () => expect(await broker.state('bound')).toEqual({ unacked: 8, undelivered: 12 }))
      expect(deliveries).toHaveLength(8)
      for (const message of deliveries.splice(0)) message.ack()
      await vi.waitFor(() => expect(deliveries).toHaveLength(8))
      for (const message of deliveries.splice(0)) message.ack()
      await vi.waitFor(() => expect(deliveries).toHaveLength(4))
      for (const message of deliveries.splice(0)) message.ack()
      await vi.waitFor(async () => expect(await broker.state('bound')).toEqual({ unacked: 0, undelivered: 0 }))
    })

    it('When a subscription closes holding unacked messages, then they are handed back at once, not after the ack wait', async () => {
      const { broker } = fixture()
      const first: BrokerMessage[] = []
      const closing = await broker.open('handback', { ackWaitMs: 60_000 }, (message) => first.push(message))
      await broker.publish('handback', [orderJson('h1')])
      await vi.waitFor(() => expect(first).toHaveLength(1))
      await closing.close()
      const second: BrokerMessage[] = []
      await subscribe('handback', { ackWaitMs: 60_000 }, (message) => second.push(message))
      // Within seconds, while the ack wait is a minute: handed back, not timed out.
      await vi.waitFor(() => expect(second).toHaveLength(1), { timeout: 5_000 })
      expect(second[0]!.sequence).toBe(first[0]!.sequence)
      second[0]!.ack()
    })

    it('When two instances share the durable and one leaves holding messages, then they split the work, the other gets those at once, and every order is stored once', async () => {
      const { db, broker } = fixture()
      const held: number[] = []
      const leaving = await subscribe('leave', { ackWaitMs: 60_000, maxInFlight: 16, member: 'leaving' }, (message) => held.push(message.sequence))
      const staying = await ingest('leave', { ackWaitMs: 60_000, maxInFlight: 16, member: 'staying' })
      await vi.waitFor(() => expect(leaving.isLive() && staying.subscription.isLive()).toBe(true), { timeout: 10_000 })
      await broker.publish('leave', Array.from({ length: 300 }, (_, i) => orderJson(`l${i}`)))
      await vi.waitFor(() => expect(held.length + staying.acked.length).toBe(300), { timeout: 20_000 })
      expect(held.length).toBeGreaterThan(0)
      expect(staying.acked.length).toBeGreaterThan(0)

      // Well before the minute of ack wait: what a leaving instance holds goes to the others.
      await leaving.close()
      await vi.waitFor(() => expect(new Set(staying.acked).size).toBe(300), { timeout: 10_000 })
      expect(staying.acked.filter((sequence) => held.includes(sequence)).sort()).toEqual([...held].sort())
      await staying.writer.stop()
      expect(await createOrderStore(db.sql).count()).toBe(300)
      expect(await outcomes(staying.metrics)).toEqual({ stored: 300 })
    })

    it('When an instance sharing the durable dies holding messages, then the other gets them after the ack wait: nothing lost or doubled', async () => {
      const { db, broker } = fixture()
      // Instance A reaches the broker through an address of its own, takes messages and never acks them.
      const toA = await startTcpProxy(hostPort(broker.urls[0]!))
      later('proxy', () => toA.close())
      const held: number[] = []
      const a = await subscribe('dies', { servers: [toA.url], ackWaitMs: 1_000, maxInFlight: 16, member: 'dying' }, (message) => held.push(message.sequence))
      const b = await ingest('dies', { ackWaitMs: 1_000, maxInFlight: 16, member: 'surviving' })
      await vi.waitFor(() => expect(a.isLive() && b.subscription.isLive()).toBe(true), { timeout: 10_000 })
      await broker.publish('dies', Array.from({ length: 100 }, (_, i) => orderJson(`d${i}`)))
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

    it('When the server goes away and comes back, then the subscription reconnects by itself and ingests again', async () => {
      const { db, broker } = fixture()
      const service = await ingest('restart')
      await broker.publish('restart', [orderJson('x1')])
      await vi.waitFor(() => expect(service.acked).toHaveLength(1))
      await broker.restart(() => vi.waitFor(() => expect(service.subscription.isLive()).toBe(false)))
      const [later] = await broker.publish('restart', [orderJson('x2')])
      // A SIGKILL can lose the server's record of the last acks: those messages come again and are absorbed as duplicates.
      await vi.waitFor(() => expect(service.acked).toContain(later), { timeout: 20_000 })
      expect(service.subscription.isLive()).toBe(true)
      await service.writer.stop()
      expect(await createOrderStore(db.sql).count()).toBe(2)
    })

    it('When the server connection stops answering without closing, then it is noticed, replaced within its bound, and delivery resumes', { timeout: 60_000 }, async () => {
      const { broker } = fixture()
      const bounds = features.frozen
      const proxy = await startFreezingProxy(hostPort(broker.urls[0]!))
      later('proxy', () => proxy.close())
      const liveness: boolean[] = []
      const log = { info: () => void liveness.push(true), warn: () => void liveness.push(false) }
      const { subscription, arrivals } = await flowing('hung', { servers: [`nats://127.0.0.1:${proxy.port}`], ackWaitMs: bounds.ackWaitMs, log })

      proxy.freeze({ newConnections: 'pass' })
      const frozenAt = performance.now()
      // Published at once: most likely handed to the frozen connection.
      const during = arrivals('during', frozenAt)
      await broker.publish('hung', ['during'])
      await proxy.accepted(2)
      const replacedAfterMs = performance.now() - frozenAt
      const after = arrivals('after', frozenAt)
      await broker.publish('hung', ['after'])
      const [afterMs, duringMs] = [await after, await during]
      console.info(`${transport}: connection frozen: replaced after ${Math.round(replacedAfterMs)} ms; a message published then arrived after ${Math.round(afterMs)} ms; one published at the freeze after ${Math.round(duringMs)} ms (ack wait ${bounds.ackWaitMs} ms)`)

      expect(replacedAfterMs).toBeLessThan(bounds.replacedWithinMs)
      expect(afterMs).toBeLessThan(bounds.resumedWithinMs)
      expect(duringMs).toBeLessThan(bounds.heldWithinMs)
      // Lost (warn), then live again (info) on a fresh connection through the proxy.
      expect(liveness.slice(-2)).toEqual([false, true])
      expect(proxy.acceptedConnections).toBeGreaterThanOrEqual(2)
      expect(subscription.isLive()).toBe(true)
    })
  })
}

/** The cases on several servers: fail-over mid-ingest, and a frozen server left for another. */
export function clusterContract(transport: string, features: Features, fixture: () => Fixture<Cluster>): void {
  describe(`transport contract on ${transport}, several servers`, () => {
    const { ingest, flowing, later } = harness(fixture)

    it('When the server the subscription depends on fails mid-ingest, then it fails over to another and every order is stored once', { timeout: 120_000 }, async () => {
      const { db, broker } = fixture()
      const service = await ingest('failover', { maxInFlight: 32 })
      await broker.publish('failover', orders('before', 300))
      await vi.waitFor(() => expect(service.acked.length).toBeGreaterThan(0))
      // On NATS Streaming what was in flight comes again through the other server.
      const during = features.publishDuringFailOver ? broker.publish('failover', orders('during', 200)) : undefined
      const comeBack = await broker.failServing('failover')
      await during
      await broker.publish('failover', orders('after', 100))
      await comeBack()
      const total = during === undefined ? 400 : 600
      await vi.waitFor(async () => expect(await createOrderStore(db.sql).count()).toBe(total), { timeout: 60_000, interval: 250 })
      await vi.waitFor(async () => expect(await broker.state('failover')).toEqual({ unacked: 0, undelivered: 0 }), { timeout: 30_000, interval: 250 })
      const counted = await outcomes(service.metrics)
      expect(counted.stored).toBe(total)
      expect(Object.keys(counted).filter((key) => key !== 'stored' && key !== 'duplicate')).toEqual([])
      expect(service.subscription.isLive()).toBe(true)
    })

    it('When the server in use stops answering, new connections too, then the connection is replaced by one to another server and delivery resumes there', { timeout: 90_000 }, async () => {
      const { broker } = fixture()
      const bounds = features.frozen
      const proxies = await Promise.all(broker.urls.map((url) => startFreezingProxy(hostPort(url))))
      for (const each of proxies) later('proxy', () => each.close())
      /** What the subscription logs, by message: awaited as events. */
      const logged = new EventEmitter()
      const log = (first: unknown, second?: unknown) => void logged.emit(typeof first === 'string' ? first : String(second), first)
      const through = proxies.map((each) => `nats://127.0.0.1:${each.port}`)
      const { subscription, arrivals } = await flowing('frozen-over', { servers: through, ackWaitMs: bounds.ackWaitMs, log: { info: log, warn: log } })
      const used = proxies.findIndex((each) => each.openConnections > 0)
      expect(used).toBeGreaterThanOrEqual(0)

      // The server it uses stops answering, and so does any new connection to it: only the others can take over.
      proxies[used]!.freeze({ newConnections: 'freeze' })
      const frozenAt = performance.now()
      const reconnected = once(logged, bounds.liveAgainLog).then(([fields]) => ({ ms: performance.now() - frozenAt, server: (fields as { server: string }).server }))
      const during = arrivals('during', frozenAt)
      await broker.publish('frozen-over', ['during'])
      const { ms: replacedAfterMs, server } = await reconnected
      const after = arrivals('after', frozenAt)
      await broker.publish('frozen-over', ['after'])
      const [afterMs, duringMs] = [await after, await during]
      console.info(`${transport}: server ${proxies[used]!.port} frozen: live again on ${server} after ${Math.round(replacedAfterMs)} ms; a message published then arrived after ${Math.round(afterMs)} ms; one published at the freeze after ${Math.round(duringMs)} ms`)

      expect(server).not.toContain(`:${proxies[used]!.port}`)
      expect(replacedAfterMs).toBeLessThan(bounds.failedOverWithinMs)
      expect(afterMs - replacedAfterMs).toBeLessThan(FLOWS_AGAIN_WITHIN_MS)
      expect(duringMs).toBeLessThan(bounds.failedOverHeldWithinMs)
      expect(subscription.isLive()).toBe(true)
    })
  })
}

/** What both groups of cases share: the service's ingest path on a case's channel, and what to undo after a case. */
function harness(fixture: () => Fixture<Broker>) {
  let cleanup = new Cleanup()
  beforeEach(() => void (cleanup = new Cleanup()))
  afterEach(async () => {
    await cleanup.run()
    await fixture().db.truncate()
  })
  const later = (name: string, undo: () => unknown) => void cleanup.add(name, undo)

  /** subscription → batch writer (dead letters under the broker's name) → PostgreSQL; acks recorded by sequence. */
  async function ingest(channel: string, settings: Settings = {}, onDelivery: (message: BrokerMessage) => void = () => {}) {
    const { db, broker } = fixture()
    const service = writerFor(db.sql, { maxWaitMs: 5, channel: broker.deadLetterChannel(channel) })
    later('writer', () => service.writer.stop())
    const subscription = await broker.open(channel, settings, (message) => {
      onDelivery(message)
      service.writer.add({ ...message, ack: () => (service.acked.push(message.sequence), message.ack()) })
    })
    later('subscription', () => subscription.close())
    return { ...service, subscription }
  }

  /** The subscription alone, closed after the case. */
  async function subscribe(channel: string, settings: Settings, onMessage: (message: BrokerMessage) => void): Promise<BrokerSubscription> {
    const subscription = await fixture().broker.open(channel, settings, onMessage)
    later('subscription', () => subscription.close())
    return subscription
  }

  /**
   * The subscription, acking each message and emitting its payload; resolves once a first message, published
   * straight to the broker, came through. `arrivals(payload, from)`: the ms from `from` to that payload's arrival.
   */
  async function flowing(channel: string, settings: Settings) {
    const received = new EventEmitter()
    const subscription = await subscribe(channel, settings, (message) => {
      message.ack()
      received.emit(message.data.toString())
    })
    const first = once(received, 'before')
    await fixture().broker.publish(channel, ['before'])
    await first
    const arrivals = (payload: string, from: number) => once(received, payload).then(() => performance.now() - from)
    return { subscription, arrivals }
  }
  return { ingest, subscribe, flowing, later }
}

const orders = (prefix: string, count: number) => Array.from({ length: count }, (_, i) => orderJson(`${prefix}-${i}`))

function hostPort(url: string): { host: string; port: number } {
  const { hostname, port } = new URL(url)
  return { host: hostname, port: Number(port) }
}
