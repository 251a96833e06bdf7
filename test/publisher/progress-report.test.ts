import { describe, expect, it } from 'vitest'
import { formatSummary, progressLine } from '../../src/publisher/progress-report.js'
import { emptyTally } from '../../src/publisher/publish-loop.js'

describe('progressLine', () => {
  it('Should show the share done, the counts and the rate, with a bar when the width of a terminal is given', () => {
    const counts = { published: 600, acked: 490, failed: 10, republished: 0, retrying: 0 }
    expect(progressLine(1000, counts, 1000)).toBe('50% 500/1000 acked 490 given up 10 500 msg/s')
    expect(progressLine(1000, counts, 1000, 80)).toMatch(/^\[#{16}-{16}\] 50% 500\/1000 /)
  })

  it('When publishes failed and are being published again, then it shows how many were re-published and how many wait', () => {
    const counts = { published: 600, acked: 490, failed: 0, republished: 40, retrying: 12 }
    expect(progressLine(1000, counts, 1000)).toBe('49% 490/1000 acked 490 re-published 40 (12 waiting) given up 0 490 msg/s')
  })

  it('When there is nothing to publish, then it shows 100% rather than dividing by zero', () => {
    expect(progressLine(0, { published: 0, acked: 0, failed: 0, republished: 0, retrying: 0 }, 0)).toBe('100% 0/0 acked 0 given up 0 0 msg/s')
  })
})

describe('formatSummary', () => {
  it('Should report published, acked, re-published, given up, elapsed and rate, then each failure and each reason to give up with its count, and the connections lost', () => {
    const tally = {
      ...emptyTally(),
      published: 10,
      acked: 7,
      failed: 3,
      republished: 5,
      failures: new Map([['stan: publish ack timeout', 8]]),
      givenUp: new Map([['stan: publish ack timeout', 3]]),
      connectionErrors: ['boom', 'boom'],
      connectionsLost: 2,
    }
    const text = formatSummary({ tally, elapsedMs: 2_000, channel: 'orders', url: 'nats://127.0.0.1:4222', seed: 5, interrupted: false })
    expect(text).toBe(
      'published 10 to orders on nats://127.0.0.1:4222 (seed 5)\n' +
        'acked 7, re-published 5, given up 3, elapsed 2.00 s, 4 msg/s\n' +
        '  failed 8× stan: publish ack timeout\n' +
        '  given up 3× stan: publish ack timeout\n' +
        '  connection lost 2×, connected again to a server of the list\n' +
        '  broker error: boom\n',
    )
  })
})
