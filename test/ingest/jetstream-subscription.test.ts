import { AckPolicy, DeliverPolicy, jetstreamManager, StorageType } from '@nats-io/jetstream'
import { connect, nanos } from '@nats-io/transport-node'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { prepareJetStream, PULL_GRACE_MS, subjectMatches } from '../../src/ingest/jetstream-subscription.js'
import type { BrokerMessage, BrokerSubscription } from '../../src/ingest/transport.js'
import { startTestDatabase, type TestDatabase } from '../support/postgres.js'
import { jetStreamOptions, openJetStream, publishJetStream, publishSteadily } from '../support/jetstream.js'
import { jetStreamFeatures, jetStreamServer } from './brokers.js'
import { orderJson } from './support.js'
import { singleServerContract } from './transport-contract.js'

let db: TestDatabase
let broker: Awaited<ReturnType<typeof jetStreamServer>>
const open: BrokerSubscription[] = []

beforeAll(async () => {
  ;[db, broker] = await Promise.all([startTestDatabase(), jetStreamServer()])
})
afterAll(async () => {
  for (const subscription of open) await subscription.close()
  await broker?.nats.close()
  await db?.stop()
})

singleServerContract('JetStream', jetStreamFeatures, () => ({ db, broker }))

const options = (name: string, overrides: Parameters<typeof jetStreamOptions>[2] = {}) => jetStreamOptions(broker.urls, name, overrides)

const manager = async () => {
  const nc = await connect({ servers: [...broker.urls] })
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

describe('pulls', () => {
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
    const published = await publishSteadily(broker.urls, 'orders.steady', 12_000)
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
    await publishJetStream(broker.urls, 'orders.busy', [orderJson('busy-1')])
    await vi.waitFor(() => expect(deliveries).toHaveLength(1))
    for (const end = performance.now() + 2_500; performance.now() < end; );
    await publishJetStream(broker.urls, 'orders.busy', [orderJson('busy-2')])
    await vi.waitFor(() => expect(deliveries).toHaveLength(2))
    expect(failures).toEqual([])
    expect(subscription.isLive()).toBe(true)
  })
})
