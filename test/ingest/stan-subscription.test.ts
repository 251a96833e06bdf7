import { afterAll, beforeAll, beforeEach, expect, it, vi } from 'vitest'
import { openStanSubscription } from '../../src/ingest/stan-subscription.js'
import type { BrokerSubscription } from '../../src/ingest/transport.js'
import { createOrderStore } from '../../src/store/orders.js'
import { startStanServer, type StanServer } from '../../src/stan-server/index.js'
import { acks } from '../support/events.js'
import { startTestDatabase, type TestDatabase } from '../support/postgres.js'
import { orderJson, outcomes, publishStan, stanOptions, writerFor } from './support.js'

let db: TestDatabase
let broker: StanServer
const open: BrokerSubscription[] = []

beforeAll(async () => {
  db = await startTestDatabase()
  broker = await startStanServer({ port: 0 })
})
afterAll(async () => {
  for (const subscription of open) await subscription.close()
  await broker?.close()
  await db?.stop()
})
beforeEach(() => db.truncate())

/** The path of the service: subscription → batch writer → PostgreSQL; the acks sent to the broker are recorded. */
function ingest(channel: string, { writer, acked }: ReturnType<typeof writerFor>): BrokerSubscription {
  const subscription = openStanSubscription(
    stanOptions(broker, { clientId: `service-${channel}`, channel }),
    (message) => writer.add({ ...message, ack: () => (acked.push(message.sequence), message.ack()) }),
  )
  open.push(subscription)
  return subscription
}

const publish = (channel: string, payloads: string[]) => publishStan(broker, channel, payloads)

it('When orders are published, then they are stored, acked, and a reopened durable resumes after them', async () => {
  const first = writerFor(db.sql, { maxWaitMs: 5 })
  const subscription = ingest('e2e', first)
  await vi.waitFor(() => expect(subscription.isLive()).toBe(true))
  const fourAcked = acks(first.writer.events, 4)
  await publish('e2e', [orderJson('e1'), orderJson('e2'), '{"order_uid":"e3"}', orderJson('e1')])
  await fourAcked
  await subscription.close()
  await first.writer.stop()
  expect(await outcomes(first.metrics)).toEqual({ stored: 2, duplicate: 1, 'dead_lettered/schema': 1 })

  // Published while the service is away: the durable keeps its place, and acked messages do not come again.
  await publish('e2e', [orderJson('e4')])
  const second = writerFor(db.sql, { maxWaitMs: 5 })
  const resumed = acks(second.writer.events, 1)
  const reopened = ingest('e2e', second)
  await resumed
  await reopened.close()
  await second.writer.stop()
  expect(await outcomes(second.metrics)).toEqual({ stored: 1 })
  expect(await createOrderStore(db.sql).count()).toBe(3)
})

it('When the broker goes away and comes back, then the subscription reconnects by itself and ingests again', async () => {
  const service = writerFor(db.sql, { maxWaitMs: 5 })
  const { writer } = service
  const subscription = ingest('restart', service)
  await vi.waitFor(() => expect(subscription.isLive()).toBe(true))
  const firstAck = acks(writer.events, 1)
  await publish('restart', [orderJson('x1')])
  await firstAck

  const port = broker.port
  await broker.close()
  await vi.waitFor(() => expect(subscription.isLive()).toBe(false))
  broker = await startStanServer({ port })
  await vi.waitFor(() => expect(subscription.isLive()).toBe(true), { timeout: 10_000 })
  const secondAck = acks(writer.events, 1)
  await publish('restart', [orderJson('x2')])
  await secondAck
  await subscription.close()
  await writer.stop()
  expect(await createOrderStore(db.sql).count()).toBe(2)
})
