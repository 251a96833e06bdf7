import { describe, expect, it } from 'vitest'
import { brokerForSuite, clientForSuite, publish, publishAll, StartPosition, subscribe, unique } from './broker.js'

/** Lets the wall clock move on, so message timestamps fall on either side of a date. */
const clockTick = () => new Promise((resolve) => setTimeout(resolve, 25))

describe('Publishing and start positions', () => {
  const sc = clientForSuite(brokerForSuite(), 'start')

  async function channelWith(data: string[]): Promise<string> {
    const channel = unique('ch')
    await publishAll(sc, channel, data)
    return channel
  }

  it('When a message is published, then its ack comes back and a subscriber gets it with sequence, subject and timestamp', async () => {
    const channel = unique('ch')
    const before = Date.now()
    const inbox = await subscribe(sc, channel, sc.subscriptionOptions())
    await publish(sc, channel, 'hello')
    const [m] = await inbox.count(1)
    expect(m!.getSequence()).toBe(1)
    expect(m!.getSubject()).toBe(channel)
    expect(m!.getData()).toBe('hello')
    expect(m!.isRedelivered()).toBe(false)
    expect(m!.getTimestamp().getTime()).toBeGreaterThanOrEqual(before - 1000)
  })

  it('When subscribing with the default (new only), then only messages published afterwards arrive', async () => {
    const channel = await channelWith(['old-1', 'old-2'])
    const inbox = await subscribe(sc, channel, sc.subscriptionOptions())
    await publish(sc, channel, 'new-3')
    await inbox.count(1)
    expect(inbox.messages.map((m) => [m.getSequence(), m.getData()])).toEqual([[3, 'new-3']])
  })

  it('When subscribing with deliver all available, then every stored message arrives in order', async () => {
    const channel = await channelWith(['a', 'b', 'c'])
    const inbox = await subscribe(sc, channel, sc.subscriptionOptions().setDeliverAllAvailable())
    await inbox.count(3)
    expect(inbox.data).toEqual(['a', 'b', 'c'])
    expect(inbox.messages.map((m) => m.getSequence())).toEqual([1, 2, 3])
  })

  it('When subscribing with start with last received, then delivery starts at the last stored message', async () => {
    const channel = await channelWith(['a', 'b', 'c'])
    const inbox = await subscribe(sc, channel, sc.subscriptionOptions().setStartWithLastReceived())
    await publish(sc, channel, 'd')
    await inbox.count(2)
    expect(inbox.data).toEqual(['c', 'd'])
  })

  it('When subscribing at a sequence, then delivery starts at that sequence', async () => {
    const channel = await channelWith(['a', 'b', 'c', 'd'])
    const inbox = await subscribe(sc, channel, sc.subscriptionOptions().setStartAtSequence(3))
    await inbox.count(2)
    expect(inbox.data).toEqual(['c', 'd'])
  })

  it('When subscribing at a sequence past the last one, then only new messages arrive', async () => {
    const channel = await channelWith(['a'])
    const inbox = await subscribe(sc, channel, sc.subscriptionOptions().setStartAtSequence(100))
    await publish(sc, channel, 'b')
    await inbox.count(1)
    expect(inbox.messages.map((m) => [m.getSequence(), m.getData()])).toEqual([[2, 'b']])
  })

  it('When subscribing at a start time, then delivery starts at the first message stamped at or after it', async () => {
    const channel = await channelWith(['before'])
    await clockTick()
    const start = new Date()
    await clockTick()
    await publishAll(sc, channel, ['after-1', 'after-2'])
    const inbox = await subscribe(sc, channel, sc.subscriptionOptions().setStartTime(start))
    await inbox.count(2)
    expect(inbox.data).toEqual(['after-1', 'after-2'])
  })

  it('When subscribing with a time delta covering every message, then all arrive', async () => {
    const channel = await channelWith(['a', 'b'])
    const inbox = await subscribe(sc, channel, sc.subscriptionOptions().setStartAtTimeDelta(60 * 60 * 1000))
    await inbox.count(2)
    expect(inbox.data).toEqual(['a', 'b'])
  })

  it('When subscribing to an empty channel with deliver all, then the first message published arrives as sequence 1', async () => {
    const channel = unique('ch')
    const inbox = await subscribe(sc, channel, sc.subscriptionOptions().setStartAt(StartPosition.FIRST))
    await publish(sc, channel, 'first')
    const [m] = await inbox.count(1)
    expect(m!.getSequence()).toBe(1)
  })
})
