/** Gives back a slot taken from a {@link MissLimiter}. */
export type Release = () => void

/**
 * Caps the database reads that cache misses may cause: at most `maxActive` at a time and `maxQueued` waiting.
 * Beyond that a miss is refused at once (the caller answers 503): under a flood of unknown ids a short bounded
 * queue absorbs bursts, while an unbounded one would only grow latency and memory and starve the batch writer
 * of pool connections.
 */
export class MissLimiter {
  #active = 0
  readonly #waiting: Array<() => void> = []

  constructor(
    readonly maxActive: number,
    readonly maxQueued: number,
  ) {}

  /** A slot, possibly after waiting; undefined when the queue is full too. */
  acquire(): Promise<Release> | undefined {
    if (this.#active < this.maxActive) {
      this.#active++
      return Promise.resolve(this.#releaser())
    }
    if (this.#waiting.length >= this.maxQueued) return undefined
    return new Promise((resolve) => this.#waiting.push(() => resolve(this.#releaser())))
  }

  get active(): number {
    return this.#active
  }

  get queued(): number {
    return this.#waiting.length
  }

  #releaser(): Release {
    let released = false
    return () => {
      if (released) return
      released = true
      const next = this.#waiting.shift()
      // The slot passes straight to the next waiter, so #active stays the same.
      if (next) next()
      else this.#active--
    }
  }
}
