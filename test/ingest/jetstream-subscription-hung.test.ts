import { EventEmitter, once } from 'node:events'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { startFreezingProxy, type FreezingProxy } from '../../reliability/lib/freezing-proxy.js'
import { CONNECT_TIMEOUT_MS, PINGS, PULL_EXPIRES_MS, type JetStreamOptions } from '../../src/ingest/jetstream-subscription.js'
import type { BrokerSubscription } from '../../src/ingest/transport.js'
import { jetStreamOptions, openJetStream, publishJetStream } from '../support/jetstream.js'
import { startNatsCluster, startNatsNode, type TestNats } from '../support/nats-server.js'

/** src/ingest/jetstream-subscription.ts's pings notice a frozen connection at the third tick at most. */
const NOTICED_WITHIN_MS = PINGS.pingInterval * (PINGS.maxPingOut + 1)
/** The same server again after 0.5 s (and some jitter), then a consumer lookup and the pull on the fresh connection. */
const RESUMED_WITHIN_MS = NOTICED_WITHIN_MS + 2_000
/** The client tries the frozen server again first, and gives up on it after the connect timeout. */
const FAILED_OVER_WITHIN_MS = NOTICED_WITHIN_MS + CONNECT_TIMEOUT_MS + 1_000
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

/**
 * The subscription through `servers` (the proxies), acking each message and emitting its payload; resolves once a
 * first message published straight to `direct` came through.
 */
async function flowing(servers: string[], direct: readonly string[], name: string, log?: JetStreamOptions['log']) {
  const received = new EventEmitter()
  const subscription = await openJetStream(
    jetStreamOptions(servers, name, { ackWaitMs: ACK_WAIT_MS, pullExpiresMs: PULL_EXPIRES_MS, ...(log === undefined ? {} : { log }) }),
    (message) => {
      message.ack()
      received.emit(message.data.toString())
    },
  )
  const first = once(received, 'before')
  await publishJetStream(direct, `orders.${name}`, ['before'])
  await first
  return { subscription, received }
}

it('When the broker connection stops answering without closing, then pings notice it, it is replaced, and the pull loop resumes', { timeout: 60_000 }, async () => {
  let frozenAt = 0
  const opened = await flowing([`nats://127.0.0.1:${proxy.port}`], nats.urls, 'hung')
  subscription = opened.subscription
  const arrivals = (payload: string) => once(opened.received, payload).then(() => performance.now() - frozenAt)

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

it('When the server list names other servers, then a frozen connection is replaced by one to another server and the pull loop resumes there', { timeout: 90_000 }, async () => {
  const cluster = await startNatsCluster(3)
  const proxies = await Promise.all(cluster.urls.map((url) => startFreezingProxy({ port: Number(new URL(url).port) })))
  const through = proxies.map((each) => `nats://127.0.0.1:${each.port}`)
  /** What the subscription logs, by message: awaited as events. */
  const logged = new EventEmitter()
  const log = (first: unknown, second?: unknown) => void logged.emit(typeof first === 'string' ? first : String(second), first)
  let failover: BrokerSubscription | undefined
  try {
    const opened = await flowing(through, cluster.urls, 'failover', { info: log, warn: log } as JetStreamOptions['log'])
    failover = opened.subscription
    const received = opened.received
    const used = proxies.findIndex((each) => each.openConnections > 0)
    expect(used).toBeGreaterThanOrEqual(0)

    // The server it uses stops answering, and so does any new connection to it: only the others can take over.
    proxies[used]!.freeze({ newConnections: 'freeze' })
    const frozenAt = performance.now()
    const reconnected = once(logged, 'JetStream connected again').then(([fields]) => ({ ms: performance.now() - frozenAt, server: (fields as { server: string }).server }))
    const during = once(received, 'during').then(() => performance.now() - frozenAt)
    await publishJetStream(cluster.urls, 'orders.failover', ['during'])
    const { ms: replacedAfterMs, server } = await reconnected
    const after = once(received, 'after').then(() => performance.now() - frozenAt)
    await publishJetStream(cluster.urls, 'orders.failover', ['after'])
    const afterMs = await after
    const duringMs = await during
    console.info(
      `broker connection frozen (3 servers, proxies ${proxies.map((each) => each.port).join(' ')}, ${proxies[used]!.port} frozen): connected again to ${server} after ${Math.round(replacedAfterMs)} ms; a message published then arrived after ${Math.round(afterMs)} ms; one published at the freeze after ${Math.round(duringMs)} ms`,
    )

    expect(server).not.toContain(`:${proxies[used]!.port}`)
    expect(replacedAfterMs).toBeLessThan(FAILED_OVER_WITHIN_MS)
    expect(afterMs - replacedAfterMs).toBeLessThan(RESUMED_WITHIN_MS - NOTICED_WITHIN_MS)
    // Handed to the frozen pull, it comes again after the ack wait, or once a connection is there to take it.
    expect(duringMs).toBeLessThan(Math.max(FAILED_OVER_WITHIN_MS, PULL_EXPIRES_MS + ACK_WAIT_MS) + 2_000)
    expect(failover.isLive()).toBe(true)
  } finally {
    await failover?.close()
    for (const each of proxies) await each.close()
    await cluster.close()
  }
})
