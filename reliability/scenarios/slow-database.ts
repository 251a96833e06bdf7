import { setTimeout as sleep } from 'node:timers/promises'
import type { Scenario } from '../lib/harness.js'

/**
 * A slow database: the orders table locked (ACCESS EXCLUSIVE, in a transaction) for longer than the ack wait, so
 * the batch in flight cannot commit, acks are late, and the broker redelivers what the service already holds.
 */
export const slowDatabase: Scenario = {
  name: 'slow-database',
  summary: 'orders table locked longer than the ack wait: acks are late, the broker redelivers, nothing is doubled',
  async run(ctx) {
    const locks = ctx.sizes.valid >= 10_000 ? 3 : 1
    const holdMs = ctx.settings.ackWaitMs * 2 + 1_000
    await ctx.service.startReady()
    const messages = ctx.mix(ctx.sizes.valid, ctx.sizes.hostile)
    const publishing = ctx.publishInBackground(messages, { rate: ctx.rateFor(messages.length, locks * (holdMs / 1000 + 1.5)) })
    for (let l = 0; l < locks; l++) {
      await ctx.pause(300, 1_000)
      await ctx.sql.begin(async (tx) => {
        await tx`lock table orders in access exclusive mode`
        await sleep(holdMs)
      })
      ctx.fault(`orders locked ${holdMs / 1000} s`)
    }
    await publishing.done
  },
}
