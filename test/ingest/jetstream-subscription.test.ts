import { AckPolicy, DeliverPolicy, jetstreamManager, StorageType } from '@nats-io/jetstream'
import { connect, nanos } from '@nats-io/transport-node'
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { prepareJetStream, PULL_GRACE_MS, subjectMatches } from '../../src/ingest/jetstream-subscription.js'
import type { BrokerMessage, BrokerSubscription } from '../../src/ingest/transport.js'
import { createOrderStore } from '../../src/store/orders.js'
import { startNatsNode, type TestNats } from '../support/nats-server.js'
import { startTestDatabase, type TestDatabase } from '../support/postgres.js'
import { consumerState, jetStreamOptions, openJetStream, publishJetStream, publishSteadily } from '../support/jetstream.js'
import { orderJson, outcomes, writerFor } from './support.js'

let db: TestDatabase
let nats: TestNats
const open: BrokerSubscription[] = []

beforeAll(async () => {
  ;[db, nats] = await Promise.all([startTestDatabase(), startNatsNode()])
})
afterAll(async () => {
  for (const subscription of open) await subscription.close()
  await nats?.close()
  await db?.stop()
})
beforeEach(() => db.truncate())

const options = (name: string, overrides: Parameters<typeof jetStreamOptions>[2] = {}) => jetStreamOptions(nats.urls, name, overrides)

/** subscription → batch writer (dead letters under the stream's name) → PostgreSQL; acks recorded by stream sequence. */
async function ingest(name: string, service: ReturnType<typeof writerFor>, overrides: Parameters<typeof jetStreamOptions>[2] = {}) {
  const subscription = await openJetStream(options(name, overrides), (message) =>
    service.writer.add({ ...message, ack: () => (service.acked.push(message.sequence), message.ack()) }),
  )
  open.push(subscription)
  return subscription
}

const manager = async () => {
  const nc = await connect({ servers: nats.urls })
  return { nc, jsm: await jetstreamManager(nc) }
}

describe('stream and consumer at start-up', () => {
  it('When the stream is missing, then it is created with file storage, the subject and the replicas; a second start binds to it unchanged', async () => {
    const first = await prepareJetStream(options('create'))
    expect(first.ok).toBe(true)
    const { nc, jsm } = await manager()
    const created = await jsm.streams.info('S_create')
    expect(created.config).toMatchObject({ subjects: ['orders.create'], storage: StorageType.File, num_replicas: 1, duplicate_window: nanos(120_000) })
    const consumer = await jsm.consumers.info('S_create', 'order-service')
    expect(consumer.config).toMatchObject({ ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All, max_deliver: -1, filter_subject: 'orders.create' })

    const again = await prepareJetStream(options('create', { duplicateWindowMs: 5_000 }))
    expect(again.ok).toBe(true)
    expect((await jsm.streams.info('S_create')).config.duplicate_window).toBe(nanos(120_000))
    if (first.ok) await first.open(() => {}).close()
    if (again.ok) await again.open(() => {}).close()
    await nc.close()
  })

  it('When an existing stream takes other subjects, then start-up fails with a problem naming both', async () => {
    const { nc, jsm } = await manager()
    await jsm.streams.add({ name: 'S_other', subjects: ['elsewhere.>'] })
    const ready = await prepareJetStream(options('other', { subject: 'wild.other' }))
    expect(ready).toMatchObject({ ok: false, code: 'stream_subjects_mismatch' })
    expect(!ready.ok && ready.message).toContain('elsewhere.>')
    expect(!ready.ok && ready.message).toContain('wild.other')
    // A wildcard that covers the subject is fine, and the stream is used as it is.
    await jsm.streams.update('S_other', { subjects: ['elsewhere.>', 'wild.*'] })
    const bound = await prepareJetStream(options('other', { subject: 'wild.other' }))
    expect(bound.ok).toBe(true)
    if (bound.ok) await bound.open(() => {}).close()
    expect((await jsm.streams.info('S_other')).config.subjects).toEqual(['elsewhere.>', 'wild.*'])
    await nc.close()
  })

  it('When the consumer exists with another ack wait, then it is updated; with another deliver policy, start-up fails', async () => {
    const { nc, jsm } = await manager()
    await jsm.streams.add({ name: 'S_consumer', subjects: ['orders.consumer'] })
    await jsm.consumers.add('S_consumer', { durable_name: 'order-service', ack_policy: AckPolicy.Explicit, filter_subject: 'orders.consumer', ack_wait: nanos(90_000), max_ack_pending: 5 })
    const updated = await prepareJetStream(options('consumer', { ackWaitMs: 7_000 }))
    expect(updated.ok).toBe(true)
    if (updated.ok) await updated.open(() => {}).close()
    expect((await jsm.consumers.info('S_consumer', 'order-service')).config).toMatchObject({ ack_wait: nanos(7_000), max_ack_pending: 10_000, max_deliver: -1 })

    await jsm.consumers.add('S_consumer', { durable_name: 'latecomer', ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.New })
    const ready = await prepareJetStream(options('consumer', { consumer: 'latecomer' }))
    expect(ready).toMatchObject({ ok: false, code: 'consumer_mismatch' })
    expect(!ready.ok && ready.message).toContain('deliver policy new')
    await nc.close()
  })

  it('When two instances start at the same moment on a fresh server, then both come up on one stream and one consumer', async () => {
    const [a, b] = await Promise.all([prepareJetStream(options('race')), prepareJetStream(options('race'))])
    expect(a.ok && b.ok).toBe(true)
    const { nc, jsm } = await manager()
    expect((await jsm.consumers.list('S_race').next()).map((consumer) => consumer.name)).toEqual(['order-service'])
    if (a.ok) await a.open(() => {}).close()
    if (b.ok) await b.open(() => {}).close()
    await nc.close()
  })

  it('Should match stream subjects with wildcards as the server does', () => {
    expect(subjectMatches('orders', 'orders')).toBe(true)
    expect(subjectMatches('orders.*', 'orders.eu')).toBe(true)
    expect(subjectMatches('orders.>', 'orders.eu.x')).toBe(true)
    expect(subjectMatches('>', 'orders')).toBe(true)
    expect(subjectMatches('orders.>', 'orders')).toBe(false)
    expect(subjectMatches('orders.*', 'orders.eu.x')).toBe(false)
    expect(subjectMatches('orders', 'orders.eu')).toBe(false)
  })
})

