/**
 * Channel limits with small values, so the real server's behaviour past them shows
 * quickly. Needs its own configured broker, so it runs against the embedded one only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startStanServer, type StanServer } from '../../../src/stan-server/index.js'
import { close, connect, publish, publishAll, roundTrip, subscribe, type Stan } from './broker.js'

const external = (process.env['STAN_URL'] ?? '') !== ''

describe.skipIf(external)('Channel limits', () => {
  let server: StanServer
  let sc: Stan
  beforeAll(async () => {
    server = await startStanServer({ port: 0, limits: { maxChannels: 3, maxMsgs: 3, maxSubscriptions: 2 } })
    sc = await connect(server, 'limits')
  })
  afterAll(async () => {
    await close(sc)
    await server.close()
  })

  it('When a channel passes its message limit, then the oldest messages are dropped and delivery starts at the first kept one', async () => {
    await publishAll(sc, 'msgs', ['1', '2', '3', '4', '5'])
    const inbox = await subscribe(sc, 'msgs', sc.subscriptionOptions().setDeliverAllAvailable())
    const received = await inbox.count(3)
    await roundTrip(sc)
    expect(received.map((m) => [m.getSequence(), String(m.getData())])).toEqual([[3, '3'], [4, '4'], [5, '5']])
  })

  it('When a channel has as many subscriptions as allowed, then one more is refused with the real server\'s error', async () => {
    await subscribe(sc, 'subs', sc.subscriptionOptions())
    await subscribe(sc, 'subs', sc.subscriptionOptions().setDurableName('d'))
    await expect(subscribe(sc, 'subs', sc.subscriptionOptions())).rejects.toThrow('too many subscriptions per channel')
  })

  it('When as many channels exist as allowed, then publishing or subscribing to a new one is refused', async () => {
    await publish(sc, 'third', 'x')
    await expect(publish(sc, 'fourth', 'x')).rejects.toThrow('too many channels')
    await expect(subscribe(sc, 'fifth', sc.subscriptionOptions())).rejects.toThrow('too many channels')
    await publish(sc, 'msgs', 'existing channels still work')
  })
})
