import type { Scenario } from '../lib/harness.js'
import { conflicting, republished } from '../lib/messages.js'

/**
 * The same messages published again (identical orders: absorbed; the same bad bytes: dead-lettered again, being new
 * messages), and some orders republished with different content: one 'conflict' dead letter each, stored order unchanged.
 */
export const republish: Scenario = {
  name: 'republish',
  summary: 'the same orders republished (absorbed), and orders republished with different content (one conflict each)',
  async run(ctx) {
    await ctx.service.startReady()
    const first = ctx.mix(Math.floor(ctx.sizes.valid / 2), Math.floor(ctx.sizes.hostile / 2))
    await ctx.publish(first)
    // Drained first: a conflicting version must arrive after the original, or it would become the original.
    await ctx.waitForDrain()
    const again = republished(first)
    const hostileAgain = first.filter((message) => message.expect.kind === 'rejected')
    const changed = conflicting(first.slice(0, Math.max(10, Math.floor(first.length / 50))))
    await ctx.publish([...again, ...hostileAgain, ...changed])
    await ctx.waitForDrain()
    await ctx.service.scrape()
    const absorbed = ctx.service.duplicatesAbsorbed()
    ctx.check('every identical republish absorbed as a duplicate', absorbed === again.length, `${absorbed} absorbed of ${again.length}`)
    ctx.note(`${changed.length} orders republished with different content`)
  },
}
