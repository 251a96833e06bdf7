import postgres from 'postgres'
import type { Logger } from 'pino'
import { ServiceError } from '../errors.js'
import type { Metrics } from '../metrics.js'
import type { Sql } from '../store/db.js'
import type { DeadLetterStore, NewDeadLetter, RejectError, RejectReason } from '../store/dead-letters.js'
import type { NewOrder, OrderStore } from '../store/orders.js'
import type { GateCheck, GateVerdict } from './gate.js'
import type { BrokerMessage } from './transport.js'


/** What the writer needs of the cache (src/cache/order-cache.ts provides it). */
export interface OrderCacheWriter {
  set(orderUid: string, body: string): void
}

export interface BatchWriterOptions {
  sql: Sql
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
  backoff?: { initialMs: number; maxMs: number }
  /**
   * Batches written at the same time (default 2): while PostgreSQL commits one, the next is sent, so neither
   * waits for the other. Orders in concurrent batches never collide: PostgreSQL orders inserts of one order_uid.
   */
  concurrency?: number
}

export type BatchWriter = ReturnType<typeof createBatchWriter>

/** The gate's verdict, or what the writer found out later: PostgreSQL would not store the message. */
type Verdict = GateVerdict | { ok: false; reason: 'unstorable'; errors: readonly RejectError[]; orderUid: string | undefined }

interface Entry {
  data: Buffer
  sequence: number
  /** One per delivery: a message redelivered while still pending is kept once and acked for each delivery. */
  acks: (() => void)[]
  /** Undefined while the gate is at work on it. */
  verdict: Verdict | undefined
}

/** An entry the gate is done with. */
type GatedEntry = Entry & { verdict: Verdict }

type Attempt = { kind: 'committed' } | { kind: 'transient'; error: Error } | { kind: 'data'; error: Error }

const CONFLICT_ERRORS: RejectError[] = [{ path: '/order_uid', message: 'a different order with this order_uid is already stored' }]

/**
 * Gates messages and writes those that arrive together in one transaction: orders first, then dead letters
 * (rejects and conflicts). Only after the commit are orders put in the cache and messages acked, so a crash
 * or an outage leaves them unacked and the broker delivers them again.
 */
