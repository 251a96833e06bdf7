import { setTimeout as sleep } from 'node:timers/promises'
import type postgres from 'postgres'
import * as v from 'valibot'
import type { Metrics } from '../metrics.js'
import { classifyDatabaseError } from '../store/database-errors.js'
import type { DeadLetter, DeadLetterStore } from '../store/dead-letters.js'
import type { RedriveSelection, RedriveState, RedriveStore } from '../store/dead-letter-redrives.js'
import type { OrderCacheWriter } from './batch-writer.js'
import type { JsonbText } from '../store/orders.js'
import type { ReplayResult, ReplayStep } from './replay.js'
import type { RejectReason } from './verdict.js'

/** What became of the letters of a re-drive (or would, in a dry run). */
export interface RedriveCounts {
  stored: number
  duplicate: number
  /** Still refused, by reason (`conflict`: another order holds the order_uid). */
  rejected: Partial<Record<RejectReason, number>>
  /** Only the first bytes were kept: cannot be re-driven. */
  truncated: number
}

/** The labels of order_dead_letters_redriven_total (src/metrics.ts). */
export type RedriveOutcome = 'stored' | 'duplicate' | 'rejected' | 'truncated'

export interface RedriveProgress {
  /** Letters this run has done, and what became of them. */
  counts: RedriveCounts
  /** The re-drive as a whole (every worker's letters), as of the last batch. */
  done: number
  total: number
}

export interface RedriveOptions {
  /** Runs one batch's transaction; the service bounds it with the write bound (src/store/bounded-pool.ts). */
  transaction: <T>(work: (tx: postgres.TransactionSql) => Promise<T>) => Promise<T>
  store: Pick<RedriveStore, 'matchingPage' | 'start' | 'claim' | 'awaitOthers' | 'record' | 'finish' | 'state'>
  deadLetters: Pick<DeadLetterStore, 'getMany'>
  replayLetter: ReplayStep
  /** Orders stored are cached after their batch commits; other instances hear of them through PostgreSQL. */
  cache?: OrderCacheWriter
  metrics?: Pick<Metrics, 'redrivenLetters'>
  /** Letters per transaction. */
  batchSize: number
}

export const REJECT_REASONS = ['empty', 'too_large', 'not_utf8', 'not_json', 'schema', 'conflict', 'unstorable'] as const satisfies readonly RejectReason[]
export const MAX_BATCH_SIZE = 1000
const MAX_LIMIT = 10_000_000
/** An ISO 8601 date, or date and time with a zone: what PostgreSQL and Date.parse read alike. */
const INSTANT = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2}))?$/

const instant = v.optional(
  v.pipe(
    v.string(),
    v.regex(INSTANT, 'must be an ISO 8601 date, or date and time with Z or an offset'),
    v.check((text) => !Number.isNaN(Date.parse(text)), 'is not a valid date'),
    v.transform((text) => new Date(text).toISOString()),
  ),
)

/** A re-drive's selection as the HTTP route and bin/redrive take it; unknown fields are refused. */
export const SelectionInput = v.pipe(
  v.strictObject({
    reason: v.optional(v.picklist(REJECT_REASONS, `must be one of ${REJECT_REASONS.join(', ')}`)),
    channel: v.optional(v.pipe(v.string(), v.minLength(1, 'must not be empty'), v.maxLength(255, 'may be at most 255 characters'))),
    from: instant,
    to: instant,
    limit: v.optional(v.pipe(v.number(), v.integer('must be a whole number'), v.minValue(1, 'must be at least 1'), v.maxValue(MAX_LIMIT, `may be at most ${MAX_LIMIT}`))),
  }),
  v.forward(
    v.check((input) => input.from === undefined || input.to === undefined || input.from < input.to, 'must be after from'),
    ['to'],
  ),
  v.transform(
    (input): RedriveSelection => ({
      reason: input.reason ?? null,
      channel: input.channel ?? null,
      from: input.from ?? null,
      to: input.to ?? null,
      limit: input.limit ?? null,
    }),
  ),
)

