import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { close, connect, publish, startBroker, subscribe, unique, type Broker, type Stan } from './broker.js'

describe('Refused requests', () => {
  let broker: Broker
  let sc: Stan
  beforeAll(async () => {
    broker = await startBroker()
    sc = await connect(broker, unique('errors'))
  })
  afterAll(async () => {
    await close(sc)
    await broker.close()
  })

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
})
