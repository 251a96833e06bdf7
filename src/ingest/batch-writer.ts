import { EventEmitter } from 'node:events'
import { Backoff, type BackoffPolicy } from '../backoff.js'
import postgres from 'postgres'
import type { Logger } from 'pino'
import { ServiceError } from '../errors.js'
import type { Metrics } from '../metrics.js'
import { classifyDatabaseError } from '../store/database-errors.js'
import type { Transaction } from '../store/db.js'
import type { DeadLetterStore } from '../store/dead-letters.js'
import type { OrderStore } from '../store/orders.js'
import type { GateCheck } from './gate.js'
import type { JsonbText } from '../store/orders.js'
import { createStoreVerdicts } from './store-verdicts.js'
import type { BrokerMessage, MessageOrigin } from './transport.js'
import type { RejectReason, Verdict } from './verdict.js'

/** What the writer needs of the cache (src/cache/order-cache.ts provides it). */
export interface OrderCacheWriter {
  set(orderUid: string, body: JsonbText): void
  has(orderUid: string): boolean
}

export interface BatchWriterOptions {
  /**
   * Runs a batch's transaction. The service bounds it (src/store/bounded-pool.ts): a transaction not committed in
   * time fails with a code, as an unreachable database does, and is retried.
   */
  transaction: Transaction
  orders: Pick<OrderStore, 'insertMany'>
  deadLetters: Pick<DeadLetterStore, 'insertMany'>
  cache: OrderCacheWriter
  metrics: Metrics
  /** Gates each message as it arrives; the verdicts come back in arrival order (src/ingest/gate-thread.ts). */
  gate: GateCheck
  channel: string
  /** Messages per transaction at most. */
  maxBatch: number
  /** How long the first message of a batch waits for company. */
  maxWaitMs: number
  log: Pick<Logger, 'info' | 'warn' | 'error'>
  /** Retry delays while the database fails: from initialMs, doubling, up to maxMs. */
  backoff?: BackoffPolicy
  /**
   * Batches written at the same time (default 2): while PostgreSQL commits one, the next is sent, so neither
   * waits for the other. They never hold one order_uid: a message whose order_uid is in a batch not committed
   * yet waits for that commit (see takeBatch).
   */
  concurrency?: number
}

export type BatchWriter = ReturnType<typeof createBatchWriter>

interface Entry {
  data: Buffer
  sequence: number
  origin: MessageOrigin | undefined
  /** One per delivery: a message redelivered while still pending is kept once and acked for each delivery. */
  acks: (() => void)[]
  /** Undefined while the gate is at work on it; the gate's, or `unstorable` once PostgreSQL refused it. */
  verdict: Verdict | undefined
}

/** An entry the gate is done with. */
type GatedEntry = Entry & { verdict: Verdict }

type Attempt = { kind: 'committed' } | { kind: 'retry'; error: Error } | { kind: 'data'; error: Error }

/**
 * The writer's life. `running`: takes messages and writes them. `stopping` (stop() was called): takes no more,
 * writes and acks what it has. `abandoned` (a write failed while stopping): writes nothing more; what is left
 * stays unacked, for the broker to deliver again to the next run. Only forward: running → stopping → abandoned.
 */
export type WriterState = 'running' | 'stopping' | 'abandoned'

/** What a committed batch wrote (see MessageOutcome in verdict.ts). */
export interface BatchCommitted {
  messages: number
  stored: number
  duplicates: number
  deadLettered: number
  alreadyDeadLettered: number
  seconds: number
}

/** The writer's events, for whoever wants to follow it (tests await them rather than poll). */
export interface BatchWriterEvents {
  committed: [BatchCommitted]
  /** The sequences acked after a commit, one per delivery (a message delivered twice while pending is there twice). */
  acked: [sequences: readonly number[]]
  /** The dead letters of a commit; `written` is false where the message's dead letter was stored already. */
  'dead-lettered': [letters: readonly { sequence: number; reason: RejectReason; written: boolean }[]]
  /** A write failed; it is tried again after retryInMs, or never (undefined) when the writer is stopping. */
  'write-failed': [failure: { error: Error; retryInMs: number | undefined }]
  state: [WriterState]
}

/**
 * Gates messages and writes those that arrive together in one transaction: orders first, then dead letters
 * (rejects and conflicts). Only after the commit are orders put in the cache and messages acked, so a crash
 * or an outage leaves them unacked and the broker delivers them again.
 */
