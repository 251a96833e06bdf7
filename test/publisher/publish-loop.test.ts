import { describe, expect, it } from 'vitest'
import { publishEach, type PublishOutcome } from '../../src/publisher/publish-loop.js'

const messages = (count: number) => Array.from({ length: count }, (_, i) => Buffer.from(String(i)))

/** A broker that answers each publish of a payload with the next outcome of its script (then acks). */
function scripted(script: Record<string, PublishOutcome[]>) {
  const publishes: string[] = []
  const send = (payload: Buffer, settle: (outcome: PublishOutcome) => void) => {
    const key = payload.toString()
    publishes.push(key)
    setImmediate(() => settle(script[key]?.shift() ?? { ok: true }))
  }
  return { send, publishes }
}

describe('publishEach with a retry policy', () => {
  it('When publishes fail, then each is published again until acked, and the tally counts acked, re-published and none given up', async () => {
    const broker = scripted({ '1': [{ ok: false, reason: 'timeout' }, { ok: false, reason: 'no leader' }], '3': [{ ok: false, reason: 'timeout' }] })
    const tally = await publishEach(messages(5), { inFlight: 2, retry: { maxAttempts: 5, giveUpAfterMs: 10_000 } }, broker.send, () => false)
    expect(tally).toMatchObject({ published: 5, acked: 5, failed: 0, republished: 3, retrying: 0 })
    expect(tally.failures).toEqual(new Map([['timeout', 2], ['no leader', 1]]))
    expect(broker.publishes.filter((key) => key === '1')).toHaveLength(3)
  })

  it('When a failure waits to be published again, then new messages wait too: only the failed one probes the broker', async () => {
    const broker = scripted({ '0': [{ ok: false, reason: 'no leader' }, { ok: false, reason: 'no leader' }] })
    await publishEach(messages(4), { inFlight: 2, retry: { maxAttempts: 5, giveUpAfterMs: 10_000 } }, broker.send, () => false)
    // 1 went out with 0, before its first failure came back; nothing new after that until 0 was acked.
    expect(broker.publishes).toEqual(['0', '1', '0', '0', '2', '3'])
  })

  it('When a message fails more often than the attempts allow, then it is given up with its last failure; a final failure at once', async () => {
    const broker = scripted({
      '0': Array.from({ length: 9 }, () => ({ ok: false, reason: 'timeout' }) as const),
      '2': [{ ok: false, reason: 'too large', final: true }],
    })
    const tally = await publishEach(messages(4), { inFlight: 10, retry: { maxAttempts: 3, giveUpAfterMs: 10_000 } }, broker.send, () => false)
    expect(tally).toMatchObject({ published: 4, acked: 2, failed: 2, republished: 2 })
    expect(tally.givenUp).toEqual(new Map([['timeout', 1], ['too large', 1]]))
    expect(broker.publishes.filter((key) => key === '0')).toHaveLength(3)
  })

  it('When a message keeps failing past the time bound, then it is given up although attempts are left', async () => {
    const broker = scripted({ '0': Array.from({ length: 100 }, () => ({ ok: false, reason: 'no leader' }) as const) })
    const started = performance.now()
    const tally = await publishEach(messages(1), { inFlight: 1, retry: { maxAttempts: 100, giveUpAfterMs: 500 } }, broker.send, () => false)
    expect(tally).toMatchObject({ acked: 0, failed: 1 })
    // Pauses of 100, 200, 400 ms: the failure after 700 ms is past the bound.
    expect(broker.publishes).toHaveLength(4)
    expect(performance.now() - started).toBeLessThan(2_000)
  })

  it('When there is no retry policy, then a failure gives the message up at once', async () => {
    const broker = scripted({ '0': [{ ok: false, reason: 'timeout' }] })
    const tally = await publishEach(messages(2), { inFlight: 2 }, broker.send, () => false)
    expect(tally).toMatchObject({ published: 2, acked: 1, failed: 1, republished: 0 })
  })
})
