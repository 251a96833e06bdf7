import { setTimeout as sleep } from 'node:timers/promises'
import type { EventEmitter } from 'node:events'
import type { BatchWriterEvents } from '../../src/ingest/batch-writer.js'
import { withTimeout } from '../../src/timeout.js'

type EventMap<T> = Record<keyof T, unknown[]>

/**
 * The arguments of the first `name` event, from now on, that `until` accepts (the first one, by default). `until`
 * sees every event in turn, so it can keep a count. Create it before acting, then await it: tests wait for what
 * happened, not for time to pass. An event that never comes fails the test at its timeout.
 */
export function nextEvent<T extends EventMap<T>, K extends keyof T & string>(
  emitter: EventEmitter<T>,
  name: K,
  until: (...args: T[K]) => boolean = () => true,
): Promise<T[K]> {
  const plain = emitter as unknown as EventEmitter
  return new Promise((resolve) => {
    const listener = (...args: unknown[]) => {
      if (!until(...(args as T[K]))) return
      plain.off(name, listener)
      resolve(args as T[K])
    }
    plain.on(name, listener)
  })
}

/**
 * Resolves once the writer has acked `count` more messages: distinct sequences, so a message the broker delivered
 * again while it was pending counts once, and every message counted has been committed and counted in the metrics
 * (the writer counts before it acks). Await it for every message published before reading what the writer counted.
 */
export function acks(events: EventEmitter<BatchWriterEvents>, count: number): Promise<void> {
  const seen = new Set<number>()
  return nextEvent(events, 'acked', (sequences) => {
    for (const sequence of sequences) seen.add(sequence)
    return seen.size >= count
  }).then(() => undefined)
}

/**
 * Asks `check` every `everyMs` (50) until it returns something other than undefined, and resolves with that: for
 * what sends no event (a server coming up, a count in another process). Fails with `failure()` (or a plain message)
 * after `timeoutMs`, and at once with whatever `check` throws.
 */
export async function eventually<T>(
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 10_000,
  options: { everyMs?: number; failure?: () => string } = {},
): Promise<T> {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (performance.now() > deadline) throw new Error(`${options.failure?.() ?? 'condition not met'} (within ${timeoutMs} ms)`)
    await sleep(options.everyMs ?? 50)
  }
}

/**
 * `wait`, or a failure naming `step` (and `detail()`, what the test knows of the moment) when it has not settled
 * within `ms`: a test of several waits that hangs says at which one, where its own timeout would say only that the
 * whole took too long.
 */
export function step<T>(name: string, ms: number, wait: Promise<T>, detail?: () => string): Promise<T> {
  return withTimeout(wait, ms, () => {
    throw new Error(`${name}: not done within ${ms} ms${detail === undefined ? '' : `; ${detail()}`}`)
  })
}