export function createBatchWriter(options: BatchWriterOptions) {
  const { transaction, cache, metrics, gate, channel, log } = options
  const storeVerdicts = createStoreVerdicts(options)
  const backoff = options.backoff ?? { initialMs: 100, maxMs: 5_000 }
  const concurrency = options.concurrency ?? 2

  /** Every message not acked yet, by sequence: waiting or being written. */
  const unacked = new Map<number, Entry>()
  const waiting: GatedEntry[] = []
  /** Messages with the gate; stop() waits for their verdicts, as for the batches in flight. */
  let gating = 0
  const gatedWaiters: (() => void)[] = []
  let timer: NodeJS.Timeout | undefined
  /** Batches being written. */
  const writing = new Set<Promise<void>>()
  /** The order_uids of the batches being written, until each commits. */
  const inFlight = new Set<string>()
  let state: WriterState = 'running'
  /** The database's health as the writes see it, apart from the writer's life: false from a failed write to the next commit. */
  let healthy = true
  const events = new EventEmitter<BatchWriterEvents>()
  /** Aborted by stop(): cuts the retry waits short. */
  const stopping = new AbortController()

  function add(message: BrokerMessage): void {
    // After stop the message is simply not acked: the broker delivers it again to the next run.
    if (state !== 'running') return
    const pending = unacked.get(message.sequence)
    if (pending !== undefined) {
      pending.acks.push(message.ack)
      return
    }
    // Gated on arrival: the CPU work overlaps the write of the batch before, which waits on PostgreSQL.
    const entry: Entry = { data: message.data, sequence: message.sequence, origin: message.origin, acks: [message.ack], verdict: undefined }
    unacked.set(message.sequence, entry)
    gating++
    void gate(message.data).then((verdict) => {
      entry.verdict = verdict
      // Verdicts come in arrival order, and batches keep it (see takeBatch).
      waiting.push(entry as GatedEntry)
      if (--gating === 0) for (const resolve of gatedWaiters.splice(0)) resolve()
      schedule()
    })
  }

  function schedule(): void {
    if (state === 'abandoned' || waiting.length === 0 || writing.size >= concurrency) return
    if (waiting.length >= options.maxBatch) kick()
    else timer ??= setTimeout(kick, options.maxWaitMs)
  }

  /** Starts batches while a slot is free. */
  function kick(): void {
    clearTimeout(timer)
    timer = undefined
    while (state !== 'abandoned' && waiting.length > 0 && writing.size < concurrency) {
      const { batch, uids } = takeBatch()
      if (batch.length === 0) return
      const written: Promise<void> = writeUntilDone(batch).finally(() => {
        for (const uid of uids) inFlight.delete(uid)
        writing.delete(written)
        // What arrived while every slot was busy has waited long enough: write it now.
        if (writing.size === 0) kick()
        else schedule()
      })
      writing.add(written)
    }
  }

  /**
   * The next batch: the waiting messages in channel order, up to maxBatch, but an order whose order_uid is in a
   * batch not committed yet (in flight, or taken into this one) stays waiting, in its place, until that batch has
   * committed. So of two messages with one order_uid the first is written first and the later meets it as stored
   * (a duplicate or a conflict), and no two batches insert one order_uid at once (no lock waits, no deadlock).
   */
  function takeBatch(): { batch: GatedEntry[]; uids: string[] } {
    const batch: GatedEntry[] = []
    const uids: string[] = []
    const held: GatedEntry[] = []
    let taken = 0
    for (; taken < waiting.length && batch.length < options.maxBatch; taken++) {
      const entry = waiting[taken]!
      if (entry.verdict.ok) {
        const uid = entry.verdict.orderUid
        if (inFlight.has(uid)) {
          held.push(entry)
          continue
        }
        inFlight.add(uid)
        uids.push(uid)
      }
      batch.push(entry)
    }
    if (held.length === 0) waiting.splice(0, taken)
    else waiting.splice(0, taken, ...held)
    return { batch, uids }
  }

  /** Writes the entries, retrying while the database fails; data errors are isolated by bisection. */
  async function writeUntilDone(entries: GatedEntry[]): Promise<void> {
    const delays = new Backoff(backoff)
    for (;;) {
      const attempt = await write(entries)
      if (attempt.kind === 'committed') {
        if (!healthy) log.info('database writes recovered')
        healthy = true
        return
      }
      if (attempt.kind === 'data') return isolate(entries, attempt.error)
      healthy = false
      metrics.batchRetries.inc()
      if (state !== 'running') {
        events.emit('write-failed', { error: attempt.error, retryInMs: undefined })
        if (state === 'stopping') enter('abandoned')
        log.warn({ err: attempt.error, messages: entries.length }, 'stopping while the database fails: messages left unacked for redelivery')
        return
      }
      const delay = delays.next()
      events.emit('write-failed', { error: attempt.error, retryInMs: delay })
      log.warn({ err: attempt.error, retryInMs: delay }, 'batch write failed, retrying')
      await Backoff.wait(delay, stopping.signal)
    }
  }

  /** A write that can never succeed: split until the message(s) at fault are found, and dead-letter those. */
  async function isolate(entries: GatedEntry[], error: Error): Promise<void> {
    const [only] = entries
    if (entries.length === 1 && only !== undefined) {
      if (!only.verdict.ok && only.verdict.reason === 'unstorable') {
        throw new ServiceError('dead_letter_unstorable', `the dead letter for message ${only.sequence} cannot be stored`, { cause: error })
      }
      log.warn({ err: error, sequence: only.sequence }, 'message cannot be stored: dead-lettered as unstorable')
      const orderUid = only.verdict.orderUid
      only.verdict = { ok: false, reason: 'unstorable', orderUid, errors: [{ path: '', message: describe(error) }] }
      return writeUntilDone(entries)
    }
    const half = Math.ceil(entries.length / 2)
    await writeUntilDone(entries.slice(0, half))
    if (state !== 'abandoned') await writeUntilDone(entries.slice(half))
  }

  async function write(entries: GatedEntry[]): Promise<Attempt> {
    const started = performance.now()
    let results
    try {
      // The writer's one transaction, within its bound (the service passes the bounded pool's).
      results = await transaction((tx) => storeVerdicts(tx, channel, entries))
    } catch (error) {
      return classify(error)
    }
    const seconds = (performance.now() - started) / 1000

    // Counted from what the transaction wrote: a redelivered message is not counted again as stored or dead-lettered.
    let stored = 0
    let duplicates = 0
    let deadLettered = 0
    let alreadyDeadLettered = 0
    for (const result of results) {
      if (result.outcome === 'stored') {
        cache.set(result.orderUid, result.body)
        stored++
      } else if (result.outcome === 'duplicate') {
        // Stored by an attempt of ours whose commit answer never came (so it was never cached), or by another
        // instance: cached now, so a read of it does not depend on the database (as during the next outage).
        if (!cache.has(result.orderUid)) cache.set(result.orderUid, result.body)
        duplicates++
      }
      else {
        if (result.outcome === 'dead_lettered') deadLettered++
        else alreadyDeadLettered++
        metrics.messages.inc({ outcome: result.outcome, reason: result.reason })
      }
    }
    for (const entry of entries) {
      unacked.delete(entry.sequence)
      for (const ack of entry.acks) ack()
    }
    if (stored > 0) metrics.messages.inc({ outcome: 'stored' }, stored)
    if (duplicates > 0) metrics.messages.inc({ outcome: 'duplicate' }, duplicates)
    metrics.batchSize.observe(entries.length)
    metrics.commitSeconds.observe(seconds)
    events.emit('committed', { messages: entries.length, stored, duplicates, deadLettered, alreadyDeadLettered, seconds })
    // Built only for a listener: the hot path pays nothing for them.
    if (events.listenerCount('acked') > 0) events.emit('acked', entries.flatMap((entry) => entry.acks.map(() => entry.sequence)))
    if (deadLettered + alreadyDeadLettered > 0 && events.listenerCount('dead-lettered') > 0) {
      const letters = results.flatMap((result, i) =>
        result.outcome === 'dead_lettered' || result.outcome === 'already_dead_lettered'
          ? [{ sequence: entries[i]!.sequence, reason: result.reason, written: result.outcome === 'dead_lettered' }]
          : [],
      )
      events.emit('dead-lettered', letters)
    }
    return { kind: 'committed' }
  }

  function enter(next: WriterState): void {
    state = next
    events.emit('state', next)
  }

  return {
    add,

    /** committed, acked, dead-lettered, write-failed, state: see BatchWriterEvents. */
    events,

    state(): WriterState {
      return state
    },

    /** False while the database fails; true again after the next commit. */
    isHealthy(): boolean {
      return healthy
    },

    /** Messages taken but not acked yet. */
    pendingCount(): number {
      return unacked.size
    },

    /**
     * Stops taking messages, writes and acks what is pending, and resolves when done. If the database fails
     * meanwhile it gives up after one more attempt: those messages stay unacked and the broker redelivers them.
     */
    async stop(): Promise<void> {
      if (state === 'running') enter('stopping')
      stopping.abort()
      if (gating > 0) await new Promise<void>((resolve) => gatedWaiters.push(resolve))
      kick()
      while (writing.size > 0) await Promise.all(writing)
    },
  }
}

/**
 * Data errors are isolated; a transient failure is retried, and so is one the server refuses for another reason
 * (a permission, a missing table): nothing is acked meanwhile and /readyz says so, until someone fixes it.
 * An error that is not the database's is a bug here and is thrown.
 */
function classify(error: unknown): Attempt {
  const kind = classifyDatabaseError(error)
  if (kind === 'bug') throw error
  return { kind: kind === 'data' ? 'data' : 'retry', error: error as Error }
}

function describe(error: Error): string {
  const code = error instanceof postgres.PostgresError ? `${error.code} ` : ''
  // The text may quote the message: keep it storable in jsonb (no U+0000, no surrogates).
  return `PostgreSQL refused the message: ${code}${error.message}`.slice(0, 500).replace(/[\0\uD800-\uDFFF]/g, '\uFFFD')
}
