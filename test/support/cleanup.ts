import { Lifecycle } from '../../src/lifecycle.js'

/**
 * What a run (the tests', a benchmark's, a reliability scenario's) undoes at the end, last first: child processes,
 * servers, pools, temporary folders. The service's Lifecycle, passed to whatever starts something, so that every
 * exit path (success, failure, Ctrl-C) leaves nothing behind; failures are reported, and the rest still runs.
 */
export class Cleanup extends Lifecycle {
  constructor() {
    super((name, error) => process.stderr.write(`cleanup: ${name} failed: ${String(error)}\n`))
  }

  /** Registers an undo step; the returned function runs it early (and only once). */
  add(name: string, undo: () => unknown): () => Promise<void> {
    return this.onStop(name, undo)
  }

  /** Runs every step; a second call (the run's `finally` while a signal's cleanup is under way) waits for the same run. */
  run(): Promise<void> {
    return this.stop()
  }

  /** True once cleanup has started: errors after that are the run being torn down, not failures. */
  get started(): boolean {
    return this.stopping
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
