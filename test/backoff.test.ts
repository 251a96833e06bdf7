import { describe, expect, it } from 'vitest'
import { Backoff, retry } from '../src/backoff.js'

describe('Backoff', () => {
  it('When attempts keep failing, then the delays double from initialMs up to maxMs, and reset() starts again', () => {
    const backoff = new Backoff({ initialMs: 100, maxMs: 500, jitter: 0 })
    expect([backoff.next(), backoff.next(), backoff.next(), backoff.next(), backoff.next()]).toEqual([100, 200, 400, 500, 500])
    backoff.reset()
    expect(backoff.next()).toBe(100)
  })

  it('When jitter is drawn, then it only ever shortens a delay, by at most its share', () => {
    const lowest = new Backoff({ initialMs: 1000, maxMs: 1000, jitter: 0.2 }, () => 0.999_999)
    const highest = new Backoff({ initialMs: 1000, maxMs: 1000, jitter: 0.2 }, () => 0)
    expect(lowest.next()).toBe(800)
    expect(highest.next()).toBe(1000)
  })
})

describe('retry', () => {
  const policy = { initialMs: 1, maxMs: 2 }

  it('When a task fails with a retryable error, then it is run again until it succeeds, each retry told', async () => {
    let attempts = 0
    const retried: number[] = []
    const result = await retry(
      async () => {
        if (++attempts < 3) throw new Error('not yet')
        return 'done'
      },
      { policy, retryable: () => true, onRetry: (_error, delay) => retried.push(delay) },
    )
    expect(result).toBe('done')
    expect(attempts).toBe(3)
    expect(retried).toHaveLength(2)
  })

  it('When a failure is not retryable, then it ends the loop with that error', async () => {
    let attempts = 0
    const fatal = new Error('fatal')
    await expect(retry(async () => { attempts++; throw fatal }, { policy, retryable: (error) => error !== fatal })).rejects.toBe(fatal)
    expect(attempts).toBe(1)
  })

  it('When the signal aborts during a wait, then the loop ends with the abort instead of another attempt', async () => {
    const stop = new AbortController()
    let attempts = 0
    const running = retry(async () => { attempts++; throw new Error('down') }, {
      policy: { initialMs: 60_000, maxMs: 60_000 },
      retryable: () => true,
      onRetry: () => stop.abort(),
      signal: stop.signal,
    })
    await expect(running).rejects.toThrow(/abort/i)
    expect(attempts).toBe(1)
  })
})
