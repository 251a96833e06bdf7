import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { afterAll, beforeAll, expect, it, vi } from 'vitest'
import { startNatsServer } from '../../src/embedded/nats-server.js'
import { prepareJetStream } from '../../src/ingest/jetstream-subscription.js'
import type { BrokerSubscription } from '../../src/ingest/transport.js'
import { createOrderStore } from '../../src/store/orders.js'
import { consumerState, jetStreamOptions, publishJetStream } from '../support/jetstream.js'
import { healthy, startNatsCluster, type TestNats } from '../support/nats-server.js'
import { startTestDatabase, type TestDatabase } from '../support/postgres.js'
import { orderJson, writerFor } from './support.js'

let db: TestDatabase
let cluster: TestNats
const open: BrokerSubscription[] = []

beforeAll(async () => {
  ;[db, cluster] = await Promise.all([startTestDatabase(), startNatsCluster(3)])
}, 60_000)
afterAll(async () => {
  for (const subscription of open) await subscription.close()
  await cluster?.close()
  await db?.stop()
})

/** The stream's leader as the cluster reports it, once it has one. */
async function streamLeader(stream: string): Promise<string | undefined> {
  const nc = await connect({ servers: cluster.urls, timeout: 2_000 })
  try {
    return (await (await jetstreamManager(nc, { timeout: 2_000 })).streams.info(stream)).cluster?.leader
  } catch {
    return undefined
  } finally {
    await nc.close()
  }
}

it('When the servers are down at start-up and then elect a leader, then two instances waiting together both come up on one R3 stream', async () => {
  for (const node of cluster.nodes) await node.stop()
  const options = jetStreamOptions(cluster.urls, 'r3', { replicas: 3 })
  const starting = Promise.all([prepareJetStream(options), prepareJetStream(options)])
  for (const node of cluster.nodes) await node.start()
  const [a, b] = await starting
  expect(a.ok && b.ok).toBe(true)
  if (a.ok) await a.open(() => {}).close()
  if (b.ok) await b.open(() => {}).close()
  const nc = await connect({ servers: cluster.urls })
  const info = await (await jetstreamManager(nc)).streams.info('S_r3')
  expect(info.config.num_replicas).toBe(3)
  expect(info.cluster?.replicas).toHaveLength(2)
  await nc.close()
}, 90_000)

it('When the stream leader is SIGKILLed mid-ingest, then the service fails over to the other nodes and every order is stored once', async () => {
  await Promise.all(cluster.nodes.map((node) => healthy(node.monitorUrl)))
  const service = writerFor(db.sql, { maxWaitMs: 5, channel: 'S_failover' })
  const options = jetStreamOptions(cluster.urls, 'failover', { replicas: 3, maxInFlight: 32 })
  const ready = await prepareJetStream(options)
  if (!ready.ok) throw new Error(ready.message)
  const subscription = ready.open((message) => service.writer.add({ ...message, ack: () => (service.acked.push(message.sequence), message.ack()) }))
  open.push(subscription)

  const first = Array.from({ length: 400 }, (_, i) => orderJson(`f${i}`))
  await publishJetStream(cluster.urls, 'orders.failover', first)
  const leader = await vi.waitUntil(() => streamLeader('S_failover'))
  const victim = cluster.nodes.find((node) => node.name === leader)!
  await victim.kill()
  // A new leader among the two left; then more orders while the old leader is away.
  await vi.waitUntil(async () => {
    const now = await streamLeader('S_failover')
    return now !== undefined && now !== leader
  }, { timeout: 30_000, interval: 200 })
  const second = Array.from({ length: 100 }, (_, i) => orderJson(`g${i}`))
  await publishJetStream(cluster.urls, 'orders.failover', second)
  await victim.start()
  await vi.waitFor(async () => expect(await createOrderStore(db.sql).count()).toBe(500), { timeout: 60_000, interval: 250 })
  await vi.waitFor(async () => {
    const state = await consumerState(cluster.urls, 'S_failover', 'order-service')
    expect(state.num_pending + state.num_ack_pending).toBe(0)
  }, { timeout: 30_000, interval: 250 })
  await subscription.close()
  await service.writer.stop()
}, 120_000)

it('When nats-server is not installed, then starting it says how to get one, in one line', async () => {
  const started = await startNatsServer({ port: 1, storeDir: join(tmpdir(), `nats-missing-${process.pid}`), command: '/nonexistent/nats-server' })
  expect(started).toEqual({ ok: false, code: 'nats_server_missing', message: 'nats-server is not installed: install it with `apt-get install nats-server`, or set NATS_URL' })
})
