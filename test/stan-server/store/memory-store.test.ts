import { describe, expect, it } from 'vitest'
import { MemoryMessageLog, MemoryStore } from '../../../src/stan-server/store/memory-store.js'

const message = (sequence: number, timestamp: number) => ({ sequence, timestamp, bytes: Buffer.from(`m${sequence}`) })

describe('MemoryMessageLog', () => {
  it('When empty, then first and last sequences are 0 and lookups find nothing', () => {
    const log = new MemoryMessageLog()
    expect([log.firstSequence, log.lastSequence, log.count]).toEqual([0, 0, 0])
    expect(log.lookup(1)).toBeUndefined()
    expect(log.sequenceAtOrAfter(123)).toBe(0)
  })

  it('Should find appended messages by sequence and count their bytes', () => {
    const log = new MemoryMessageLog()
    for (let seq = 1; seq <= 3; seq++) log.append(message(seq, seq * 10))
    expect([log.firstSequence, log.lastSequence, log.count, log.totalBytes]).toEqual([1, 3, 3, 6])
    expect(log.lookup(2)?.bytes.toString()).toBe('m2')
    expect(log.lookup(0)).toBeUndefined()
    expect(log.lookup(4)).toBeUndefined()
  })

  it('Should refuse a sequence that does not follow the last one', () => {
    const log = new MemoryMessageLog()
    log.append(message(1, 1))
    expect(() => log.append(message(3, 2))).toThrow(/out of order/)
  })

  it('Should find the first message at or after a timestamp, like the real memstore', () => {
    const log = new MemoryMessageLog()
    ;[10, 20, 20, 30].forEach((ts, i) => log.append(message(i + 1, ts)))
    expect(log.sequenceAtOrAfter(0)).toBe(1)
    expect(log.sequenceAtOrAfter(10)).toBe(1)
    expect(log.sequenceAtOrAfter(15)).toBe(2)
    expect(log.sequenceAtOrAfter(20)).toBe(2)
    expect(log.sequenceAtOrAfter(30)).toBe(4)
    expect(log.sequenceAtOrAfter(31)).toBe(5)
  })
})

describe('MemoryStore', () => {
  it('Should create channels once and find them by name', () => {
    const store = new MemoryStore()
    expect(store.lookupChannel('orders')).toBeUndefined()
    const created = store.createChannel('orders')
    expect(store.lookupChannel('orders')).toBe(created)
    expect(store.flush()).toBeUndefined()
  })
})
