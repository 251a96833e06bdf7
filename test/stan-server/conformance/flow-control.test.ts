import { describe, expect, it } from 'vitest'
import { brokerForSuite, clientForSuite, close, connect, publishAll, roundTrip, subscribe, totalReceived, unique, type Stan } from './broker.js'

describe('Acks, maxInFlight and redelivery', () => {
  const broker = brokerForSuite()
  const sc = clientForSuite(broker, 'flow')

  it('When maxInFlight messages are unacked, then no more are sent until one is acked', async () => {
    const channel = unique('ch')
    await publishAll(sc, channel, ['1', '2', '3', '4', '5'])
    const inbox = await subscribe(sc, channel, sc.subscriptionOptions().setDeliverAllAvailable().setManualAckMode(true).setMaxInFlight(2))
    await inbox.count(2)
    await roundTrip(sc)
    expect(inbox.data).toEqual(['1', '2'])

    inbox.messages[0]!.ack()
    await inbox.count(3)
    await roundTrip(sc)
    expect(inbox.data).toEqual(['1', '2', '3'])

    inbox.messages[1]!.ack()
    inbox.messages[2]!.ack()
    await inbox.count(5)
    expect(inbox.data).toEqual(['1', '2', '3', '4', '5'])
  })

  it('When a message is not acked within ackWait, then it is redelivered with the redelivered flag and count, and acked ones are not', async () => {
    const channel = unique('ch')
    await publishAll(sc, channel, ['acked', 'unacked'])
    const inbox = await subscribe(sc, channel, sc.subscriptionOptions().setDeliverAllAvailable().setManualAckMode(true).setAckWait(1000))
    const [first] = await inbox.count(2)
    first!.ack()

    const [, , redelivered] = await inbox.count(3)
    expect([redelivered!.getData(), redelivered!.getSequence(), redelivered!.isRedelivered(), redelivered!.getRedeliveryCount()]).toEqual([
      'unacked', 2, true, 1,
    ])
    redelivered!.ack()
    await roundTrip(sc)
    expect(inbox.data).toEqual(['acked', 'unacked', 'unacked'])
  })

  it('When a redelivered message is still not acked, then the redelivery count grows', async () => {
    const channel = unique('ch')
    await publishAll(sc, channel, ['x'])
    const inbox = await subscribe(sc, channel, sc.subscriptionOptions().setDeliverAllAvailable().setManualAckMode(true).setAckWait(1000))
    const messages = await inbox.count(3)
    expect(messages.map((m) => [m.isRedelivered(), m.getRedeliveryCount()])).toEqual([[false, 0], [true, 1], [true, 2]])
    messages[2]!.ack()
  })

  it('When a queue member leaves with unacked messages, then another member gets them as redeliveries', async () => {
    const channel = unique('ch')
    const other = await connect(broker, unique('member'))
    const options = (c: Stan) => c.subscriptionOptions().setManualAckMode(true).setMaxInFlight(1).setAckWait(30_000)
    const leaving = await subscribe(sc, channel, options(sc), 'group')
    await publishAll(sc, channel, ['1'])
    await leaving.count(1)
    const staying = await subscribe(other, channel, options(other), 'group')
    await new Promise<void>((resolve) => {
      leaving.subscription.once('closed', () => resolve())
      leaving.subscription.close()
    })
    const [m] = await staying.count(1)
    expect([m!.getData(), m!.isRedelivered()]).toEqual(['1', true])
    m!.ack()
    await close(other)
  })

  it('When messages are auto-acked, then a large burst is delivered once each', async () => {
    const channel = unique('ch')
    const inbox = await subscribe(sc, channel, sc.subscriptionOptions().setMaxInFlight(10).setAckWait(1000))
    const data = Array.from({ length: 200 }, (_, i) => `m${i}`)
    await Promise.all(data.map((d) => new Promise<void>((resolve, reject) => sc.publish(channel, d, (err) => (err ? reject(err) : resolve())))))
    await totalReceived([inbox], 200)
    await roundTrip(sc)
    expect(inbox.messages.map((m) => m.getSequence())).toEqual(data.map((_, i) => i + 1))
  })
})
