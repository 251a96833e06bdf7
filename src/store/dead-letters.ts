import { createHash } from 'node:crypto'
import type { MessageOrigin } from '../ingest/transport.js'
import type { RejectError, RejectReason } from '../ingest/verdict.js'
import type { Queryable, Sql } from './db.js'

export interface NewDeadLetter {
  channel: string
  brokerSeq: number | null
  reason: RejectReason
  errors: readonly RejectError[]
  orderUid: string | null
  payload: Uint8Array
  /** The NATS Streaming channel and sequence of a message stan2js copied to JetStream (MessageOrigin). */
  origin?: MessageOrigin | null
}

export interface DeadLetterSummary {
  id: string
  received_at: Date
  channel: string
  broker_seq: string | null
  reason: RejectReason
  errors: RejectError[]
  order_uid: string | null
  payload_size: number
  payload_sha256: string
  preview: string
  replayed_at: Date | null
  replay_outcome: string | null
  /** Set for a message copied from NATS Streaming by stan2js: the channel and sequence it had there. */
  origin_channel: string | null
  origin_seq: string | null
}

export interface DeadLetter extends DeadLetterSummary {
  payload: Buffer
  /** True when the stored payload was cut at the size bound: it cannot be replayed. */
  truncated: boolean
}

export interface DeadLetterLimits {
  /** Bytes of each payload kept; the size and sha256 always describe the whole original. */
  maxPayloadBytes: number
}

type LetterRow = { channel: string; broker_seq: number | null; payload_sha256: string }

function byMessage(a: LetterRow, b: LetterRow): number {
  if (a.channel !== b.channel) return a.channel < b.channel ? -1 : 1
  return (a.broker_seq ?? 0) - (b.broker_seq ?? 0)
}

/** A message's identity as the unique index sees it, spelt as the insert returns it. */
function messageKey(row: LetterRow): string {
  return `${row.channel} ${row.broker_seq} ${row.payload_sha256}`
}

export type DeadLetterStore = ReturnType<typeof createDeadLetterStore>

const PREVIEW_CHARS = 200
// Any fixed number, the same for every instance; other than the migrations' lock.
export const RETENTION_LOCK = 0x726574656e74 // "retent"

