import { describe, expect, it } from 'vitest'
import { brokerForSuite, close, closeSubscription, connect, publishAll, roundTrip, subscribe, totalReceived, unique } from './broker.js'

const numbers = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => String(from + i))

describe('Queue groups', () => {
  const broker = brokerForSuite()

  it('When two members share a queue group, then each message goes to exactly one of them and both get some', async () => {
    const a = await connect(broker, unique('qa'))
    const b = await connect(broker, unique('qb'))
    const channel = unique('ch')
    const ia = await subscribe(a, channel, a.subscriptionOptions(), 'workers')
    const ib = await subscribe(b, channel, b.subscriptionOptions(), 'workers')
    await publishAll(a, channel, numbers(1, 10))
    await totalReceived([ia, ib], 10)
    expect([...ia.data, ...ib.data].sort((x, y) => Number(x) - Number(y))).toEqual(numbers(1, 10))
    expect(ia.data.length).toBeGreaterThan(0)
    expect(ib.data.length).toBeGreaterThan(0)
    await close(a)
    await close(b)
  })

  it('When a plain subscriber and a queue group share a channel, then both get every message', async () => {
    const sc = await connect(broker, unique('mixed'))
    const channel = unique('ch')
    const plain = await subscribe(sc, channel, sc.subscriptionOptions())
    const member = await subscribe(sc, channel, sc.subscriptionOptions(), 'group')
    await publishAll(sc, channel, numbers(1, 3))
    await Promise.all([plain.count(3), member.count(3)])
    expect([plain.data, member.data]).toEqual([numbers(1, 3), numbers(1, 3)])
    await close(sc)
  })

  it('When every member of a durable queue group leaves, then a member rejoining resumes where the group was', async () => {
    const sc = await connect(broker, unique('dq'))
    const channel = unique('ch')
    const options = () => sc.subscriptionOptions().setDurableName('dur').setDeliverAllAvailable()
    await publishAll(sc, channel, ['1', '2'])
    const member = await subscribe(sc, channel, options(), 'group')
    await member.count(2)
    await roundTrip(sc)
    await closeSubscription(member)

    await publishAll(sc, channel, ['3'])
    const rejoined = await subscribe(sc, channel, options(), 'group')
    await rejoined.count(1)
    await roundTrip(sc)
    expect(rejoined.data).toEqual(['3'])
    await close(sc)
  })

  it('When a non-durable queue group loses its last member, then a new member starts at its own start position', async () => {
    const sc = await connect(broker, unique('nq'))
    const channel = unique('ch')
    await publishAll(sc, channel, ['1'])
    const member = await subscribe(sc, channel, sc.subscriptionOptions().setDeliverAllAvailable(), 'group')
    await member.count(1)
    await roundTrip(sc)
    await closeSubscription(member)

    const next = await subscribe(sc, channel, sc.subscriptionOptions().setDeliverAllAvailable(), 'group')
    await next.count(1)
    expect(next.data).toEqual(['1'])
    await close(sc)
  })

  it("When a durable queue group's name contains ':', then the subscription is refused", async () => {
    const sc = await connect(broker, unique('colon'))
    await expect(subscribe(sc, unique('ch'), sc.subscriptionOptions().setDurableName('a:b'), 'group')).rejects.toThrow(
      "stan: durable name of a durable queue subscriber can't contain the character ':'",
    )
    await close(sc)
  })
})
