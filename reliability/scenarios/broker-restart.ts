import { setTimeout as sleep } from 'node:timers/promises'
import type { Scenario } from '../lib/harness.js'

/**
 * The broker SIGKILLed while the service works through a backlog, and started again from its file store: every
 * message it acked to the publisher survives, the durable resumes, acks it lost come back as duplicates.
 */
export const brokerRestart: Scenario = {
  name: 'broker-restart',
  summary: 'the broker SIGKILLed during ingest and restarted from its file store',
  async run(ctx) {
    const rounds = ctx.sizes.valid >= 10_000 ? 4 : 2
    await ctx.service.startReady()
    for (let r = 0; r < rounds; r++) {
      // Published whole (the publisher never talks to a broker being killed), then the kill lands in the backlog.
      await ctx.publish(ctx.mix(Math.floor(ctx.sizes.valid / rounds), Math.floor(ctx.sizes.hostile / rounds)))
      await ctx.pause(0, 300)
      await ctx.broker.kill()
      ctx.fault(ctx.broker.crashName)
      await sleep(ctx.random.int(500, 2_000))
      await ctx.broker.start()
      await ctx.service.waitReady(30_000)
    }
  },
}
