import { setTimeout as sleep } from 'node:timers/promises'
import { backoffDelay } from '../backoff.js'

export interface PublishPlan {
  /** Publishes waiting for their ack at most; the next publish waits for an ack when this many are out. */
  inFlight: number
  /** Messages per second; undefined publishes as fast as acks come back. */
  rate?: number
  /** A publish that failed is published again under this policy; without one, a failure gives the message up. */
  retry?: RetryPolicy
  onAck?: (tally: PublishTally) => void
  /** Called as each message is settled for good (acked or given up), with its place in the sequence (from 0) and why it failed, if it did. */
  onSettle?: (index: number, failure: string | undefined) => void
  /** Stops publishing new messages and re-publishing failed ones; those already out are still waited for. */
  signal?: AbortSignal
}

/** How long a message keeps being published again: both bounds hold, the first reached gives it up. */
export interface RetryPolicy {
  /** Publishes of one message at most (the first one included). */
  maxAttempts: number
  /** From the message's first publish: a failure after this gives it up instead of publishing it again. */
  giveUpAfterMs: number
}

export interface PublishTally {
  /** Messages published (once or more). */
  published: number
  acked: number
  /** Messages given up: published and never acked. */
  failed: number
  /** Publishes made again after a failure (a message published three times counts 2). */
  republished: number
  /** Failures now waiting to be published again: a fail-over in progress. */
  retrying: number
  /** Why publishes failed and how often, e.g. "stan: publish ack timeout" → 3; each failed attempt counts. */
  failures: Map<string, number>
  /** Why messages were given up (their last failure) and how many. */
  givenUp: Map<string, number>
  /** Errors the broker connection reported while publishing. */
  connectionErrors: string[]
  /** Connections to the broker lost while publishing (each followed by a connection to a server of the list). */
  connectionsLost: number
  /** Publishes the broker acked as duplicates of a message it already had (JetStream's message id); 0 elsewhere. */
  duplicates: number
}

/** How one publish ended: acked (perhaps as a duplicate), or failed; `final` when publishing again cannot help. */
export type PublishOutcome = { ok: true; duplicate?: boolean } | { ok: false; reason: string; final?: boolean }

/**
 * One publish: `settle` is called once with its outcome. `giveUpAt` (performance.now() time) is when the message
 * will be given up: a publisher waiting for a connection waits no longer.
 */
export type SendOne = (payload: Buffer, settle: (outcome: PublishOutcome) => void, giveUpAt: number) => void

/** Waits between a failure and the next publish of that message: from 100 ms, doubling, up to 2 s. */
export const REPUBLISH_DELAY = { initialMs: 100, maxMs: 2_000 } as const

const NO_RETRY: RetryPolicy = { maxAttempts: 1, giveUpAfterMs: Number.POSITIVE_INFINITY }

export function emptyTally(): PublishTally {
  return { published: 0, acked: 0, failed: 0, republished: 0, retrying: 0, failures: new Map(), givenUp: new Map(), connectionErrors: [], connectionsLost: 0, duplicates: 0 }
}

interface Entry {
  payload: Buffer
  index: number
  attempts: number
  firstAt: number
  /** When it may be published again (after a failure). */
  dueAt: number
}

/**
 * The publishing loop of every broker's publisher: at most `inFlight` publishes out, paced to `rate`; a failed
 * publish is published again after a pause (new messages wait meanwhile) until it is acked or the retry policy
 * gives it up. New messages stop on an abort or on `gone()` (the connection is lost for good: every
 * further publish would fail at once); then it waits for what is out. `published` says how far it got.
 */
export async function publishEach(messages: Iterable<Buffer>, plan: PublishPlan, send: SendOne, gone: () => boolean, tally = emptyTally()): Promise<PublishTally> {
  const policy = plan.retry ?? NO_RETRY
  const waitingRetry: Entry[] = []
  let out = 0
  /** Messages that failed and are not yet acked or given up: waiting, or published again and out. */
  let recovering = 0
  let wake: (() => void) | undefined
  const nudge = () => {
    wake?.()
    wake = undefined
  }
  const nextChange = () => new Promise<void>((resolve) => (wake = resolve))

  const settleFor = (entry: Entry) => (outcome: PublishOutcome) => {
    out--
    const failedBefore = entry.attempts > 1
    if (outcome.ok) {
      if (failedBefore) recovering--
      tally.acked++
      if (outcome.duplicate === true) tally.duplicates++
      plan.onSettle?.(entry.index, undefined)
    } else {
      tally.failures.set(outcome.reason, (tally.failures.get(outcome.reason) ?? 0) + 1)
      const now = performance.now()
      const spent = entry.attempts >= policy.maxAttempts || now - entry.firstAt >= policy.giveUpAfterMs
      if (outcome.final === true || spent || plan.signal?.aborted) {
        if (failedBefore) recovering--
        giveUp(entry, outcome.reason)
      } else {
        if (!failedBefore) recovering++
        entry.dueAt = now + backoffDelay(REPUBLISH_DELAY, entry.attempts)
        waitingRetry.push(entry)
        tally.retrying++
      }
    }
    plan.onAck?.(tally)
    nudge()
  }
  const giveUp = (entry: Entry, reason: string) => {
    tally.failed++
    tally.givenUp.set(reason, (tally.givenUp.get(reason) ?? 0) + 1)
    plan.onSettle?.(entry.index, reason)
  }
  const publish = (entry: Entry) => {
    entry.attempts++
    out++
    send(entry.payload, settleFor(entry), entry.firstAt + policy.giveUpAfterMs)
  }

  const fresh = messages[Symbol.iterator]()
  let freshLeft = true
  const started = performance.now()
  plan.signal?.addEventListener('abort', nudge, { once: true })
  for (;;) {
    while (out >= plan.inFlight) await nextChange()
    if (plan.signal?.aborted) {
      for (const entry of waitingRetry.splice(0)) giveUp(entry, 'interrupted before it was published again')
      recovering -= tally.retrying
      tally.retrying = 0
    }
    const now = performance.now()
    const dueIndex = waitingRetry.findIndex((entry) => entry.dueAt <= now)
    if (dueIndex !== -1) {
      const [entry] = waitingRetry.splice(dueIndex, 1)
      tally.retrying--
      tally.republished++
      publish(entry!)
      continue
    }
    // Until the failed messages are acked or given up (a fail-over in progress), new messages wait: only the failed
    // ones probe the broker, instead of every new message failing and joining them.
    if (freshLeft && recovering === 0 && !gone() && !plan.signal?.aborted) {
      if (plan.rate !== undefined) {
        // Pace against the start time rather than per message, so timer slack does not add up.
        const wait = started + (tally.published * 1000) / plan.rate - performance.now()
        if (wait > 1) await sleep(wait, undefined, { signal: plan.signal }).catch(() => undefined)
        if (plan.signal?.aborted) continue
      }
      const next = fresh.next()
      if (next.done === true) freshLeft = false
      else {
        publish({ payload: next.value, index: tally.published++, attempts: 0, firstAt: performance.now(), dueAt: 0 })
        continue
      }
    }
    if (out === 0 && waitingRetry.length === 0) break
    // Until something settles, or the first failure is due to be published again.
    const changed = nextChange()
    const soonest = waitingRetry.reduce((min, entry) => Math.min(min, entry.dueAt), Number.POSITIVE_INFINITY)
    const timer = Number.isFinite(soonest) ? setTimeout(nudge, Math.max(0, soonest - performance.now())) : undefined
    await changed
    clearTimeout(timer)
  }
  plan.signal?.removeEventListener('abort', nudge)
  return tally
}
