/**
 * Undo steps for everything the benchmark starts (child processes, PostgreSQL, temp dirs), run last-in first-out
 * once, whether the run ends normally, throws, or is interrupted.
 */
export class Cleanup {
  readonly #steps: Array<{ name: string; run: () => Promise<void> | void }> = []
  #running: Promise<void> | undefined

  defer(name: string, run: () => Promise<void> | void): void {
    this.#steps.push({ name, run })
  }

  /**
   * Runs every step even if some fail; failures are reported, not thrown, so the rest still runs.
   * A second call (the run's `finally` while a signal's cleanup is under way) waits for the same run.
   */
  runAll(): Promise<void> {
    this.#running ??= this.#run()
    return this.#running
  }

  /** True once cleanup has started: errors after that are the run being torn down, not failures. */
  get started(): boolean {
    return this.#running !== undefined
  }

  async #run(): Promise<void> {
    for (const step of this.#steps.reverse()) {
      try {
        await step.run()
      } catch (error) {
        console.error(`cleanup: ${step.name} failed:`, error)
      }
    }
  }

  /** Ctrl-C or a kill: clean up, then exit with the conventional code for the signal. */
  onSignals(): void {
    for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
      process.once(signal, () => {
        console.error(`\n${signal}: cleaning up`)
        void this.runAll().finally(() => process.exit(code))
      })
    }
  }
}