export function createBatchWriter(options: BatchWriterOptions) {
  const { sql, orders, deadLetters, cache, metrics, gate, channel, log } = options
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
  let healthy = true
  let stopping = false
  /** Set when a stop gave up on a failing database: what is left stays unacked for the broker to redeliver. */
  let abandoned = false
  /** Retry sleeps to cut short when stopping. */
  const wakers = new Set<() => void>()

  function add(message: Pick<BrokerMessage, 'data' | 'sequence' | 'ack'>): void {
    // After stop the message is simply not acked: the broker delivers it again to the next run.
    if (stopping) return
    const pending = unacked.get(message.sequence)
    if (pending !== undefined) {
      pending.acks.push(message.ack)
      return
    }
    // Gated on arrival: the CPU work overlaps the write of the batch before, which waits on PostgreSQL.
    const entry: Entry = { data: message.data, sequence: message.sequence, acks: [message.ack], verdict: undefined }
    unacked.set(message.sequence, entry)
    gating++
    void gate(message.data).then((verdict) => {
      entry.verdict = verdict
      // Verdicts come in arrival order, so batches keep it: of two messages with one order_uid, the first wins.
      waiting.push(entry as GatedEntry)
      if (--gating === 0) for (const resolve of gatedWaiters.splice(0)) resolve()
      schedule()
    })
  }

  function schedule(): void {
    if (abandoned || waiting.length === 0 || writing.size >= concurrency) return
    if (waiting.length >= options.maxBatch) kick()
    else timer ??= setTimeout(kick, options.maxWaitMs)
  }

  /** Starts batches while a slot is free. */
  function kick(): void {
    clearTimeout(timer)
    timer = undefined
    while (!abandoned && waiting.length > 0 && writing.size < concurrency) {
      const batch = waiting.splice(0, options.maxBatch)
      const written: Promise<void> = writeBatch(batch).finally(() => {
        writing.delete(written)
        // What arrived while every slot was busy has waited long enough: write it now.
        if (writing.size === 0) kick()
        else schedule()
      })
      writing.add(written)
    }
  }

  async function writeBatch(batch: GatedEntry[]): Promise<void> {
    const seen = new Set<string>()
    const now: GatedEntry[] = []
    const later: GatedEntry[] = []
    for (const entry of batch) {
      if (!entry.verdict.ok) now.push(entry)
      // insertMany takes each order_uid once; a second one is written next round, where it meets the first as stored.
      else if (seen.has(entry.verdict.orderUid)) later.push(entry)
      else {
        seen.add(entry.verdict.orderUid)
        now.push(entry)
      }
    }
    if (later.length > 0) waiting.unshift(...later)
    await writeUntilDone(now)
  }

  /** Writes the entries, retrying while the database fails; data errors are isolated by bisection. */
  async function writeUntilDone(entries: GatedEntry[]): Promise<void> {
    let delay = backoff.initialMs
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
      if (stopping) {
        abandoned = true
        log.warn({ err: attempt.error, messages: entries.length }, 'stopping while the database fails: messages left unacked for redelivery')
        return
      }
      log.warn({ err: attempt.error, retryInMs: delay }, 'batch write failed, retrying')
      await sleep(delay)
      delay = Math.min(delay * 2, backoff.maxMs)
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
    if (!abandoned) await writeUntilDone(entries.slice(half))
  }

  async function write(entries: GatedEntry[]): Promise<Attempt> {
    const started = performance.now()
    /** The orders to insert, and the entry of each, by index. */
    const incoming: NewOrder[] = []
    const incomingEntries: GatedEntry[] = []
    const rejected: NewDeadLetter[] = []
    for (const entry of entries) {
      const verdict = entry.verdict
      if (verdict.ok) {
        incoming.push({ orderUid: verdict.orderUid, json: verdict.json, brokerSeq: entry.sequence })
        incomingEntries.push(entry)
      } else rejected.push(deadLetter(entry, verdict.reason, verdict.errors, verdict.orderUid))
    }
    let results
    try {
      results = await sql.begin(async (tx) => {
        const results = await orders.insertMany(incoming, tx)
        const conflicts = results.flatMap((result, i) =>
          result.status === 'existing' && !result.identical ? [deadLetter(incomingEntries[i]!, 'conflict', CONFLICT_ERRORS, result.orderUid)] : [],
        )
        await deadLetters.insertMany([...rejected, ...conflicts], tx)
        return results
      })
    } catch (error) {
      return classify(error)
    }
    const seconds = (performance.now() - started) / 1000

    let stored = 0
    let duplicates = 0
    let conflicts = 0
    for (const result of results) {
      if (result.status === 'stored') {
        cache.set(result.orderUid, result.body)
        stored++
      } else if (result.identical) duplicates++
      else conflicts++
    }
    for (const entry of entries) {
      unacked.delete(entry.sequence)
      for (const ack of entry.acks) ack()
    }
    count('stored', stored)
    count('duplicate', duplicates)
    if (conflicts > 0) metrics.messages.inc({ outcome: 'dead_lettered', reason: 'conflict' }, conflicts)
    for (const letter of rejected) metrics.messages.inc({ outcome: 'dead_lettered', reason: letter.reason })
    metrics.batchSize.observe(entries.length)
    metrics.commitSeconds.observe(seconds)
    return { kind: 'committed' }
  }

  function count(outcome: 'stored' | 'duplicate', n: number): void {
    if (n > 0) metrics.messages.inc({ outcome }, n)
  }

  function deadLetter(entry: Entry, reason: RejectReason, errors: readonly RejectError[], orderUid: string | undefined): NewDeadLetter {
    return { channel, brokerSeq: entry.sequence, reason, errors, orderUid: orderUid ?? null, payload: entry.data }
  }

  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timeout = setTimeout(done, ms)
      function done() {
        clearTimeout(timeout)
        wakers.delete(done)
        resolve()
      }
      wakers.add(done)
    })
  }

  return {
    add,

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
      stopping = true
      for (const wake of wakers) wake()
      if (gating > 0) await new Promise<void>((resolve) => gatedWaiters.push(resolve))
      kick()
      while (writing.size > 0) await Promise.all(writing)
    },
  }
}

/**
 * SQLSTATE classes 22 (data exception), 23 (integrity constraint) and 54 (program limit): the same statement
 * fails the same way every time. Anything else with a code (connection refused, server shutting down, …)
 * may pass later. An error without a code is a bug here and is thrown.
 */
function classify(error: unknown): Attempt {
  if (error instanceof postgres.PostgresError && /^(22|23|54)/.test(error.code)) return { kind: 'data', error }
  if (error instanceof Error && typeof (error as { code?: unknown }).code === 'string') return { kind: 'transient', error }
  throw error
}

function describe(error: Error): string {
  const code = error instanceof postgres.PostgresError ? `${error.code} ` : ''
  // The text may quote the message: keep it storable in jsonb (no U+0000, no surrogates).
  return `PostgreSQL refused the message: ${code}${error.message}`.slice(0, 500).replace(/[\0\uD800-\uDFFF]/g, '\uFFFD')
}
