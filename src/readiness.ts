import type { BoundedPool } from './store/bounded-pool.js'

/**
 * Whether PostgreSQL answers, as /readyz reports it, without /readyz ever waiting on it: a trivial query every
 * `everyMs`, each within the pool's bound. A probe still unanswered at the next check counts as an answer: not
 * reachable.
 */
export class DatabaseProbe {
  #reachable = false
  #probing = false
  readonly #timer: NodeJS.Timeout

  constructor(private readonly pool: Pick<BoundedPool, 'run'>, everyMs: number) {
    this.#timer = setInterval(() => void this.#check(), everyMs)
  }

  get reachable(): boolean {
    return this.#reachable
  }

  /** Something else on the database just worked (the migrations, at start-up): no need to wait for a probe. */
  answered(): void {
    this.#reachable = true
  }

  stop(): void {
    clearInterval(this.#timer)
  }

  async #check(): Promise<void> {
    if (this.#probing) {
      this.#reachable = false
      return
    }
    this.#probing = true
    this.#reachable = await isReachable(this.pool)
    this.#probing = false
  }
}

/** True when a trivial query answers within the pool's bound. */
async function isReachable(pool: Pick<BoundedPool, 'run'>): Promise<boolean> {
  try {
    await pool.run((sql) => sql`select 1`)
    return true
  } catch {
    return false
  }
}
