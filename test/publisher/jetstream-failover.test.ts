import { jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { retry } from '../../src/backoff.js'
import { prepareJetStream } from '../../src/ingest/jetstream-subscription.js'
import { EXIT_OK, main } from '../../src/publisher/cli.js'
import { createOrderStore } from '../../src/store/orders.js'
import { withTimeout } from '../../src/timeout.js'
import { nextEvent } from '../support/events.js'
import { jetStreamOptions } from '../support/jetstream.js'
import { startNatsCluster, type TestNats } from '../support/nats-server.js'
import { startTestDatabase, type TestDatabase } from '../support/postgres.js'
import { writerFor } from '../ingest/support.js'

let db: TestDatabase
let cluster: TestNats

// The service's side: a real database and the transport's subscription on an R3 stream of a 3-node cluster.
beforeAll(async () => void ([db, cluster] = await Promise.all([startTestDatabase(), startNatsCluster(3)])), 60_000)
afterAll(() => Promise.all([cluster?.close(), db?.stop()]))

async function streamInfoOnce(stream: string) {
  const nc = await connect({ servers: cluster.urls, timeout: 2_000 })
  try {
    return await (await jetstreamManager(nc, { timeout: 2_000 })).streams.info(stream)
  } finally {
    await nc.close()
  }
}

/** The stream's info once the cluster answers: just after a node comes back, a request may time out while it elects. */
function streamInfo(stream: string) {
  const giveUp = new AbortController()
  const asked = retry(() => streamInfoOnce(stream), { policy: { initialMs: 250, maxMs: 2_000 }, retryable: () => true, signal: giveUp.signal })
  return withTimeout(asked, 30_000, () => {
    giveUp.abort()
    throw new Error(`no stream info for ${stream} within 30 s`)
  })
}

it('When the stream leader is SIGKILLed while bin/publish runs, then it publishes the failed ones again until every message is acked, none given up, the stream holds each once and the service stores every order once', async () => {
  const total = 2_000
  const service = writerFor(db.sql, { maxWaitMs: 5 })
  const ready = await prepareJetStream(jetStreamOptions(cluster.urls, 'publish_failover', { replicas: 3, maxInFlight: 64 }))
  if (!ready.ok) throw new Error(ready.message)
  // 300 delivered to the service: the publisher is well under way (the writer may lag behind the deliveries).
  let delivered = 0
  let underWay: () => void
  const someDelivered = new Promise<void>((resolve) => (underWay = resolve))
  const subscription = ready.open((message) => {
    if (++delivered === 300) underWay()
    service.writer.add(message)
  })
  let stored = 0
  const allStored = nextEvent(service.writer.events, 'committed', (batch) => (stored += batch.stored) >= total)

  let stdout = ''
  let stderr = ''
  // Paced, so that the run is still publishing when the leader goes; 3 s for an ack, so a publish lost with the leader fails soon.
  const run = main(['--broker', 'jetstream', '--url', cluster.urls.join(','), '--subject', 'orders.publish_failover', '--count', String(total), '--rate', '400', '--ack-timeout', '3'], {
    env: {},
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
  })
  await someDelivered
  const leader = (await streamInfo('S_publish_failover')).cluster?.leader
  const victim = cluster.nodes.find((node) => node.name === leader)!
  await victim.kill()
  const code = await run
  await victim.start()

  expect(code, stdout + stderr).toBe(EXIT_OK)
  expect(stdout).toMatch(new RegExp(`acked ${total}, re-published [1-9]\\d*, given up 0,`))
  expect(stdout).not.toMatch(/given up \d+×/)
  // The same Nats-Msg-Id on every publish of a message: the stream dropped the copies it had stored already.
  expect((await streamInfo('S_publish_failover')).state.messages).toBe(total)
  await allStored
  expect(await createOrderStore(db.sql).count()).toBe(total)
  await subscription.close()
  await service.writer.stop()
}, 120_000)
