import { describe, expect, it } from 'vitest'
import { brokerForSuite, clientForSuite, publish, roundTrip, subscribe, unique } from './broker.js'

describe('Refused requests', () => {
  const sc = clientForSuite(brokerForSuite(), 'errors')

  it('When subscribing to a wildcard subject, then the server refuses it as an invalid subject', async () => {
    await expect(subscribe(sc, 'orders.*', sc.subscriptionOptions())).rejects.toThrow('stan: invalid subject')
    await expect(subscribe(sc, 'orders..x', sc.subscriptionOptions())).rejects.toThrow('stan: invalid subject')
  })

  it('When maxInFlight is negative, then the subscription is refused', async () => {
    await expect(subscribe(sc, unique('ch'), sc.subscriptionOptions().setMaxInFlight(-1))).rejects.toThrow(
      'stan: invalid MaxInflight, should be >= 1',
    )
  })

  it('When ackWait is under a second, then the subscription is refused', async () => {
    await expect(subscribe(sc, unique('ch'), sc.subscriptionOptions().setAckWait(-1000))).rejects.toThrow(
      'stan: invalid ack wait time, should be >= 1s',
    )
  })

  it('When publishing to an invalid channel name, then the ack carries the error', async () => {
    await expect(publish(sc, 'orders.*', 'data')).rejects.toThrow('stan: invalid publish request')
  })

  it('When a channel name differs from an existing channel only in case, then publish and subscribe on it are refused with the real server error and nothing is stored', async () => {
    const existing = unique('orders')
    const other = existing.toUpperCase()
    await publish(sc, existing, 'first')
    const refused = `rejecting channel "${other}" because channel "${existing}" alreay exists (different cases not allowed)`
    await expect(publish(sc, other, 'lost')).rejects.toThrow(refused)
    await expect(subscribe(sc, other, sc.subscriptionOptions())).rejects.toThrow(refused)
    // The existing channel is untouched: it holds only its own message.
    const all = await subscribe(sc, existing, sc.subscriptionOptions().setDeliverAllAvailable())
    await all.count(1)
    await roundTrip(sc)
    expect(all.data).toEqual(['first'])
  })
})
