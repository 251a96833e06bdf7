import type { Scenario } from '../lib/harness.js'

/**
 * The service SIGKILLed at random moments while orders stream in (mid-batch, between commit and ack, during its
 * start-up), many times in a row, each time started again at once with the same client id.
 */
export const serviceSigkill: Scenario = {
  name: 'service-sigkill',
  summary: 'the service SIGKILLed at random moments during ingest, many times in a row, restarted with the same client id',
  async run(ctx) {
    const { kills } = ctx.sizes
    await ctx.service.startReady()
    const messages = ctx.mix(ctx.sizes.valid, ctx.sizes.hostile)
    // About 1.5 s per kill cycle: publishing lasts as long as the kills, so every kill lands during ingest.
    const publishing = ctx.publishInBackground(messages, { rate: ctx.rateFor(messages.length, kills * 1.5) })
    let duringIngest = 0
    for (let k = 0; k < kills; k++) {
      await ctx.pause(200, 1_500)
      const written = await ctx.rowsWritten()
      if (!publishing.isDone() || (written ?? 0) < messages.length) duringIngest++
      await ctx.service.kill()
      ctx.fault('SIGKILL service')
      // Not waiting for readiness: the next kill may come while it starts, migrates or warms its cache.
      ctx.service.start()
    }
    await publishing.done
    await ctx.service.waitReady()
    ctx.note(`${duringIngest} of ${kills} kills while messages were still arriving or being written`)
  },
}
