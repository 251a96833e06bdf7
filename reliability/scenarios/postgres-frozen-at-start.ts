import type { Scenario } from '../lib/harness.js'
import { httpGet } from '../lib/http.js'

/**
 * The service's first PostgreSQL connection freezes during start-up, before its migrations are done (a freezing
 * proxy): the start-up is given up on at MIGRATION_TIMEOUT_MS (5 s here) and retried on a fresh connection.
 */
export const postgresFrozenAtStart: Scenario = {
  name: 'postgres-frozen-at-start',
  summary: 'the first PostgreSQL connection frozen during start-up (migrations): retried on a fresh one',
  proxied: true,
  // It publishes before the service has come up; on JetStream the service creates the stream only after the
  // database answered, so there is nowhere to publish yet (as for postgres-down-at-start).
  transports: ['stan'],
  async run(ctx) {
    const proxy = ctx.proxies!.postgres
    // Orders wait at the broker meanwhile.
    await ctx.publish(ctx.mix(Math.floor(ctx.sizes.valid / 2), Math.floor(ctx.sizes.hostile / 2)))
    proxy.freeze({ newConnections: 'freeze' })
    const startedAt = performance.now()
    ctx.service.start()
    await proxy.accepted(1)
    // The connections made so far stay frozen; the next ones pass.
    proxy.freeze({ newConnections: 'pass' })
    ctx.fault('PostgreSQL connection frozen at start-up')
    ctx.check('/healthz answered during the frozen start-up', (await httpGet(ctx.service.port, '/healthz', { timeoutMs: 2_000 })).status === 200)
    ctx.check('/readyz said 503 during the frozen start-up', (await httpGet(ctx.service.port, '/readyz', { timeoutMs: 2_000 })).status === 503)
    await ctx.service.waitReady(30_000)
    const readyMs = Math.round(performance.now() - startedAt)
    ctx.check('ready within the migration bound (5 s) + 10 s', readyMs <= 15_000, `${readyMs} ms`)
    ctx.note(`ready ${readyMs} ms after a start-up whose first connection froze`)
    proxy.thaw()
    await ctx.publish(ctx.mix(ctx.sizes.valid - Math.floor(ctx.sizes.valid / 2), ctx.sizes.hostile - Math.floor(ctx.sizes.hostile / 2)))
  },
}
