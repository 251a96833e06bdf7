import stan from 'node-nats-streaming'
import { afterAll, beforeAll, expect, it, vi } from 'vitest'
import { openStanSubscription } from '../../src/ingest/stan-subscription.js'
import { startTestDatabase, type TestDatabase } from '../support/postgres.js'
import { stanFeatures, stanServer } from './brokers.js'
import { orderJson, outcomes, stanOptions, writerFor } from './support.js'
import { singleServerContract } from './transport-contract.js'

let db: TestDatabase
let broker: Awaited<ReturnType<typeof stanServer>>

beforeAll(async () => {
  ;[db, broker] = await Promise.all([startTestDatabase(), stanServer()])
})
afterAll(async () => {
  await broker?.close()
  await db?.stop()
})

singleServerContract('NATS Streaming', stanFeatures, () => ({ db, broker }))

it('When upgrading from a single plain durable with unacked messages, then the new group ingests them all and the old durable is removed', async () => {
  const channel = 'upgrade'
  // The single-instance version: plain durable 'order-service' under client id 'order-service', stopped while
  // holding 10 messages it never acked.
  const legacy = await connectAs('order-service')
  const old = legacy.subscribe(channel, legacy.subscriptionOptions().setDeliverAllAvailable().setDurableName('order-service').setManualAckMode(true))
  await new Promise((resolve) => old.once('ready', resolve))
  const delivered = new Promise<void>((resolve) => old.on('message', (message: { getSequence(): number }) => message.getSequence() === 10 && resolve()))
  await broker.publish(channel, Array.from({ length: 10 }, (_, i) => orderJson(`upgrade-${i}`)))
  await delivered
  await new Promise<void>((resolve) => {
    legacy.once('close', () => resolve())
    legacy.close()
  })

  const service = writerFor(db.sql, { maxWaitMs: 5 })
  const subscription = openStanSubscription(
    stanOptions(broker.stan(), { channel, clientId: 'order-service-web-1-8000', queueGroup: 'order-service', retireDurableOf: 'order-service' }),
    (message) => service.writer.add({ ...message, ack: () => (service.acked.push(message.sequence), message.ack()) }),
  )
  await vi.waitFor(() => expect(new Set(service.acked).size).toBe(10), { timeout: 10_000 })
  await subscription.close()
  await service.writer.stop()
  expect(await outcomes(service.metrics)).toEqual({ stored: 10 })

  // Reopened, the old durable would redeliver its 10 first; removed, a new durable starts at the next message.
  const check = await connectAs('order-service')
  let published: Promise<unknown> | undefined
  const first = new Promise<number>((resolve) => {
    const reopened = check.subscribe(channel, check.subscriptionOptions().setDurableName('order-service').setManualAckMode(true))
    reopened.on('message', (message: { getSequence(): number }) => resolve(message.getSequence()))
    reopened.once('ready', () => (published = broker.publish(channel, [orderJson('after-upgrade')])))
  })
  expect(await first).toBe(11)
  await published
  check.close()
})

function connectAs(clientId: string): Promise<stan.Stan> {
  return new Promise((resolve, reject) => {
    const connection = stan.connect(broker.stan().clusterId, clientId, { url: broker.stan().url })
    connection.once('connect', () => resolve(connection))
    connection.once('error', reject)
  })
}