export function emptyCounts(): RedriveCounts {
  return { stored: 0, duplicate: 0, rejected: {}, truncated: 0 }
}

/** Letters that did not reach the store: still rejected, or truncated. */
export function failedCount(counts: RedriveCounts): number {
  return counts.truncated + Object.values(counts.rejected).reduce((sum, n) => sum + n, 0)
}

type Done = Exclude<ReplayResult, { outcome: 'not_found' }>

function count(counts: RedriveCounts, result: Done): void {
  if (result.outcome === 'rejected') counts.rejected[result.reason] = (counts.rejected[result.reason] ?? 0) + 1
  else counts[result.outcome] += 1
}

/** The outcome as recorded per letter, in the words of dead_letters.replay_outcome. */
function outcomeText(result: Done): string {
  return result.outcome === 'rejected' ? `rejected: ${result.reason}` : result.outcome
}

/** A re-drive's recorded outcomes as counts. */
export function countsOf(outcomes: Record<string, number>): RedriveCounts {
  const counts = emptyCounts()
  for (const [outcome, n] of Object.entries(outcomes)) {
    if (outcome === 'stored' || outcome === 'duplicate' || outcome === 'truncated') counts[outcome] += n
    else if (outcome.startsWith('rejected: ')) {
      const reason = outcome.slice('rejected: '.length) as RejectReason
      counts.rejected[reason] = (counts.rejected[reason] ?? 0) + n
    }
  }
  return counts
}

/** Letters naming an order first, in the order PostgreSQL's "C" collation sorts the safe alphabet; the rest after. */
function byOrderUid(a: DeadLetter, b: DeadLetter): number {
  if (a.order_uid === b.order_uid) return 0
  if (a.order_uid === null) return 1
  if (b.order_uid === null) return -1
  return a.order_uid < b.order_uid ? -1 : 1
}

const ATTEMPTS = 3
const RETRY_DELAY_MS = 200

/**
 * A batch that failed for a reason that may pass (a deadlock with a writer whose order_uids the dead letters
 * did not name, a connection lost) is tried again: its transaction rolled back, so nothing of it was done.
 */
async function retried<T>(batch: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await batch()
    } catch (error) {
      if (attempt >= ATTEMPTS || classifyDatabaseError(error) !== 'transient') throw error
      await sleep(RETRY_DELAY_MS * attempt)
    }
  }
}

/** Thrown to roll a dry run's batch back, carrying what it found. */
class RolledBack<T> extends Error {
  constructor(readonly value: T) {
    super('dry run: rolled back')
  }
}

/**
 * Bulk re-drive of dead letters (README: docs/operations.md). Every letter goes through the single replay's step
 * (replay.ts), many to a transaction. The set is frozen when the re-drive starts (dead-letter-redrives.ts);
 * workers claim batches with SKIP LOCKED and record each letter's outcome in the batch's transaction, so two
 * workers never take the same letter, and after a crash what committed stays done and the rest is taken again.
 */
