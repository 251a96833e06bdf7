import { setTimeout as sleep } from 'node:timers/promises'
import type { Scenario } from '../lib/harness.js'
import { conflicting, republished } from '../lib/messages.js'

/**
 * Every fault in one run, overlapping with ingest: PostgreSQL down at start-up, SIGKILLs, a held lock, a PostgreSQL
 * outage, a SIGTERM, a broker crash, identical republishes and conflicting ones, hostile messages throughout.
 */
export const allTogether: Scenario = {
  name: 'all-together',
  summary: 'every fault in one run, overlapping with ingest of valid and hostile messages',
  async run(ctx) {
    const { valid, hostile, kills } = ctx.sizes
    const half = Math.floor(valid / 2)

    await ctx.pg.stop()
    ctx.fault('PostgreSQL down at service start')
    ctx.service.start()
    await sleep(2_000)
    await ctx.pg.start()
    await ctx.service.waitReady()

    const phase1 = ctx.mix(half, Math.floor(hostile / 2))
    const killsNow = Math.ceil(kills / 2)
    const first = ctx.publishInBackground(phase1, { rate: ctx.rateFor(phase1.length, killsNow * 1.2 + 16) })
    for (let k = 0; k < killsNow; k++) {
      await ctx.pause(200, 1_200)
      await ctx.service.kill()
      ctx.fault('SIGKILL service')
      ctx.service.start()
    }
    await ctx.service.waitReady()
    await ctx.sql.begin(async (tx) => {
      await tx`lock table orders in access exclusive mode`
      await sleep(ctx.settings.ackWaitMs * 2 + 1_000)
    })
    ctx.fault('orders locked past the ack wait')
    await ctx.pg.stop()
    ctx.fault('PostgreSQL stopped')
    await sleep(4_000)
    await ctx.pg.start()
    await ctx.service.terminate()
    ctx.fault('SIGTERM service')
    await ctx.service.startReady()
    await first.done

    await ctx.pause(0, 300)
    await ctx.broker.kill()
    ctx.fault(ctx.broker.crashName)
    await sleep(1_000)
    await ctx.broker.start()
    await ctx.service.waitReady(30_000)

    const phase2 = [...ctx.mix(valid - half, hostile - Math.floor(hostile / 2)), ...republished(phase1.slice(0, Math.floor(phase1.length / 4)))]
    const second = ctx.publishInBackground(phase2, { rate: ctx.rateFor(phase2.length, (kills - killsNow) * 1.2 + 1) })
    for (let k = killsNow; k < kills; k++) {
      await ctx.pause(200, 1_200)
      await ctx.service.kill()
      ctx.fault('SIGKILL service')
      ctx.service.start()
    }
    await second.done
    await ctx.service.waitReady()
    // Conflicts only once the originals are in: a conflicting version arriving first would become the original.
    await ctx.waitForDrain()
    await ctx.publish(conflicting(phase1.slice(0, 40)))
  },
}
