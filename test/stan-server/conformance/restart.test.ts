/**
 * Restart of the broker from its file store after kill -9. Needs to own the broker
 * process, so it runs against the embedded one only.
 */
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { restartablePort } from '../../support/ports.js'
import { startBrokerProcess, type BrokerProcess } from '../../support/broker-process.js'
import { close, connect, publish, publishAll, roundTrip, subscribe, unique, type Stan } from './broker.js'

const external = (process.env['STAN_URL'] ?? '') !== ''

describe.skipIf(external)('Restart from the file store', () => {
  let dir: string
  let running: BrokerProcess[] = []
  const start = async (port?: number) => {
    port ??= await restartablePort()
    const broker = await startBrokerProcess(['--port', String(port), '--store', 'file', '--dir', dir])
    running.push(broker)
    return broker
  }
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'stan-restart-'))
  })
  afterEach(async () => {
    await Promise.all(running.map((b) => b.kill('SIGKILL')))
    running = []
    await rm(dir, { recursive: true, force: true })
  })

  it('When the broker is killed with SIGKILL and restarted, then every acknowledged message and the durable position survive, and the client resumes under its ID', async () => {
    const first = await start()
    const id = unique('svc')
    const channel = unique('orders')
    const sc = await connect(first, id)
    sc.on('error', () => {}) // the broker is about to vanish under it
    const sent = Array.from({ length: 10 }, (_, i) => String(i + 1))
    await publishAll(sc, channel, sent)
    const options = (c: Stan) => c.subscriptionOptions().setDurableName('d').setDeliverAllAvailable().setManualAckMode(true)
    const before = await subscribe(sc, channel, options(sc))
    const received = await before.count(10)
    for (const m of received.slice(0, 6)) m.ack()
    // Acks travel ahead of this publish on the same connection, so its PubAck covers them too.
    await publish(sc, channel, '11')
    await before.count(11)

    await first.kill('SIGKILL')
    const second = await start(first.port)
    const again = await connect(second, id)
    const resumed = await subscribe(again, channel, options(again))
    const redelivered = await resumed.count(5)
    await roundTrip(again)
    expect(resumed.data).toEqual(['7', '8', '9', '10', '11'])
    expect(redelivered.every((m) => m.isRedelivered())).toBe(true)

    const all = await subscribe(again, channel, again.subscriptionOptions().setDeliverAllAvailable())
    const replay = await all.count(11)
    expect(replay.map((m) => [m.getSequence(), String(m.getData())])).toEqual([...sent, '11'].map((d, i) => [i + 1, d]))
    await close(again)
  })

  it('When the broker restarts under a connected client, then an unacknowledged message is redelivered once one ack wait after it was published, with redelivery count 1', async () => {
    // Long enough for the broker to start again and the client to reconnect before the message expires.
    const ackWaitMs = 6000
    const first = await start()
    const channel = unique('ch')
    const sc = await connect(first, unique('unacked'), { reconnect: true, reconnectTimeWait: 50, maxReconnectAttempts: -1 })
    const options = sc.subscriptionOptions().setDurableName('d').setManualAckMode(true).setAckWait(ackWaitMs)
    const inbox = await subscribe(sc, channel, options)
    await publish(sc, channel, 'not acked')
    const [delivered] = await inbox.count(1)
    // A PubAck comes after the store's next commit, which also writes that the message is pending on the subscription.
    await publish(sc, unique('other'), 'commit')

    await first.kill('SIGKILL')
    const reconnected = once(sc, 'reconnect')
    const second = await start(first.port)
    await reconnected
    const [, again] = await inbox.count(2)
    const arrivedAt = Date.now()
    expect(String(again!.getData())).toBe('not acked')
    expect(again!.isRedelivered()).toBe(true)
    // The copy sent before the client was back would have made this 2, as the broker did when recovered messages were due at once.
    expect(again!.getRedeliveryCount()).toBe(1)
    expect(arrivedAt).toBeGreaterThanOrEqual(delivered!.getTimestamp().getTime() + ackWaitMs - 15)
    again!.ack()
    await roundTrip(sc)
    expect(inbox.messages).toHaveLength(2)
    await close(sc)
    await second.kill('SIGTERM')
  })

  it('When the broker restarts under a connected client, then the client reconnects and keeps publishing and receiving on its subscription', async () => {
    const first = await start()
    const channel = unique('ch')
    const sc = await connect(first, unique('live'), { reconnect: true, reconnectTimeWait: 50, maxReconnectAttempts: -1 })
    const inbox = await subscribe(sc, channel, sc.subscriptionOptions())
    await publish(sc, channel, 'before')
    await inbox.count(1)

    await first.kill('SIGKILL')
    const reconnected = once(sc, 'reconnect')
    const second = await start(first.port)
    await reconnected
    await publish(sc, channel, 'after')
    await inbox.count(2)
    expect(inbox.data).toEqual(['before', 'after'])
    await close(sc)
    await second.kill('SIGTERM')
  })
})