export function createRedrive(options: RedriveOptions) {
  const { transaction, store, deadLetters, replayLetter, batchSize } = options

  async function replayAll(tx: postgres.TransactionSql, ids: readonly string[]) {
    const done: { letterId: string; result: Done; stored?: { orderUid: string; body: JsonbText } }[] = []
    // In order_uid order, as the writer inserts (orders.ts): a batch of ingest holding some of the same keys waits
    // for this one or this one for it, never both.
    const letters = (await deadLetters.getMany(ids, tx)).sort(byOrderUid)
    for (const letter of letters) {
      const { result, stored } = await replayLetter(tx, letter)
      done.push({ letterId: letter.id, result, ...(stored === undefined ? {} : { stored }) })
    }
    return done
  }

  return {
    /**
     * What a re-drive of the selection would do now, writing nothing: each batch goes through the same step and
     * is rolled back. Letters of one order in two batches both count as stored (each batch sees only the store).
     */
    async dryRun(selection: RedriveSelection): Promise<{ selected: number; counts: RedriveCounts }> {
      const counts = emptyCounts()
      let selected = 0
      let after: string | undefined
      for (;;) {
        const room = selection.limit === null ? batchSize : Math.min(batchSize, selection.limit - selected)
        if (room <= 0) break
        const page = await transaction(async (tx) => {
          const ids = await store.matchingPage(selection, after, room, tx)
          throw new RolledBack({ ids, done: await replayAll(tx, ids) })
        }).catch((error: unknown) => {
          if (error instanceof RolledBack) return error.value as { ids: string[]; done: Awaited<ReturnType<typeof replayAll>> }
          throw error
        })
        for (const { result } of page.done) count(counts, result)
        selected += page.ids.length
        after = page.ids.at(-1)
        if (page.ids.length < room) break
      }
      return { selected, counts }
    },

    /** Starts a re-drive of the selection, or joins the running one of the same selection. */
    start: (selection: RedriveSelection) => store.start(selection),

    state: (id: string): Promise<RedriveState | undefined> => store.state(id),

    /**
     * Works on the re-drive until every letter has its outcome (other workers' too: their batches are awaited),
     * or until `signal` aborts it between batches. Returns what this run did.
     */
    async run(id: string, run: { signal?: AbortSignal; onProgress?: (progress: RedriveProgress) => void } = {}): Promise<RedriveCounts> {
      const counts = emptyCounts()
      const report = async () => {
        if (run.onProgress === undefined) return
        const state = await store.state(id)
        run.onProgress({ counts, done: state?.done ?? 0, total: state?.total ?? 0 })
      }
      await report()
      while (run.signal?.aborted !== true) {
        const done = await retried(() =>
          transaction(async (tx) => {
            const ids = await store.claim(tx, id, batchSize)
            if (ids.length === 0) return undefined
            const done = await replayAll(tx, ids)
            await store.record(tx, id, done.map(({ letterId, result }) => ({ letterId, outcome: outcomeText(result) })))
            return done
          }),
        )
        if (done === undefined) {
          // Nothing free: other workers hold the rest. Their batches end (or their crash ends them); then look again.
          if (await retried(() => transaction((tx) => store.awaitOthers(tx, id)))) continue
          await store.finish(id)
          await report()
          break
        }
        for (const { result, stored } of done) {
          if (stored !== undefined) options.cache?.set(stored.orderUid, stored.body)
          options.metrics?.redrivenLetters.inc({ outcome: result.outcome satisfies RedriveOutcome })
          count(counts, result)
        }
        await report()
      }
      return counts
    },
  }
}

export type Redrive = ReturnType<typeof createRedrive>

export interface RedriveLog {
  info(fields: object, message: string): void
  warn(fields: object, message: string): void
}

/**
 * The service's re-drives: the HTTP route starts one and returns; it runs here in the background, one run per
 * re-drive in this instance, until it finishes, fails (its state says how far it got; starting it again resumes
 * it) or the service stops.
 */
export function createRedriveRunner(redrive: Redrive, log: RedriveLog) {
  const running = new Map<string, Promise<void>>()
  const stopping = new AbortController()
  return {
    dryRun: redrive.dryRun,
    state: redrive.state,
    async start(selection: RedriveSelection): Promise<RedriveState> {
      const { id, joined } = await redrive.start(selection)
      const state = await redrive.state(id)
      if (!running.has(id) && !stopping.signal.aborted) {
        log.info({ redrive: id, joined, selection, total: state?.total }, 'dead-letter re-drive started')
        const work = redrive
          .run(id, { signal: stopping.signal })
          .then((counts) => log.info({ redrive: id, counts }, 'dead-letter re-drive ended'))
          .catch((error: unknown) => log.warn({ err: error, redrive: id }, 'dead-letter re-drive failed; start it again to resume'))
          .finally(() => running.delete(id))
        running.set(id, work)
      }
      // Never undefined: the re-drive was just started, and re-drives are never deleted.
      return state!
    },
    /** Stops between batches: what committed stays done. */
    async close(): Promise<void> {
      stopping.abort()
      await Promise.all(running.values())
    },
  }
}

export type RedriveRunner = ReturnType<typeof createRedriveRunner>
