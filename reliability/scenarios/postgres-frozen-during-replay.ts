import type { Scenario } from '../lib/harness.js'

/**
 * PostgreSQL stops answering altogether (every connection frozen, new ones too) while an operator replays dead
 * letters (POST /dead-letters/:id/replay): the replay answers 503 within QUERY_TIMEOUT_MS (5 s) instead of
 * hanging, and once PostgreSQL answers again the same replay passes. Ingest goes on around it.
 */
export const postgresFrozenDuringReplay: Scenario = {
  name: 'postgres-frozen-during-replay',
  summary: 'PostgreSQL frozen (every connection, new ones too) during a dead-letter replay: 503 within the bound, then it passes',
  proxied: true,
  async run(ctx) {
    const proxy = ctx.proxies!.postgres
    const half = Math.floor(ctx.sizes.valid / 2)
    await ctx.service.startReady()
    await ctx.publish(ctx.mix(half, Math.floor(ctx.sizes.hostile / 2)))
    await ctx.waitForDrain()
    // Refused by the gate again on replay: the replay writes its outcome on the dead letter and stores nothing.
    const letters = await ctx.sql<{ id: string }[]>`select id::text as id from dead_letters where reason in ('schema', 'not_json') order by id limit 3`
    ctx.check('dead letters to replay', letters.length > 0, `${letters.length}`)
    const publishing = ctx.publishInBackground(ctx.mix(ctx.sizes.valid - half, ctx.sizes.hostile - Math.floor(ctx.sizes.hostile / 2)), { rate: ctx.sizes.rate / 2 })
    for (const [i, { id }] of letters.entries()) {
      // New connections freeze too: the pool may well open one for the replay (a fresh one would pass).
      proxy.freeze({ newConnections: 'freeze' })
      ctx.fault('PostgreSQL connections frozen during a replay')
      const started = performance.now()
      const frozen = await replay(ctx.service.port, id)
      const answeredMs = Math.round(performance.now() - started)
      proxy.thaw()
      ctx.check(`replay ${i + 1} during the freeze answered 503 within the bound (5 s) + 1 s`, frozen.status === 503 && answeredMs <= 6_000, `${frozen.status} in ${answeredMs} ms`)
      const again = await replay(ctx.service.port, id)
      ctx.check('the same replay afterwards answered 200, rejected', again.status === 200 && again.outcome === 'rejected', `${again.status} ${again.outcome}`)
      ctx.note(`replay ${i + 1} during the freeze: ${frozen.status} after ${answeredMs} ms; again: ${again.status}`)
    }
    await publishing.done
    await ctx.service.waitReady()
  },
}

async function replay(port: number, id: string): Promise<{ status: number; outcome?: string }> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/dead-letters/${id}/replay`, { method: 'POST', signal: AbortSignal.timeout(30_000) })
    const body = (await response.json()) as { outcome?: string }
    return { status: response.status, outcome: body.outcome }
  } catch (error) {
    return { status: 0, outcome: String(error) }
  }
}
