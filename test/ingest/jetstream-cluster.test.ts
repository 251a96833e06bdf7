import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { startNatsServer } from '../../src/embedded/nats-server.js'
import { prepareJetStream } from '../../src/ingest/jetstream-subscription.js'
import { jetStreamOptions } from '../support/jetstream.js'
import { startTestDatabase, type TestDatabase } from '../support/postgres.js'
import { jetStreamCluster, jetStreamFeatures } from './brokers.js'
import { clusterContract } from './transport-contract.js'

let db: TestDatabase
let broker: Awaited<ReturnType<typeof jetStreamCluster>>

beforeAll(async () => {
  ;[db, broker] = await Promise.all([startTestDatabase(), jetStreamCluster()])
}, 60_000)
afterAll(async () => {
  await broker?.nats.close()
  await db?.stop()
})

clusterContract('JetStream', jetStreamFeatures, () => ({ db, broker }))

it('When the servers are down at start-up and then elect a leader, then two instances waiting together both come up on one R3 stream', async () => {
  for (const node of broker.nats.nodes) await node.stop()
  const options = jetStreamOptions(broker.nats.urls, 'r3', { replicas: 3 })
  const starting = Promise.all([prepareJetStream(options), prepareJetStream(options)])
  for (const node of broker.nats.nodes) await node.start()
  const [a, b] = await starting
  expect(a.ok && b.ok).toBe(true)
  if (a.ok) await a.open(() => {}).close()
  if (b.ok) await b.open(() => {}).close()
  const nc = await connect({ servers: broker.nats.urls })
  const info = await (await jetstreamManager(nc)).streams.info('S_r3')
  expect(info.config.num_replicas).toBe(3)
  expect(info.cluster?.replicas).toHaveLength(2)
  await nc.close()
}, 90_000)

it('When nats-server is not installed, then starting it says how to get one, in one line', async () => {
  const started = await startNatsServer({ port: 1, storeDir: join(tmpdir(), `nats-missing-${process.pid}`), command: '/nonexistent/nats-server' })
  expect(started).toEqual({ ok: false, code: 'nats_server_missing', message: 'nats-server is not installed: install it with `apt-get install nats-server`, or set NATS_URL' })
})
