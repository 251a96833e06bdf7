/**
 * What to undo at the end, last first: child processes, servers, pools, temporary folders. One per run (the tests',
 * a benchmark's, a reliability scenario's), passed to whatever starts something, so that every exit path (success,
 * failure, Ctrl-C) leaves nothing behind.
 */
export class Cleanup {
  readonly #steps: { name: string; undo: () => unknown }[] = []
  #running: Promise<void> | undefined

  /** Registers an undo step; the returned function runs it early (and only once). */
  add(name: string, undo: () => unknown): () => Promise<void> {
    const step = { name, undo }
    this.#steps.push(step)
    return async () => {
      const at = this.#steps.indexOf(step)
      if (at === -1) return
      this.#steps.splice(at, 1)
      await undo()
    }
  }

  /**
   * Runs every step even if some fail; failures are reported, not thrown, so the rest still runs. A second call
   * (the run's `finally` while a signal's cleanup is under way) waits for the same run.
   */
  run(): Promise<void> {
    this.#running ??= this.#run()
    return this.#running
  }

  /** True once cleanup has started: errors after that are the run being torn down, not failures. */
  get started(): boolean {
    return this.#running !== undefined
  }

  async #run(): Promise<void> {
    for (let step = this.#steps.pop(); step !== undefined; step = this.#steps.pop()) {
      try {
        await step.undo()
      } catch (error) {
        process.stderr.write(`cleanup: ${step.name} failed: ${String(error)}\n`)
      }
    }
  }

  /** Ctrl-C or a kill: clean up, then exit with the conventional code for the signal. */
  onSignals(): void {
    for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
      process.once(signal, () => {
        console.error(`\n${signal}: cleaning up`)
        void this.run().finally(() => process.exit(code))
      })
    }
  }
}
