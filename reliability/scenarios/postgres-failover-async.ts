import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { accountStored } from '../lib/accounting.js'
import type { Scenario } from '../lib/harness.js'

const run = promisify(execFile)
/** The re-read command as built into dist/ (the runner builds it before the scenarios). */
const REREAD = fileURLToPath(new URL('../../dist/src/reread.js', import.meta.url))

/**
 * What asynchronous replication costs in a fail-over, and the way back. The standby's replication connection is
 * frozen mid-ingest (it falls behind, as a lagging standby does), the primary keeps committing and the service
 * keeps acking; then the primary is SIGKILLed and the standby promoted. The orders acked in between are gone from
 * the database and the broker will not deliver them again: the scenario counts them, then runs the re-read command
 * (src/reread.ts) from before the freeze, which restores them, and the usual accounting follows (lost 0).
 */
export const postgresFailoverAsync: Scenario = {
  name: 'postgres-failover-async',
  summary: 'asynchronous standby behind, primary SIGKILLed and the standby promoted: acked orders lost, then restored by the re-read command',
  postgresPair: { hosts: 'primary-first', replication: 'asynchronous' },
  quick: false,
  async run(ctx) {
    const pair = ctx.scope.pair
    if (pair?.replication === undefined) throw new Error('postgres-failover-async needs the runner\'s PostgreSQL pair with a freezable replication link')
    await ctx.service.startReady()
    const messages = ctx.mix(ctx.sizes.valid, ctx.sizes.hostile)
    const publishing = ctx.publishInBackground(messages, { rate: ctx.rateFor(messages.length, 6) })
    await ctx.pause(1_000, 1_500)
    const frozenAt = Date.now()
    pair.replication.freeze()
    ctx.fault('standby\'s replication frozen')
    await ctx.pause(1_000, 1_500)
    await pair.primary.kill()
    ctx.fault('SIGKILL PostgreSQL primary')
    await pair.standby.promote()
    ctx.fault('standby promoted')
    await publishing.done
    await ctx.waitForDrain(5_000)

    const before = await accountStored(ctx.sql, ctx.ledger)
    ctx.note(`lost by the fail-over (acked, gone with the primary): ${before.lost}`)
    ctx.check('the fail-over lost acked orders (what asynchronous replication risks)', before.lost > 0, `${before.lost} lost`)

    const since = new Date(frozenAt - 10_000).toISOString()
    // The service's own settings: the gate must judge as the service did (MAX_MESSAGE_BYTES above all).
    const env = { ...process.env, ...ctx.broker.serviceEnv(ctx.settings), DATABASE_URL: pair.url(), MAX_MESSAGE_BYTES: String(ctx.settings.maxMessageBytes), LOG_LEVEL: 'warn' }
    const started = performance.now()
    const { stdout } = await run(process.execPath, [REREAD, '--since', since], { env, timeout: 120_000 })
    const count = JSON.parse(stdout) as { read: number; stored: number; alreadyStored: number; deadLettered: number; alreadyDeadLettered: number }
    const restored = count.stored + count.deadLettered
    ctx.note(
      `re-read --since ${since}: read ${count.read}, restored ${count.stored} orders and ${count.deadLettered} dead letters, already there ${count.alreadyStored} and ${count.alreadyDeadLettered}, in ${Math.round(performance.now() - started)} ms`,
    )
    ctx.check('the re-read restored every lost row', restored === before.lost, `restored ${restored} of ${before.lost}`)
  },
}
