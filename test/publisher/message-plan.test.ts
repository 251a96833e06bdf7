import { describe, expect, it } from 'vitest'
import { generateOrder } from '../../src/publisher/generate-orders.js'
import { hostileMessage } from '../../src/publisher/hostile-messages.js'
import { planMessages, splitFileMessages } from '../../src/publisher/message-plan.js'

describe('splitFileMessages', () => {
  it('When the file is one JSON document, even a pretty-printed one, then it is one message, byte for byte', () => {
    const file = Buffer.from(`${JSON.stringify(generateOrder(1, 0), null, 2)}\n`)
    expect(splitFileMessages(file)).toEqual([file])
  })

  it('When the file is JSON lines, then each non-blank line is one message, sent as is', () => {
    const lines = ['{"a":1}', 'not json', '  ', '{"b":2}\r', '']
    const file = Buffer.concat([Buffer.from(lines.join('\n')), Buffer.from([0x0a, 0xff, 0xfe])])
    expect(splitFileMessages(file).map((line) => line.toString('latin1'))).toEqual(['{"a":1}', 'not json', '{"b":2}', '\xff\xfe'])
  })

  it('When the file is empty, then there is nothing to send', () => {
    expect(splitFileMessages(Buffer.alloc(0))).toEqual([])
  })
})

describe('planMessages', () => {
  it('Should send the file first, then the orders with the garbage spread among them', () => {
    const fromFile = [Buffer.from('{"from":"file"}')]
    const plan = planMessages({ fromFile, count: 6, garbage: 3, seed: 5, maxMessageBytes: 4096 })
    const sent = [...plan.messages]
    expect(plan.total).toBe(10)
    expect(sent).toHaveLength(10)
    expect(sent[0]).toEqual(fromFile[0])
    const orders = [0, 1, 2, 3, 4, 5].map((index) => Buffer.from(JSON.stringify(generateOrder(5, index))))
    const garbage = [0, 1, 2].map((index) => hostileMessage(5, index, { maxMessageBytes: 4096 }).payload)
    const kinds = sent.slice(1).map((payload) =>
      orders.some((order) => order.equals(payload)) ? 'order' : garbage.some((bad) => bad.equals(payload)) ? 'garbage' : 'unknown',
    )
    expect(kinds).toEqual(['order', 'order', 'garbage', 'order', 'order', 'garbage', 'order', 'order', 'garbage'])
  })

  it('Should generate lazily, so that a plan of a billion orders costs nothing until iterated', () => {
    const plan = planMessages({ fromFile: [], count: 1_000_000_000, garbage: 0, seed: 1, maxMessageBytes: 4096 })
    const first = plan.messages[Symbol.iterator]().next()
    expect(plan.total).toBe(1_000_000_000)
    expect(JSON.parse(first.value.toString())).toEqual(generateOrder(1, 0))
  })
})
