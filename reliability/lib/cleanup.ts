/**
 * What to undo at the end, last first: child processes, servers, temporary folders. One per run, passed
 * to whatever starts something, so that every exit path (success, failure, Ctrl-C) leaves nothing behind.
 */
export class Cleanup {
  readonly #steps: { name: string; undo: () => Promise<void> | void }[] = []

  /** Registers an undo step; the returned function runs it early (and only once). */
  add(name: string, undo: () => Promise<void> | void): () => Promise<void> {
    const step = { name, undo }
    this.#steps.push(step)
    return async () => {
      const at = this.#steps.indexOf(step)
      if (at === -1) return
      this.#steps.splice(at, 1)
      await undo()
    }
  }

  async run(): Promise<void> {
    for (let step = this.#steps.pop(); step !== undefined; step = this.#steps.pop()) {
      try {
        await step.undo()
      } catch (error) {
        process.stderr.write(`cleanup: ${step.name} failed: ${String(error)}\n`)
      }
    }
  }
}
