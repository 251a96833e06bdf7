import type { RejectReason } from '../ingest/verdict.js'
import type { Queryable, Sql } from './db.js'

/** Which dead letters a re-drive takes; null: any. `from` is inclusive and `to` exclusive, both ISO instants. */
export interface RedriveSelection {
  reason: RejectReason | null
  channel: string | null
  from: string | null
  to: string | null
  limit: number | null
}

/** A re-drive as stored: its selection, how far it is, and each outcome (stored, duplicate, truncated, 'rejected: <reason>') with its count. */
export interface RedriveState {
  id: string
  selection: RedriveSelection
  started_at: Date
  finished_at: Date | null
  total: number
  done: number
  outcomes: Record<string, number>
}

/** A letter's outcome, as a re-drive records it. */
export interface LetterOutcome {
  letterId: string
  outcome: string
}

export type RedriveStore = ReturnType<typeof createRedriveStore>

// Any fixed number, the same for every instance; other than the migrations' and retention's locks.
export const REDRIVE_LOCK = 0x7265647276 // "redrv"

/**
 * The letters a selection matches, in id order. Letters a replay already stored (or found stored) are left out:
 * a re-drive is for what is still dead.
 */
function matching(sql: Sql, selection: RedriveSelection, after?: string) {
  return sql`
    select id from dead_letters
    where (replay_outcome is null or replay_outcome not in ('stored', 'duplicate'))
      ${selection.reason === null ? sql`` : sql`and reason = ${selection.reason}`}
      ${selection.channel === null ? sql`` : sql`and channel = ${selection.channel}`}
      ${selection.from === null ? sql`` : sql`and received_at >= ${selection.from}::timestamptz`}
      ${selection.to === null ? sql`` : sql`and received_at < ${selection.to}::timestamptz`}
      ${after === undefined ? sql`` : sql`and id > ${after}::bigint`}
    order by id`
}

export function createRedriveStore(sql: Sql) {
  return {
    /** A page of the letters the selection matches, after the id `after`: what a dry run looks at. */
    async matchingPage(selection: RedriveSelection, after: string | undefined, count: number, tx: Queryable = sql): Promise<string[]> {
      const rows = await tx<{ id: string }[]>`select id::text as id from (${matching(sql, selection, after)} limit ${count}) as page`
      return rows.map((row) => row.id)
    },

    /**
     * Starts a re-drive of the selection, freezing the set of letters it matches now, or joins the one of the
     * same selection still running (another operator's, or one a crash interrupted). One start at a time.
     */
    async start(selection: RedriveSelection): Promise<{ id: string; joined: boolean }> {
      const key = JSON.stringify(selection)
      return sql.begin(async (tx) => {
        await tx`select pg_advisory_xact_lock(${REDRIVE_LOCK})`
        const [running] = await tx<{ id: string }[]>`
          select id::text as id from dead_letter_redrives where selection = ${key}::text::jsonb and finished_at is null`
        if (running !== undefined) return { id: running.id, joined: true }
        const [created] = await tx<{ id: string }[]>`
          insert into dead_letter_redrives (selection) values (${key}::text::jsonb) returning id::text as id`
        const id = created!.id
        await tx`
          insert into dead_letter_redrive_letters (redrive_id, letter_id)
          select ${id}::bigint, id from (${matching(sql, selection)} ${selection.limit === null ? sql`` : sql`limit ${selection.limit}`}) as chosen`
        return { id, joined: false }
      })
    },

    /** Takes up to `count` letters no one holds, locked until the caller's transaction ends. */
    async claim(tx: Queryable, id: string, count: number): Promise<string[]> {
      const rows = await tx<{ letter_id: string }[]>`
        select letter_id::text as letter_id from dead_letter_redrive_letters
        where redrive_id = ${id}::bigint and outcome is null
        order by letter_id limit ${count}
        for update skip locked`
      return rows.map((row) => row.letter_id)
    },

    /**
     * With nothing left to claim: waits for the letters other workers hold (their batch commits, or their
     * transaction ends with a crash), then says whether any is still without an outcome.
     */
    async awaitOthers(tx: Queryable, id: string): Promise<boolean> {
      const locked = await tx`
        select letter_id from dead_letter_redrive_letters
        where redrive_id = ${id}::bigint and outcome is null
        limit 1
        for update`
      if (locked.length > 0) return true
      const [left] = await tx<{ any: boolean }[]>`
        select exists (select 1 from dead_letter_redrive_letters where redrive_id = ${id}::bigint and outcome is null) as any`
      return left?.any === true
    },

    async record(tx: Queryable, id: string, outcomes: readonly LetterOutcome[]): Promise<void> {
      if (outcomes.length === 0) return
      await tx`
        update dead_letter_redrive_letters as r set outcome = o.outcome
        from unnest(${outcomes.map((o) => o.letterId)}::bigint[], ${outcomes.map((o) => o.outcome)}::text[]) as o (letter_id, outcome)
        where r.redrive_id = ${id}::bigint and r.letter_id = o.letter_id`
    },

    /** Marks the re-drive finished when every letter has its outcome; a later start of its selection begins anew. */
    async finish(id: string): Promise<void> {
      await sql`
        update dead_letter_redrives set finished_at = now()
        where id = ${id}::bigint and finished_at is null
          and not exists (select 1 from dead_letter_redrive_letters where redrive_id = ${id}::bigint and outcome is null)`
    },

    async state(id: string): Promise<RedriveState | undefined> {
      const [redrive] = await sql<{ id: string; selection: RedriveSelection; started_at: Date; finished_at: Date | null }[]>`
        select id::text as id, selection, started_at, finished_at from dead_letter_redrives where id = ${id}::bigint`
      if (redrive === undefined) return undefined
      const rows = await sql<{ outcome: string | null; count: number }[]>`
        select outcome, count(*)::int as count from dead_letter_redrive_letters where redrive_id = ${id}::bigint group by outcome`
      const outcomes: Record<string, number> = {}
      let total = 0
      let done = 0
      for (const row of rows) {
        total += row.count
        if (row.outcome === null) continue
        done += row.count
        outcomes[row.outcome] = row.count
      }
      return { ...redrive, total, done, outcomes }
    },
  }
}
