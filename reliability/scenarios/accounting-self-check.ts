import { accountStored } from '../lib/accounting.js'
import type { Scenario } from '../lib/harness.js'
import { validOrder } from '../lib/messages.js'

class RollBack extends Error {}

/**
 * The checks must be able to fail: damage the tables in a transaction (an order deleted, one changed, a dead letter
 * deleted, one written twice) and the accounting must count exactly that; leave a message unconsumed and the
 * durable check must see it. The damage is rolled back and the message consumed, so the scenario ends clean.
 */
export const accountingSelfCheck: Scenario = {
  name: 'accounting-self-check',
  summary: 'the accounting itself: damage rolled back after it was counted, an unconsumed message seen as pending',
  async run(ctx) {
    await ctx.service.startReady()
    await ctx.publish(ctx.mix(200, 20))
    await ctx.waitForDrain()

    let seen: Awaited<ReturnType<typeof accountStored>> | undefined
    await ctx.sql
      .begin(async (tx) => {
        // Distinct payloads for the two dead-letter changes (an empty one, a non-empty one), or they would cancel out.
        await tx`delete from orders where order_uid = (select order_uid from orders order by ingest_id limit 1)`
        await tx`update orders set doc = jsonb_set(doc, '{track_number}', '"CHANGED"') where ingest_id = (select ingest_id from orders order by ingest_id desc limit 1)`
        await tx`delete from dead_letters where id = (select min(id) from dead_letters where payload_size = 0)`
        await tx`insert into dead_letters (channel, broker_seq, reason, errors, order_uid, payload, payload_size, payload_sha256)
                 select channel, broker_seq + 1000000, reason, errors, order_uid, payload, payload_size, payload_sha256 from dead_letters where id = (select max(id) from dead_letters where payload_size > 0)`
        seen = await accountStored(tx, ctx.ledger)
        throw new RollBack()
      })
      .catch((error: unknown) => {
        if (!(error instanceof RollBack)) throw error
      })
    ctx.check(
      'damage counted: 2 lost, 1 doubled, 1 mismatched',
      seen !== undefined && seen.lost === 2 && seen.doubled === 1 && seen.mismatched === 1 && seen.unexpected === 0,
      seen === undefined ? 'no accounting' : `lost ${seen.lost}, doubled ${seen.doubled}, mismatched ${seen.mismatched}, unexpected ${seen.unexpected}`,
    )

    await ctx.service.terminate()
    await ctx.publish([validOrder(ctx.seed, 1_000_000)])
    const probe = await ctx.broker.pending(ctx.settings)
    ctx.check('a message published while the service was stopped is seen as pending', 'pending' in probe && probe.pending === 1, JSON.stringify(probe))
    // The accounting that follows starts the service again, which consumes it.
  },
}
