import { setTimeout as sleep } from 'node:timers/promises'

export interface PublishPlan {
  /** Publishes waiting for their ack at most; the next publish waits for an ack when this many are out. */
  inFlight: number
  /** Messages per second; undefined publishes as fast as acks come back. */
  rate?: number
  onAck?: (tally: PublishTally) => void
  /** Called as each publish settles, with its place in the sequence (from 0) and why it failed, if it did. */
  onSettle?: (index: number, failure: string | undefined) => void
  /** Stops publishing new messages; those already out are still waited for. */
  signal?: AbortSignal
}

export interface PublishTally {
  published: number
  acked: number
  failed: number
  /** Why publishes failed and how often, e.g. "stan: publish ack timeout" → 3. */
  failures: Map<string, number>
  /** Errors the broker connection reported while publishing. */
  connectionErrors: string[]
  /** Publishes the broker acked as duplicates of a message it already had (JetStream's message id); 0 elsewhere. */
  duplicates: number
}

/** One publish: `settle` is called once, with why it failed or with nothing when the broker acked it. */
export type SendOne = (payload: Buffer, settle: (failure?: string, duplicate?: boolean) => void) => void

export function emptyTally(): PublishTally {
  return { published: 0, acked: 0, failed: 0, failures: new Map(), connectionErrors: [], duplicates: 0 }
}

/**
 * The publishing loop of every broker's publisher: at most `inFlight` publishes out, paced to `rate`, stopped by
 * an abort or by `gone()` (the connection was lost: every further publish would fail at once), and then waiting
 * for what is out. `published` says how far it got.
 */
export async function publishEach(messages: Iterable<Buffer>, plan: PublishPlan, send: SendOne, gone: () => boolean, tally = emptyTally()): Promise<PublishTally> {
  let waiting: (() => void) | undefined
  const settled = () => {
    plan.onAck?.(tally)
    waiting?.()
    waiting = undefined
  }
  const outstanding = () => tally.published - tally.acked - tally.failed
  const nextSettle = () => new Promise<void>((resolve) => (waiting = resolve))

  const started = performance.now()
  for (const payload of messages) {
    while (outstanding() >= plan.inFlight) await nextSettle()
    if (gone() || plan.signal?.aborted) break
    if (plan.rate !== undefined) {
      // Pace against the start time rather than per message, so timer slack does not add up.
      const due = started + (tally.published * 1000) / plan.rate
      const wait = due - performance.now()
      if (wait > 1) await sleep(wait, undefined, { signal: plan.signal }).catch(() => undefined)
      if (plan.signal?.aborted) break
    }
    const index = tally.published++
    send(payload, (failure, duplicate) => {
      plan.onSettle?.(index, failure)
      if (failure !== undefined) {
        tally.failed++
        tally.failures.set(failure, (tally.failures.get(failure) ?? 0) + 1)
      } else {
        tally.acked++
        if (duplicate) tally.duplicates++
      }
      settled()
    })
  }
  while (outstanding() > 0) await nextSettle()
  return tally
}
