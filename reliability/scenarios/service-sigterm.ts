import type { Scenario } from '../lib/harness.js'

/**
 * SIGTERM during ingest: the graceful stop commits and acks the batch in flight, so after the restart the broker
 * redelivers only what was never written; nothing is written twice, and no duplicate is even seen.
 */
export const serviceSigterm: Scenario = {
  name: 'service-sigterm',
  summary: 'SIGTERM during ingest, restart: graceful stops exit 0 and nothing already written comes back as a duplicate',
  async run(ctx) {
    const stops = Math.max(2, Math.ceil(ctx.sizes.kills / 3))
    await ctx.service.startReady()
    const messages = ctx.mix(ctx.sizes.valid, ctx.sizes.hostile)
    const publishing = ctx.publishInBackground(messages, { rate: ctx.rateFor(messages.length, stops * 2) })
    for (let s = 0; s < stops; s++) {
      await ctx.pause(500, 1_500)
      const life = await ctx.service.terminate()
      ctx.fault('SIGTERM service')
      const detail = life === undefined ? 'was not running' : `exit ${life.status.code ?? life.status.signal} after ${life.stopMs} ms${life.forced ? ', forced with SIGKILL' : ''}`
      ctx.check(`SIGTERM ${s + 1}: graceful exit 0`, life !== undefined && life.status.code === 0 && life.forced !== true, detail)
      await ctx.service.startReady()
    }
    await publishing.done
    await ctx.waitForDrain()
    await ctx.service.scrape()
    const duplicates = ctx.service.duplicatesAbsorbed()
    ctx.check('no message written before a graceful stop came back after it', duplicates === 0, `${duplicates} duplicates absorbed`)
  },
}