export function createDeadLetterStore(sql: Sql, limits: DeadLetterLimits) {
  return {
    /**
     * Inserts a batch; a redelivered message (same channel, sequence and bytes) is stored once. Says for each
     * letter, in input order, whether this insert wrote it (false: it was stored already, a redelivery).
     */
    async insertMany(letters: readonly NewDeadLetter[], tx: Queryable = sql): Promise<boolean[]> {
      if (letters.length === 0) return []
      const rows = letters.map((letter) => ({
        channel: letter.channel,
        broker_seq: letter.brokerSeq,
        reason: letter.reason,
        errors: letter.errors,
        order_uid: letter.orderUid,
        payload: Buffer.from(letter.payload.subarray(0, limits.maxPayloadBytes)).toString('base64'),
        payload_size: letter.payload.byteLength,
        payload_sha256: createHash('sha256').update(letter.payload).digest('hex'),
        origin_channel: letter.origin?.channel ?? null,
        origin_seq: letter.origin?.sequence ?? null,
      }))
      // In one order (channel, sequence) for the reason orders are (see orders.insertMany): no deadlock.
      const sorted = [...rows].sort(byMessage)
      const written = await tx<{ key: string }[]>`
        insert into dead_letters (channel, broker_seq, reason, errors, order_uid, payload, payload_size, payload_sha256, origin_channel, origin_seq)
        select e ->> 'channel', (e ->> 'broker_seq')::bigint, e ->> 'reason', e -> 'errors', e ->> 'order_uid',
               decode(e ->> 'payload', 'base64'), (e ->> 'payload_size')::int, decode(e ->> 'payload_sha256', 'hex'),
               e ->> 'origin_channel', (e ->> 'origin_seq')::bigint
        from jsonb_array_elements(${JSON.stringify(sorted)}::text::jsonb) as e
        on conflict do nothing
        returning concat_ws(' ', channel, broker_seq, encode(payload_sha256, 'hex')) as key`
      const keys = new Set(written.map((row) => row.key))
      // Without a sequence a letter is never a redelivery (the unique index leaves it out): always written. A
      // message twice in one batch is written once: the first of them.
      return rows.map((row) => row.broker_seq === null || keys.delete(messageKey(row)))
    },

    /** Newest first; `before` is the id of the last row of the previous page. */
    async list(options: { limit: number; before?: string | undefined }): Promise<DeadLetterSummary[]> {
      const rows = await sql<SummaryRow[]>`
        select ${summaryColumns(sql)}
        from dead_letters
        ${options.before === undefined ? sql`` : sql`where id < ${options.before}::bigint`}
        -- Qualified: the bare name would sort by the text alias (9 before 10).
        order by dead_letters.id desc
        limit ${options.limit}`
      return rows.map(toSummary)
    },

    async get(id: string): Promise<DeadLetter | undefined> {
      const [row] = await sql<(SummaryRow & { payload: Buffer })[]>`
        select ${summaryColumns(sql)}, payload from dead_letters where id = ${id}::bigint`
      return row === undefined ? undefined : toDeadLetter(row)
    },

    /** Dead letters with their payloads, by id, in id order; ids that are gone are left out. */
    async getMany(ids: readonly string[], tx: Queryable = sql): Promise<DeadLetter[]> {
      if (ids.length === 0) return []
      const rows = await tx<(SummaryRow & { payload: Buffer })[]>`
        select ${summaryColumns(sql)}, payload from dead_letters where id = any(${ids}::bigint[]) order by dead_letters.id`
      return rows.map(toDeadLetter)
    },

    async markReplayed(id: string, outcome: string, tx: Queryable = sql): Promise<void> {
      await tx`update dead_letters set replayed_at = now(), replay_outcome = ${outcome} where id = ${id}::bigint`
    },

    /**
     * Retention: drops rows older than maxAgeDays, then the oldest beyond maxRows; returns how many went. Every
     * instance runs it hourly, one at a time: an instance that finds another pruning (the advisory lock taken)
     * skips this round and returns 0, rather than repeat its work.
     */
    async prune(retention: { maxRows: number; maxAgeDays: number }): Promise<number> {
      return sql.begin(async (tx) => {
        const [lock] = await tx<{ taken: boolean }[]>`select pg_try_advisory_xact_lock(${RETENTION_LOCK}) as taken`
        if (lock?.taken !== true) return 0
        const aged = await tx`delete from dead_letters where received_at < now() - make_interval(days => ${retention.maxAgeDays})`
        const surplus = await tx`
          delete from dead_letters where id <= (
            select id from dead_letters order by id desc offset ${retention.maxRows} limit 1
          )`
        return aged.count + surplus.count
      })
    },
  }
}

type SummaryRow = Omit<DeadLetterSummary, 'preview'> & { head: Buffer }

function summaryColumns(sql: Sql) {
  // Up to 4 bytes per character: enough bytes for the preview whatever the text.
  return sql`
    id::text as id, received_at, channel, broker_seq::text as broker_seq, reason, errors, order_uid,
    payload_size, encode(payload_sha256, 'hex') as payload_sha256,
    substring(payload from 1 for ${PREVIEW_CHARS * 4}) as head,
    replayed_at, replay_outcome, origin_channel, origin_seq::text as origin_seq`
}

/** The preview is text whatever the bytes: invalid UTF-8 shows as U+FFFD. */
function toSummary({ head, ...row }: SummaryRow): DeadLetterSummary {
  return { ...row, preview: [...head.toString('utf8')].slice(0, PREVIEW_CHARS).join('') }
}

function toDeadLetter({ payload, ...summary }: SummaryRow & { payload: Buffer }): DeadLetter {
  return { ...toSummary(summary), payload, truncated: payload.byteLength < summary.payload_size }
}
