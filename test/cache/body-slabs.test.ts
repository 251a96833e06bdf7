import { describe, expect, it } from 'vitest'
import { BodySlabs } from '../../src/cache/body-slabs.js'

const body = (byte: number, length = 100) => new Uint8Array(length).fill(byte)

describe('body slabs', () => {
  it('Should pack copies back to back in one slab, counting its unfilled end as slack', () => {
    const slabs = new BodySlabs(1000)
    const source = body(1)
    const a = slabs.copy(source)
    const b = slabs.copy(body(2))
    source.fill(9) // a copy, not a view of what it was given

    expect([...a]).toEqual([...body(1)])
    expect([...b]).toEqual([...body(2)])
    expect(b.buffer).toBe(a.buffer)
    expect(slabs.slabCount).toBe(1)
    expect(slabs.slackBytes).toBe(800)
  })

  it('When texts with characters of one to four UTF-8 bytes are written, then each body is their UTF-8, back to back until the slab is full', () => {
    const slabs = new BodySlabs(100)
    const texts = [
      'aé日🎉', // 10 bytes in 5 UTF-16 units
      `${'x'.repeat(60)}ü`, // 62 bytes: fits the 90 left only by its real length, not at 3 bytes a unit
      '€€€€€€€€€', // 27 bytes, 3 a unit: exactly what the 28 left can be sure of
      'zz', // 1 byte left: the next slab
    ]
    const bodies = texts.map((text) => slabs.write(text))

    expect(bodies.map((body) => body.toString('utf8'))).toEqual(texts)
    expect(bodies.map((body) => body.byteLength)).toEqual([10, 62, 27, 2])
    expect(bodies.map((body) => body.byteOffset - bodies[0]!.byteOffset).slice(0, 3)).toEqual([0, 10, 72])
    expect(new Set(bodies.slice(0, 3).map((body) => body.buffer)).size).toBe(1)
    expect(bodies[3]!.buffer).not.toBe(bodies[0]!.buffer)
    expect(slabs.slabCount).toBe(2)
    expect(slabs.slackBytes).toBe(1 + 98)
  })

  it('When a slab is full, then the next body starts a new one; a body larger than a slab gets a buffer of its own', () => {
    const slabs = new BodySlabs(250)
    const first = slabs.copy(body(1))
    slabs.copy(body(2))
    const third = slabs.copy(body(3))
    const large = slabs.copy(body(4, 300))

    expect(third.buffer).not.toBe(first.buffer)
    expect(large.byteLength).toBe(300)
    expect(large.buffer.byteLength).toBe(300)
    expect(slabs.slabCount).toBe(2)
    // 50 unfilled in the closed slab, 150 in the one being filled; the large body is no slab's.
    expect(slabs.slackBytes).toBe(200)
  })

  it('When most bodies of a closed slab are released, then it is reported sparse once, and forgetting it drops its slack', () => {
    const slabs = new BodySlabs(400)
    const views = [1, 2, 3, 4].map((byte) => slabs.copy(body(byte)))
    slabs.close()
    slabs.release(views[0]!)
    expect(slabs.takeSparse()).toEqual([]) // 300 of 400 live
    slabs.release(views[1]!)
    expect(slabs.takeSparse()).toEqual([]) // exactly half
    slabs.release(views[2]!)
    const [sparse, ...more] = slabs.takeSparse()
    expect(more).toEqual([])
    expect(sparse?.live).toBe(100)
    expect(slabs.slackBytes).toBe(300)

    slabs.forget(sparse!)
    expect(slabs.slabCount).toBe(0)
    expect(slabs.slackBytes).toBe(0)
    expect(slabs.takeSparse()).toEqual([])
  })

  it('When every body of a closed slab is released, then the slab is dropped with no compaction needed', () => {
    const slabs = new BodySlabs(200)
    const views = [slabs.copy(body(1)), slabs.copy(body(2))]
    slabs.copy(body(3)) // starts the next slab, closing the first
    for (const view of views) slabs.release(view)

    expect(slabs.takeSparse()).toEqual([])
    expect(slabs.slabCount).toBe(1)
    expect(slabs.slackBytes).toBe(100)
  })

  it('When a body that is no slab\'s is released, then nothing changes', () => {
    const slabs = new BodySlabs(200)
    slabs.copy(body(1))
    slabs.release(Buffer.from(body(2)))
    expect(slabs.slackBytes).toBe(100)
  })
})
