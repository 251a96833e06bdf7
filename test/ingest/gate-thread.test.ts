import { setImmediate as nextTurn } from 'node:timers/promises'
import { afterEach, describe, expect, it } from 'vitest'
import { createGate } from '../../src/ingest/gate.js'
import type { GateReason, Verdict } from '../../src/ingest/verdict.js'
import { startGateThread, type GateThread } from '../../src/ingest/gate-thread.js'
import { generateOrder } from '../../src/publisher/generate-orders.js'
import { hostileMessages } from '../../src/publisher/hostile-messages.js'

const options = { maxMessageBytes: 16 * 1024 }
let thread: GateThread | undefined

afterEach(async () => {
  await thread?.close()
  thread = undefined
})

/** Valid orders and every kind of hostile message, interleaved. */
function mixedMessages(count: number): Buffer[] {
  const hostile = [...hostileMessages(count, 7, options)].map((message) => message.payload)
  return hostile.flatMap((payload, index) => [Buffer.from(JSON.stringify(generateOrder(7, index))), payload])
}

/** A verdict with its text as a string, however it came. */
function asText(verdict: Verdict<GateReason>): Verdict<GateReason> {
  return verdict.ok && typeof verdict.json !== 'string' ? { ...verdict, json: Buffer.from(verdict.json).toString('utf8') } : verdict
}

describe('gate thread', () => {
  it('When messages arrive over several turns of the event loop, then each verdict is the gate’s own, in the order given', async () => {
    thread = await startGateThread(options)
    const messages = mixedMessages(120)
    const verdicts: Promise<Verdict<GateReason>>[] = []
    // Uneven groups, each posted as a batch of its own at the end of its turn.
    for (let at = 0, size = 1; at < messages.length; at += size, size = (size * 7) % 61) {
      for (const message of messages.slice(at, at + size)) verdicts.push(thread.check(message))
      await nextTurn()
    }
    const gate = createGate(options)
    const expected = messages.map((message) => gate(message))
    const received = await Promise.all(verdicts)
    // An accepted order's text comes back as its UTF-8 bytes, each in its place.
    for (const verdict of received) if (verdict.ok) expect(verdict.json).toBeInstanceOf(Uint8Array)
    expect(received.map(asText)).toEqual(expected)
    // Not a vacuous comparison: both kinds of verdict are there.
    expect(expected.filter((verdict) => verdict.ok).length).toBe(120)
    expect(new Set(expected.filter((verdict) => !verdict.ok).map((verdict) => verdict.reason)).size).toBeGreaterThan(3)
  })

  it('When the thread is closed with checks pending, then they get their verdicts first, and later checks are refused', async () => {
    thread = await startGateThread(options)
    let settled = 0
    const pending = mixedMessages(50).map((message) => thread!.check(message).finally(() => settled++))
    // A second caller (a signal and a teardown, say) waits for the same end as the first.
    void thread.close()
    await thread.close()
    expect(settled).toBe(100)
    const verdicts = await Promise.all(pending)
    expect(verdicts).toHaveLength(100)
    await expect(thread.check(Buffer.from('{}'))).rejects.toMatchObject({ name: 'ServiceError', code: 'gate_thread_closed' })
  })

  it('Should leave the caller’s buffers as they were (payloads are copied, not moved)', async () => {
    thread = await startGateThread(options)
    const payload = Buffer.from(JSON.stringify(generateOrder(7, 1)))
    const copy = Buffer.from(payload)
    const verdict = await thread.check(payload)
    expect(verdict.ok).toBe(true)
    expect(payload.equals(copy)).toBe(true)
  })
})
