import type { Scenario } from '../lib/harness.js'

/** The baseline: no faults, valid orders with every kind of hostile message among them. */
export const hostileInput: Scenario = {
  name: 'hostile-input',
  summary: 'valid orders mixed with every kind of hostile message, no fault: each one stored or dead-lettered once',
  async run(ctx) {
    await ctx.service.startReady()
    await ctx.publish(ctx.mix(ctx.sizes.valid, ctx.sizes.hostile))
  },
}
