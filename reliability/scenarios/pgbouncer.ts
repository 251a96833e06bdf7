import { setTimeout as sleep } from 'node:timers/promises'
import type { Scenario } from '../lib/harness.js'

/** How long PgBouncer's server connections stay frozen: past the writer's bound, and past the server's idle timeout. */
const FROZEN_MS = 4_000

/**
 * Ingest through PgBouncer in transaction pooling mode (DATABASE_POOLER=transaction; LISTEN direct through
 * DATABASE_LISTEN_URL), with the faults a pooler adds: the service SIGKILLed (its client connections to the pooler
 * cut mid-transaction), PostgreSQL restarted behind the pooler, and the pooler's server connections frozen (no FIN,
 * no RST), which the service can only abandon on its side: the frozen transactions are ended by the server.
 */
export const pgbouncer: Scenario = {
  name: 'pgbouncer',
  summary: 'ingest through PgBouncer (transaction pooling): service SIGKILLs, PostgreSQL restarted behind it, its server connections frozen',
  pgbouncer: true,
  // About 45 s: beyond what the quick run can add (test/store/pgbouncer.test.ts covers the pooler in npm test).
  quick: false,
  async run(ctx) {
    const behind = ctx.scope.behindPooler
    if (behind === undefined) throw new Error('pgbouncer needs the runner\'s PgBouncer')
    await ctx.service.startReady()
    const messages = ctx.mix(ctx.sizes.valid, ctx.sizes.hostile)
    const publishing = ctx.publishInBackground(messages, { rate: ctx.rateFor(messages.length, 12) })
    for (let k = 0; k < 2; k++) {
      await ctx.pause(500, 1_500)
      await ctx.service.kill()
      ctx.fault('SIGKILL service')
      ctx.service.start()
    }
    await ctx.pause(500, 1_000)
    await ctx.pg.stop()
    ctx.fault('PostgreSQL restarted behind PgBouncer')
    await sleep(1_000)
    await ctx.pg.start()
    await ctx.pause(500, 1_000)
    behind.freeze({ newConnections: 'pass' })
    ctx.fault('PgBouncer\'s server connections frozen')
    await sleep(FROZEN_MS)
    behind.thaw()
    await publishing.done
    await ctx.service.waitReady()
  },
}