describe('ingest on JetStream', () => {
  it('When orders are published, then they are stored and acked after commit, and a reopened consumer resumes after them', async () => {
    const first = writerFor(db.sql, { maxWaitMs: 5, channel: 'S_e2e' })
    const subscription = await ingest('e2e', first)
    await vi.waitFor(() => expect(subscription.isLive()).toBe(true))
    const sequences = await publishJetStream(nats.urls, 'orders.e2e', [orderJson('j1'), orderJson('j2'), '{"order_uid":"j3"}', orderJson('j1')])
    await vi.waitFor(() => expect(first.acked).toHaveLength(4))
    expect(first.acked.sort()).toEqual(sequences)
    await subscription.close()
    await first.writer.stop()
    expect(await outcomes(first.metrics)).toEqual({ stored: 2, duplicate: 1, 'dead_lettered/schema': 1 })
    // Dead letters name the stream and its sequence.
    expect(await db.sql`select channel, broker_seq::int as seq from dead_letters`).toEqual([{ channel: 'S_e2e', seq: sequences[2] }])
    expect((await consumerState(nats.urls, 'S_e2e', 'order-service')).num_ack_pending).toBe(0)

    // Published while the service is away: the durable keeps its place, and acked messages do not come again.
    await publishJetStream(nats.urls, 'orders.e2e', [orderJson('j4')])
    const second = writerFor(db.sql, { maxWaitMs: 5, channel: 'S_e2e' })
    const reopened = await ingest('e2e', second)
    await vi.waitFor(() => expect(second.acked).toHaveLength(1))
    await reopened.close()
    await second.writer.stop()
    expect(await outcomes(second.metrics)).toEqual({ stored: 1 })
    expect(await createOrderStore(db.sql).count()).toBe(3)
    const state = await consumerState(nats.urls, 'S_e2e', 'order-service')
    expect(state.num_pending + state.num_ack_pending).toBe(0)
  })

  it('When messages keep coming across many pulls, then delivery never pauses: a pull the server drops unsaid at its expiry is made again', async () => {
    // nats-server 2.9.10 ends a pull that expires while delivering without its 408, about one pull in six here;
    // waiting for the missed heartbeats instead paused delivery 1 to 1.5 s (1 s pulls), see PULL_GRACE_MS.
    let received = 0
    let last = performance.now()
    const pauses: number[] = []
    const subscription = await openJetStream(options('steady', { pullExpiresMs: 1_000, maxInFlight: 65_536 }), (message) => {
      const now = performance.now()
      if (now - last > PULL_GRACE_MS * 3) pauses.push(Math.round(now - last))
      last = now
      received++
      message.ack()
    })
    open.push(subscription)
    last = performance.now()
    const published = await publishSteadily(nats.urls, 'orders.steady', 12_000)
    await vi.waitFor(() => expect(received).toBe(published))
    expect(pauses).toEqual([])
    await subscription.close()
  })

  it('When the process is too busy to read past a pull\'s expiry, then the pull still ends on the server\'s answer waiting on the socket: no failed pull, still live', async () => {
    const failures: string[] = []
    const log = { info: () => {}, warn: (_: unknown, message?: string) => void failures.push(message ?? '') }
    const deliveries: BrokerMessage[] = []
    // One message a pull: the pull after a delivery is open at once, and idle, so it ends with its 408 at its expiry.
    const subscription = await openJetStream(options('busy', { pullExpiresMs: 1_000, maxInFlight: 1, log }), (message) => (deliveries.push(message), message.ack()))
    open.push(subscription)
    // Blocked from the first delivery on, the next pull's expiry and grace pass while its 408 waits unread.
    await publishJetStream(nats.urls, 'orders.busy', [orderJson('busy-1')])
    await vi.waitFor(() => expect(deliveries).toHaveLength(1))
    for (const end = performance.now() + 2_500; performance.now() < end; );
    await publishJetStream(nats.urls, 'orders.busy', [orderJson('busy-2')])
    await vi.waitFor(() => expect(deliveries).toHaveLength(2))
    expect(failures).toEqual([])
    expect(subscription.isLive()).toBe(true)
  })

  it('When a delivery is not acked within the ack wait, then the server delivers it again, marked redelivered, same sequence', async () => {
    const deliveries: BrokerMessage[] = []
    const subscription = await openJetStream(options('redeliver', { ackWaitMs: 1_000 }), (message) => deliveries.push(message))
    open.push(subscription)
    const [sequence] = await publishJetStream(nats.urls, 'orders.redeliver', [orderJson('r1')])
    await vi.waitFor(() => expect(deliveries).toHaveLength(2), { timeout: 10_000 })
    expect(deliveries.map((message) => [message.sequence, message.redelivered])).toEqual([
      [sequence, false],
      [sequence, true],
    ])
    deliveries[1]!.ack()
    await vi.waitFor(async () => expect((await consumerState(nats.urls, 'S_redeliver', 'order-service')).num_ack_pending).toBe(0))
    await subscription.close()
  })

  it('When a subscription closes holding unacked messages, then they are handed back at once, not after the ack wait', async () => {
    const first: BrokerMessage[] = []
    const closing = await openJetStream(options('handback', { ackWaitMs: 60_000 }), (message) => first.push(message))
    await publishJetStream(nats.urls, 'orders.handback', [orderJson('h1')])
    await vi.waitFor(() => expect(first).toHaveLength(1))
    await closing.close()
    const second: BrokerMessage[] = []
    const next = await openJetStream(options('handback', { ackWaitMs: 60_000 }), (message) => second.push(message))
    open.push(next)
    // Within seconds, while the ack wait is a minute: handed back, not timed out.
    await vi.waitFor(() => expect(second).toHaveLength(1), { timeout: 5_000 })
    expect(second[0]!.sequence).toBe(first[0]!.sequence)
    second[0]!.ack()
  })

  it('When the service holds maxInFlight unacked messages, then it pulls no more until it acks', async () => {
    const deliveries: BrokerMessage[] = []
    const subscription = await openJetStream(options('bound', { maxInFlight: 8 }), (message) => deliveries.push(message))
    open.push(subscription)
    await publishJetStream(nats.urls, 'orders.bound', Array.from({ length: 20 }, (_, i) => orderJson(`b${i}`)))
    await vi.waitFor(async () => {
      const state = await consumerState(nats.urls, 'S_bound', 'order-service')
      expect([state.num_ack_pending, state.num_pending]).toEqual([8, 12])
    })
    expect(deliveries).toHaveLength(8)
    for (const message of deliveries.splice(0)) message.ack()
    await vi.waitFor(() => expect(deliveries).toHaveLength(8))
    for (const message of deliveries.splice(0)) message.ack()
    await vi.waitFor(() => expect(deliveries).toHaveLength(4))
    for (const message of deliveries.splice(0)) message.ack()
    await subscription.close()
  })

  it('When two instances share the consumer, then they split the messages and every order is stored once', async () => {
    const a = writerFor(db.sql, { maxWaitMs: 5, channel: 'S_shared' })
    const b = writerFor(db.sql, { maxWaitMs: 5, channel: 'S_shared' })
    await Promise.all([ingest('shared', a, { maxInFlight: 16 }), ingest('shared', b, { maxInFlight: 16 })])
    await publishJetStream(nats.urls, 'orders.shared', Array.from({ length: 300 }, (_, i) => orderJson(`s${i}`)))
    await vi.waitFor(() => expect(a.acked.length + b.acked.length).toBe(300), { timeout: 20_000 })
    expect(a.acked.length).toBeGreaterThan(0)
    expect(b.acked.length).toBeGreaterThan(0)
    expect(new Set([...a.acked, ...b.acked]).size).toBe(300)
    await a.writer.stop()
    await b.writer.stop()
    expect(await createOrderStore(db.sql).count()).toBe(300)
  })

  it('When the server restarts, then the pull loop carries on by itself and ingests again', async () => {
    const service = writerFor(db.sql, { maxWaitMs: 5, channel: 'S_restart' })
    const subscription = await ingest('restart', service)
    await publishJetStream(nats.urls, 'orders.restart', [orderJson('x1')])
    await vi.waitFor(() => expect(service.acked).toHaveLength(1))
    await nats.nodes[0]!.kill()
    await vi.waitFor(() => expect(subscription.isLive()).toBe(false))
    await nats.nodes[0]!.start()
    const [later] = await publishJetStream(nats.urls, 'orders.restart', [orderJson('x2')])
    // A SIGKILL can lose the server's record of the last acks: those messages come again and are absorbed as duplicates.
    await vi.waitFor(() => expect(service.acked).toContain(later), { timeout: 20_000 })
    expect(subscription.isLive()).toBe(true)
    await subscription.close()
    await service.writer.stop()
    expect(await createOrderStore(db.sql).count()).toBe(2)
  })
})
