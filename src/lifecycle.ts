/**
 * The order parts start and stop in, as fastify closes its plugins: each part, once started, registers how it
 * stops; `stop()` runs those in reverse, so whatever depends on a part stops before it. A start that fails half-way
 * runs the same stops for what did start: one mechanism, never a second hand-written undo list. The tests, the
 * benchmarks and the reliability suite use it too, for what they start (test/support/cleanup.ts).
 */
export class Lifecycle {
  readonly #stops: { name: string; stop: () => unknown }[] = []
  #stopping: Promise<void> | undefined

  constructor(private readonly onStopFailed: (name: string, error: unknown) => void) {}

  /** Starts a part and registers its stop, which is given what the start returned. */
  async start<T>(name: string, start: () => T | Promise<T>, stop: (part: T) => unknown): Promise<T> {
    const part = await start()
    this.onStop(name, () => stop(part))
    return part
  }

  /**
   * Registers how to undo something already done (a timer set, a connection opened); the function returned runs
   * it early, once. Registered after the stop began (a part whose start was under way), it is stopped right
   * then, and `stop()` waits for it too: never left running.
   */
  onStop(name: string, stop: () => unknown): () => Promise<void> {
    const entry = { name, stop }
    if (this.#stopping !== undefined) {
      this.#stopping = this.#stopping.then(() => this.#run(entry))
      return () => Promise.resolve()
    }
    this.#stops.push(entry)
    return async () => {
      const at = this.#stops.indexOf(entry)
      if (at === -1) return
      this.#stops.splice(at, 1)
      await this.#run(entry)
    }
  }

  /**
   * Runs every registered stop once, newest first, each awaited before the next; one that fails is reported and
   * the others still run. Called again, it returns the same stop.
   */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      for (let entry = this.#stops.pop(); entry !== undefined; entry = this.#stops.pop()) await this.#run(entry)
    })()
    return this.#stopping
  }

  /** True once the stop has begun. */
  get stopping(): boolean {
    return this.#stopping !== undefined
  }

  /**
   * Runs `start` (which registers parts on this lifecycle); when it fails, stops what it had started, then
   * rethrows its error.
   */
  async startAll<T>(start: () => Promise<T>): Promise<T> {
    try {
      return await start()
    } catch (error) {
      await this.stop()
      throw error
    }
  }

  async #run(entry: { name: string; stop: () => unknown }): Promise<void> {
    try {
      await entry.stop()
    } catch (error) {
      this.onStopFailed(entry.name, error)
    }
  }
}
