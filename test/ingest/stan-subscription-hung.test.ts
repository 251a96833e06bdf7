import { EventEmitter, once } from 'node:events'
import stan from 'node-nats-streaming'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { startFreezingProxy, type FreezingProxy } from '../../reliability/lib/freezing-proxy.js'
import { openStanSubscription, type StanSubscriptionOptions } from '../../src/ingest/stan-subscription.js'
import type { BrokerSubscription } from '../../src/ingest/transport.js'
import { startStanServer, type StanServer } from '../../src/stan-server/index.js'
import { stanOptions } from './support.js'

/** src/ingest/stan-subscription.ts's pings notice a frozen connection within 8 s (the streaming level; NATS's within 6 s). */
const NOTICED_WITHIN_MS = 8_000
let broker: StanServer
let proxy: FreezingProxy
let subscription: BrokerSubscription | undefined

beforeAll(async () => {
  broker = await startStanServer({ port: 0 })
  proxy = await startFreezingProxy({ port: Number(new URL(broker.url).port) })
})
afterAll(async () => {
  await subscription?.close()
  await proxy?.close()
  await broker?.close()
})

async function publish(channel: string, payload: string): Promise<void> {
  const connection = stan.connect(broker.clusterId, `publisher-${process.pid}-${Date.now()}`, { url: broker.url })
  await once(connection, 'connect')
  await new Promise<void>((resolve, reject) => connection.publish(channel, payload, (error) => (error ? reject(error) : resolve())))
  connection.close()
  await once(connection, 'close')
}

it('When the broker connection stops answering without closing, then it is noticed by pings, replaced, and the durable resumes', { timeout: 60_000 }, async () => {
  const received = new EventEmitter()
  const liveness: boolean[] = []
  subscription = openStanSubscription(
    stanOptions(broker, {
      servers: [`nats://127.0.0.1:${proxy.port}`],
      clientId: 'service-hung',
      channel: 'hung',
      ackWaitMs: 30_000,
      // Subscribed (info), lost (warn): the subscription's liveness as it logs it.
      log: { info: () => void liveness.push(true), warn: () => void liveness.push(false) } as unknown as StanSubscriptionOptions['log'],
    }),
    (message) => {
      message.ack()
      received.emit(message.data.toString())
    },
  )
  const first = once(received, 'before')
  await publish('hung', 'before')
  await first

  proxy.freeze({ newConnections: 'pass' })
  const frozenAt = performance.now()
  const second = once(received, 'after')
  await publish('hung', 'after')
  await second
  const resumedAfterMs = performance.now() - frozenAt

  // Lost (warn), then subscribed again (info) on a fresh connection through the proxy.
  expect(liveness.slice(-2)).toEqual([false, true])
  expect(proxy.acceptedConnections).toBeGreaterThanOrEqual(2)
  expect(subscription.isLive()).toBe(true)
  // Noticed by the pings, then a reconnect and the broker's check that the old client is gone (its heartbeat).
  expect(resumedAfterMs).toBeLessThan(NOTICED_WITHIN_MS + 4_000)
  console.info(`broker connection frozen: the next message arrived after ${Math.round(resumedAfterMs)} ms`)
})
