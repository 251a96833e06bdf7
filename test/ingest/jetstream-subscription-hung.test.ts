import { EventEmitter, once } from 'node:events'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { startFreezingProxy, type FreezingProxy } from '../../reliability/lib/freezing-proxy.js'
import { PINGS, PULL_EXPIRES_MS } from '../../src/ingest/jetstream-subscription.js'
import type { BrokerSubscription } from '../../src/ingest/transport.js'
import { jetStreamOptions, openJetStream, publishJetStream } from '../support/jetstream.js'
import { startNatsNode, type TestNats } from '../support/nats-server.js'

/** src/ingest/jetstream-subscription.ts's pings notice a frozen connection at the third tick at most. */
const NOTICED_WITHIN_MS = PINGS.pingInterval * (PINGS.maxPingOut + 1)
/** The same server again after 0.5 s (and some jitter), then a consumer lookup and the pull on the fresh connection. */
const RESUMED_WITHIN_MS = NOTICED_WITHIN_MS + 2_000
/** Short here, to keep the test short: what the frozen connection's last pull took comes again after it. */
const ACK_WAIT_MS = 8_000

let nats: TestNats
let proxy: FreezingProxy
let subscription: BrokerSubscription | undefined

beforeAll(async () => {
  nats = await startNatsNode()
  proxy = await startFreezingProxy({ port: Number(new URL(nats.urls[0]!).port) })
})
afterAll(async () => {
  await subscription?.close()
  await proxy?.close()
  await nats?.close()
})

it('When the broker connection stops answering without closing, then pings notice it, it is replaced, and the pull loop resumes', { timeout: 60_000 }, async () => {
  const received = new EventEmitter()
  const arrivals = (payload: string) => once(received, payload).then(() => performance.now() - frozenAt)
  let frozenAt = 0
  subscription = await openJetStream(
    jetStreamOptions([`nats://127.0.0.1:${proxy.port}`], 'hung', { ackWaitMs: ACK_WAIT_MS, pullExpiresMs: PULL_EXPIRES_MS }),
    (message) => {
      message.ack()
      received.emit(message.data.toString())
    },
  )
  const first = once(received, 'before')
  await publishJetStream(nats.urls, 'orders.hung', ['before'])
  await first

  proxy.freeze({ newConnections: 'pass' })
  frozenAt = performance.now()
  // Published at once (straight to the server): most likely handed to the frozen connection's open pull.
  const during = arrivals('during')
  await publishJetStream(nats.urls, 'orders.hung', ['during'])

  await proxy.accepted(2)
  const replacedAfterMs = performance.now() - frozenAt
  const after = arrivals('after')
  await publishJetStream(nats.urls, 'orders.hung', ['after'])
  const afterMs = await after
  const duringMs = await during
  console.info(
    `broker connection frozen: replaced after ${Math.round(replacedAfterMs)} ms; a message published then arrived after ${Math.round(afterMs)} ms; one published at the freeze after ${Math.round(duringMs)} ms (ack wait ${ACK_WAIT_MS} ms)`,
  )

  expect(replacedAfterMs).toBeLessThan(NOTICED_WITHIN_MS + 1_000)
  // The frozen connection's last pull had expired before the replacement: nothing published later goes to it.
  expect(afterMs).toBeLessThan(RESUMED_WITHIN_MS)
  // What it took comes again after the ack wait, from when it was handed over (within one pull's life of the freeze).
  expect(duringMs).toBeLessThan(PULL_EXPIRES_MS + ACK_WAIT_MS + 2_000)
  expect(subscription.isLive()).toBe(true)
})
