import { setTimeout as sleep } from 'node:timers/promises'
import type { Scenario } from '../lib/harness.js'
import { httpGet } from '../lib/http.js'

/** The service started while PostgreSQL refuses connections: it must wait (not exit) and become ready once it is up. */
export const postgresDownAtStart: Scenario = {
  name: 'postgres-down-at-start',
  summary: 'the service started while PostgreSQL refuses connections: it waits, then becomes ready when PostgreSQL starts',
  // It publishes before the service has ever come up; on JetStream the service creates the stream only after the
  // database answered, so there is nowhere to publish yet.
  transports: ['stan'],
  async run(ctx) {
    const downMs = 6_000
    const half = Math.floor(ctx.sizes.valid / 2)
    await ctx.pg.stop()
    ctx.fault('PostgreSQL down at service start')
    // First a SIGTERM while it waits for PostgreSQL: the stop must be graceful there too.
    ctx.service.start()
    await sleep(2_000)
    const early = await ctx.service.terminate(10_000)
    ctx.fault('SIGTERM service while waiting for PostgreSQL')
    ctx.check('SIGTERM while waiting for PostgreSQL: exit 0', early !== undefined && early.status.code === 0, early ? `exit ${early.status.code ?? early.status.signal} after ${early.stopMs} ms` : 'not running')
    ctx.service.start()
    // Orders keep arriving at the broker meanwhile; they wait there for the service.
    await ctx.publish(ctx.mix(half, Math.floor(ctx.sizes.hostile / 2)))
    let healthz = 0
    let readyWhileDown = 0
    const until = Date.now() + downMs
    while (Date.now() < until && ctx.service.isRunning()) {
      if ((await httpGet(ctx.service.port, '/healthz', { timeoutMs: 2_000 })).status === 200) healthz++
      if ((await httpGet(ctx.service.port, '/readyz', { timeoutMs: 2_000 })).status === 200) readyWhileDown++
      await sleep(250)
    }
    ctx.check('still running after PostgreSQL refused it for 6 s', ctx.service.isRunning())
    ctx.check('/healthz answered while PostgreSQL was down', healthz > 0, `${healthz} answers`)
    ctx.check('/readyz never said ready while PostgreSQL was down', readyWhileDown === 0, `${readyWhileDown} ready answers`)
    const started = Date.now()
    await ctx.pg.start()
    await ctx.service.waitReady(30_000)
    ctx.note(`ready ${Date.now() - started} ms after PostgreSQL started`)
    await ctx.publish(ctx.mix(ctx.sizes.valid - half, ctx.sizes.hostile - Math.floor(ctx.sizes.hostile / 2)))
  },
}
