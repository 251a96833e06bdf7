import type { MiddlewareHandler } from 'hono'
import type { Metrics } from '../../metrics.js'

type CounterChild = ReturnType<Metrics['httpRequests']['labels']>

/**
 * Request counts kept as plain numbers and added to the prom-client counters when /metrics is scraped:
 * prom-client builds and hashes a label string on every inc(), a measurable share of the hot path's cost.
 */
export class Tally {
  readonly #counts: Array<{ child: CounterChild; pending: number }> = []

  /** A counter for one labelled child: counting is an integer increment. */
  counter(child: CounterChild): () => void {
    const slot = { child, pending: 0 }
    this.#counts.push(slot)
    return () => {
      slot.pending++
    }
  }

  /** Moves the pending counts into prom-client; call before reading the registry. */
  flush(): void {
    for (const slot of this.#counts) {
      if (slot.pending > 0) slot.child.inc(slot.pending)
      slot.pending = 0
    }
  }
}

/** Counts one response of a route by status; each status's counter is made once, on first use. */
export type CountResponse = (status: number) => void

export function responseCounter(tally: Tally, httpRequests: Metrics['httpRequests'], method: string, route: string): CountResponse {
  // Indexed by the status itself (three digits): cheaper than a Map's hashing, on every request of the hot path.
  const counters: ((() => void) | undefined)[] = []
  return (status) => {
    let count = counters[status]
    if (count === undefined) {
      count = tally.counter(httpRequests.labels(method, route, String(status)))
      counters[status] = count
    }
    count()
  }
}

/** Counts each response of the route it is attached to, errors included (the error handler runs inside next()). */
export function requestMetrics(count: CountResponse): MiddlewareHandler {
  return async (c, next) => {
    await next()
    count(c.res.status)
  }
}
