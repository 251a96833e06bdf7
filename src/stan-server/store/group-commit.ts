/**
 * Group commit for the file store: files with appended records are written and
 * fdatasync'ed in rounds. A flush requested while a round is under way joins the
 * next round, so concurrent publishers share one write and one fsync per file.
 */
import type { AppendFile } from './record-file.js'

interface Waiter {
  resolve(): void
  reject(err: unknown): void
}

export class GroupCommit {
  private readonly dirty = new Set<AppendFile>()
  private waiters: Waiter[] = []
  /** Cleared in the same synchronous step as the loop's last check for work, so no request falls in between. */
  private active = false
  private running: Promise<void> = Promise.resolve()
  private kickScheduled = false
  private readonly afterRound: Array<() => void> = []

  /** Records were appended to `file`: it is written in the next round, which starts soon even if nobody waits. */
  mark(file: AppendFile): void {
    this.dirty.add(file)
    if (this.active || this.kickScheduled) return
    this.kickScheduled = true
    setImmediate(() => {
      this.kickScheduled = false
      if (!this.active && this.dirty.size > 0) this.start()
    })
  }

  /** Work to do between rounds, when no write is in flight (closing or deleting files). */
  between(task: () => void): void {
    this.afterRound.push(task)
  }

  /** Resolves once everything appended so far is on disk; undefined when nothing is pending. */
  flush(): Promise<void> | undefined {
    if (this.dirty.size === 0 && !this.active) return undefined
    const done = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }))
    if (!this.active) this.start()
    return done
  }

  /** Waits for the rounds under way and writes what is left. */
  async drain(): Promise<void> {
    await this.flush()
    await this.running
    for (const task of this.afterRound.splice(0)) task()
  }

  private start(): void {
    this.active = true
    this.running = this.loop()
  }

  private async loop(): Promise<void> {
    try {
      while (this.dirty.size > 0 || this.waiters.length > 0) await this.round()
      // Nothing in flight and nothing left to write: the remaining tasks are safe now.
      for (const task of this.afterRound.splice(0)) task()
    } finally {
      this.active = false
    }
  }

  private async round(): Promise<void> {
    const waiters = this.waiters
    const files = [...this.dirty]
    // Tasks queued during this round may concern files it does not write yet (a slice's last records).
    const tasks = this.afterRound.splice(0)
    this.waiters = []
    this.dirty.clear()
    for (const file of files) file.beforeSync?.()
    try {
      await Promise.all(files.map((file) => file.sync()))
    } catch (err) {
      // Unacknowledged publishes fail; with nobody waiting, an I/O error must still not pass silently.
      this.afterRound.unshift(...tasks)
      for (const w of waiters) w.reject(err)
      if (waiters.length === 0) throw err
      return
    }
    for (const task of tasks) task()
    for (const w of waiters) w.resolve()
  }
}
