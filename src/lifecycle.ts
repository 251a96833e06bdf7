/**
 * The order parts start and stop in, as fastify closes its plugins: each part, once started, registers how it
 * stops; `stop()` runs those in reverse, so whatever depends on a part stops before it. A start that fails half-way
 * runs the same stops for what did start: one mechanism, never a second hand-written undo list.
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

  /** Registers how to undo something already done (a timer set, a connection opened). */
  onStop(name: string, stop: () => unknown): void {
    if (this.#stopping !== undefined) throw new Error(`${name} registered after the stop began`)
    this.#stops.push({ name, stop })
  }

  /**
   * Runs every registered stop once, newest first, each awaited before the next; one that fails is reported and
   * the others still run. Called again, it returns the same stop.
   */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      for (const { name, stop } of this.#stops.toReversed()) {
        try {
          await stop()
        } catch (error) {
          this.onStopFailed(name, error)
        }
      }
    })()
    return this.#stopping
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
}
