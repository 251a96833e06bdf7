import { setTimeout as sleep } from 'node:timers/promises'
import type { Scenario, ScenarioContext } from '../lib/harness.js'
import type { PostgresNode } from '../../test/support/postgres-pair.js'

/** How long after the promotion ingest must have resumed on the new primary. */
const RESUME_BOUND_MS = 10_000

/**
 * A primary and a synchronous streaming standby (test/support/postgres-pair.ts), the service given both hosts with
 * target_session_attrs=read-write. Mid-ingest the primary goes (`how`), the standby is promoted a moment later, and
 * ingest must resume on it without a restart of the service; synchronous replication makes every acked order
 * survive, so the accounting is the usual one: nothing lost, doubled or pending.
 */
function failOver(name: string, summary: string, hosts: 'primary-first' | 'standby-first', how: 'kill' | 'stop-fast', quick: boolean): Scenario {
  return {
    name,
    summary,
    postgresPair: { hosts },
    ...(quick ? {} : { quick: false as const }),
    async run(ctx) {
      const pair = ctx.scope.pair
      if (pair === undefined) throw new Error(`${name} needs the runner's PostgreSQL pair`)
      await ctx.service.startReady()
      const messages = ctx.mix(ctx.sizes.valid, ctx.sizes.hostile)
      const publishing = ctx.publishInBackground(messages, { rate: ctx.rateFor(messages.length, 6) })
      await ctx.pause(1_000, 2_000)
      const writtenBefore = (await ctx.rowsWritten()) ?? 0
      await stopPrimary(pair.primary, how)
      ctx.fault(how === 'kill' ? 'SIGKILL PostgreSQL primary' : 'PostgreSQL primary stopped -m fast')
      await ctx.pause(300, 800)
      const promotedAt = Date.now()
      await pair.standby.promote()
      ctx.fault('standby promoted')
      const resumedMs = await firstCommitAfter(ctx, promotedAt)
      ctx.note(`promotion to the first commit on the new primary: ${resumedMs === undefined ? 'none' : `${Math.round(resumedMs)} ms`} (pg_ctl promote -w included; ${writtenBefore} rows written before the primary went)`)
      ctx.check(`ingest resumed on the new primary within ${RESUME_BOUND_MS / 1000} s of the promotion`, resumedMs !== undefined, resumedMs === undefined ? 'no new row' : `${Math.round(resumedMs)} ms`)
      await publishing.done
      ctx.check('the writing instance was never restarted', ctx.service.crashes().length === 0)
    },
  }
}

function stopPrimary(primary: PostgresNode, how: 'kill' | 'stop-fast'): Promise<void> {
  return how === 'kill' ? primary.kill() : primary.stopFast()
}

/**
 * Milliseconds from the promotion (wall clock, `promotedAt`) to the first order written on the new primary, by its
 * received_at (its transaction's start), read through the accounting pool, which follows the primary.
 */
async function firstCommitAfter(ctx: ScenarioContext, promotedAt: number): Promise<number | undefined> {
  while (Date.now() - promotedAt < RESUME_BOUND_MS) {
    const [row] = await ctx.sql<{ first: number | null }[]>`
      select (extract(epoch from min(received_at)) * 1000)::float8 as first from orders where received_at > to_timestamp(${promotedAt / 1000})`.catch(() => [])
    if (typeof row?.first === 'number') return row.first - promotedAt
    await sleep(50)
  }
  return undefined
}

export const postgresFailover = failOver(
  'postgres-failover',
  'PostgreSQL primary SIGKILLed mid-ingest, the synchronous standby promoted; the service names both hosts, primary first',
  'primary-first',
  'kill',
  // About 35 s in the quick run (a pair of its own to make, the accounting's ack-wait): the variants below, 20-40 s
  // each, run in the full suite only.
  true,
)

export const postgresFailoverReversed = failOver(
  'postgres-failover-reversed',
  'as postgres-failover, with the standby named first in DATABASE_URL',
  'standby-first',
  'kill',
  false,
)

export const postgresSwitchover = failOver(
  'postgres-switchover',
  'PostgreSQL primary stopped with -m fast mid-ingest (a planned switchover), the standby promoted',
  'primary-first',
  'stop-fast',
  false,
)
