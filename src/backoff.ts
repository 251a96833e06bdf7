import { setTimeout as sleep } from 'node:timers/promises'

/** How long to wait between attempts at something that fails for a while: a server down, a leader being elected. */
export interface BackoffPolicy {
  initialMs: number
  maxMs: number
  /**
   * Up to this share of each delay is taken off at random (0.2 by default), so instances that lost one server
   * together do not all come back at the same instant. It only ever shortens a wait: every stated bound holds.
   */
  jitter?: number
}

/**
 * The delays of one retry loop: `initialMs`, doubling up to `maxMs`; `reset()` after a success starts again from
 * the first. Every retry loop of the service waits through one, so a failure is retried alike wherever it is met.
 */
export class Backoff {
  #failures = 0

  constructor(
    readonly policy: BackoffPolicy,
    private readonly random: () => number = Math.random,
  ) {}

  /** The delay to wait now; the next one is twice as long, up to maxMs. */
  next(): number {
    return Math.round(backoffDelay(this.policy, ++this.#failures) * (1 - (this.policy.jitter ?? 0.2) * this.random()))
  }

  reset(): void {
    this.#failures = 0
  }

  /** Waits `delay` (from next()); resolves early, without throwing, when `signal` aborts. */
  static async wait(delay: number, signal?: AbortSignal): Promise<void> {
    await sleep(delay, undefined, { signal }).catch((error: unknown) => {
      if (!signal?.aborted) throw error
    })
  }
}

/**
 * The delay after the `failures`-th failure in a row (1 for the first), before jitter: for a loop that keeps one
 * count per item (say, per message published again) rather than a Backoff.
 */
export function backoffDelay(policy: BackoffPolicy, failures: number): number {
  return Math.min(policy.initialMs * 2 ** Math.max(0, failures - 1), policy.maxMs)
}

/**
 * Runs `task` until it succeeds. A failure that `retryable` accepts is followed by a wait (`onRetry` is told the
 * error and the delay first) and another attempt; any other failure, or an abort of `signal`, ends it with that error.
 */
export async function retry<T>(
  task: () => Promise<T>,
  options: { policy: BackoffPolicy; retryable: (error: unknown) => boolean; onRetry?: (error: unknown, delayMs: number) => void; signal?: AbortSignal },
): Promise<T> {
  const backoff = new Backoff(options.policy)
  for (;;) {
    options.signal?.throwIfAborted()
    try {
      return await task()
    } catch (error) {
      if (options.signal?.aborted || !options.retryable(error)) throw error
      const delay = backoff.next()
      options.onRetry?.(error, delay)
      await Backoff.wait(delay, options.signal)
    }
  }
}
