import { setTimeout as sleep } from 'node:timers/promises'
import type { Scenario } from '../lib/harness.js'
import { httpGet } from '../lib/http.js'

/** PostgreSQL stopped for several seconds during ingest, then started again: the writer waits and catches up. */
export const postgresOutage: Scenario = {
  name: 'postgres-outage',
  summary: 'PostgreSQL stopped for several seconds during ingest and started again',
  async run(ctx) {
    const outages = ctx.sizes.valid >= 10_000 ? 3 : 1
    const outageMs = ctx.sizes.valid >= 10_000 ? 8_000 : 5_000
    await ctx.service.startReady()
    const messages = ctx.mix(ctx.sizes.valid, ctx.sizes.hostile)
    const publishing = ctx.publishInBackground(messages, { rate: ctx.rateFor(messages.length, outages * (outageMs / 1000 + 2)) })
    let sawNotReady = false
    let healthzFailures = 0
    for (let o = 0; o < outages; o++) {
      await ctx.pause(500, 1_500)
      await ctx.pg.stop()
      ctx.fault('PostgreSQL stopped')
      const until = Date.now() + outageMs
      while (Date.now() < until) {
        // Liveness must not depend on the database; readiness must say it is gone (checked every 2 s).
        if ((await httpGet(ctx.service.port, '/healthz', { timeoutMs: 2_000 })).status !== 200) healthzFailures++
        if ((await httpGet(ctx.service.port, '/readyz', { timeoutMs: 2_000 })).status === 503) sawNotReady = true
        await sleep(250)
      }
      if (o === outages - 1) {
        // A graceful stop while the database is down must still end promptly; the unwritten batch stays unacked.
        const life = await ctx.service.terminate()
        ctx.fault('SIGTERM service while PostgreSQL is down')
        ctx.check('SIGTERM while PostgreSQL is down: exit 0 within 15 s', life !== undefined && life.status.code === 0 && (life.stopMs ?? Infinity) < 15_000, life ? `exit ${life.status.code ?? life.status.signal} after ${life.stopMs} ms` : 'not running')
        // Started again while PostgreSQL is still down: it must wait for it.
        ctx.service.start()
        await sleep(1_000)
      }
      await ctx.pg.start()
    }
    await publishing.done
    ctx.check('/healthz answered 200 throughout the outages', healthzFailures === 0, `${healthzFailures} failures`)
    ctx.check('/readyz said 503 during an outage', sawNotReady)
    await ctx.service.waitReady()
  },
}
