import type { EventEmitter } from 'node:events'
import type { BatchWriterEvents } from '../../src/ingest/batch-writer.js'

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

/** Resolves once the writer has sent `count` more acks (one per delivery). */
export function acks(events: EventEmitter<BatchWriterEvents>, count: number): Promise<void> {
  let seen = 0
  return nextEvent(events, 'acked', (sequences) => (seen += sequences.length) >= count).then(() => undefined)
}
