import { describe, expect, it } from 'vitest'
import { brokerForSuite, close, closeSubscription, connect, publishAll, roundTrip, subscribe, unique, unsubscribe } from './broker.js'

describe('Durable subscriptions', () => {
  const broker = brokerForSuite()

  it('When a durable subscription is closed and opened again, then it resumes after the last acked message', async () => {
    const sc = await connect(broker, unique('durable'))
    const channel = unique('ch')
    const options = () => sc.subscriptionOptions().setDurableName('orders').setDeliverAllAvailable()
    await publishAll(sc, channel, ['1', '2'])
    const first = await subscribe(sc, channel, options())
    await first.count(2)
    await roundTrip(sc) // the auto-acks have reached the server
    await closeSubscription(first)

    await publishAll(sc, channel, ['3', '4'])
    const resumed = await subscribe(sc, channel, options())
    await resumed.count(2)
    expect(resumed.data).toEqual(['3', '4'])
    await close(sc)
  })

  it('When the client closes and connects again with the same ID, then its durable resumes where it was', async () => {
    const id = unique('restart')
    const channel = unique('ch')
    const sc = await connect(broker, id)
    const options = () => sc.subscriptionOptions().setDurableName('orders').setDeliverAllAvailable()
    await publishAll(sc, channel, ['1', '2'])
    const first = await subscribe(sc, channel, options())
    await first.count(2)
    await roundTrip(sc)
    await close(sc)

    const again = await connect(broker, id)
    await publishAll(again, channel, ['3'])
    const resumed = await subscribe(again, channel, again.subscriptionOptions().setDurableName('orders').setDeliverAllAvailable())
    await resumed.count(1)
    await roundTrip(again)
    expect(resumed.data).toEqual(['3'])
    await close(again)
  })

  it('When a durable is resumed with unacked messages, then they are redelivered first, flagged as redelivered', async () => {
    const sc = await connect(broker, unique('unacked'))
    const channel = unique('ch')
    const options = () => sc.subscriptionOptions().setDurableName('d').setDeliverAllAvailable().setManualAckMode(true)
    await publishAll(sc, channel, ['1', '2'])
    const first = await subscribe(sc, channel, options())
    const [m1] = await first.count(2)
    m1!.ack()
    await roundTrip(sc)
    await closeSubscription(first)

    const resumed = await subscribe(sc, channel, options())
    const [again] = await resumed.count(1)
    expect([again!.getData(), again!.isRedelivered()]).toEqual(['2', true])
    await close(sc)
  })

  it('When a durable is unsubscribed, then subscribing again with its name starts afresh', async () => {
    const sc = await connect(broker, unique('unsub'))
    const channel = unique('ch')
    const options = () => sc.subscriptionOptions().setDurableName('d').setDeliverAllAvailable()
    await publishAll(sc, channel, ['1', '2'])
    const first = await subscribe(sc, channel, options())
    await first.count(2)
    await roundTrip(sc)
    await unsubscribe(first)

    const fresh = await subscribe(sc, channel, options())
    await fresh.count(2)
    expect(fresh.data).toEqual(['1', '2'])
    await close(sc)
  })

  it('When the same client opens a durable twice, then the second is refused', async () => {
    const sc = await connect(broker, unique('twice'))
    const channel = unique('ch')
    await subscribe(sc, channel, sc.subscriptionOptions().setDurableName('d'))
    await expect(subscribe(sc, channel, sc.subscriptionOptions().setDurableName('d'))).rejects.toThrow(
      'stan: duplicate durable registration',
    )
    await close(sc)
  })

  it('When two clients use the same durable name, then each has its own durable', async () => {
    const a = await connect(broker, unique('a'))
    const b = await connect(broker, unique('b'))
    const channel = unique('ch')
    await publishAll(a, channel, ['1'])
    const ia = await subscribe(a, channel, a.subscriptionOptions().setDurableName('d').setDeliverAllAvailable())
    const ib = await subscribe(b, channel, b.subscriptionOptions().setDurableName('d').setDeliverAllAvailable())
    await Promise.all([ia.count(1), ib.count(1)])
    expect([ia.data, ib.data]).toEqual([['1'], ['1']])
    await close(a)
    await close(b)
  })
})
