import fc from 'fast-check'
import { createGate } from '../../src/ingest/gate.js'
import type { Scenario } from '../lib/harness.js'
import type { Outgoing } from '../lib/ledger.js'
import { mutantArbitrary } from '../lib/order-mutations.js'

const REASONS = new Set(['empty', 'too_large', 'not_utf8', 'not_json', 'schema'])

/**
 * Property-based fuzz of the gate over mutations of valid orders. In-process: no throw escapes and every verdict is
 * "ok" or a known reason. Through the service: each mutant is stored (if the gate passes it) or dead-lettered with
 * the gate's reason, exactly once.
 */
export const gateFuzz: Scenario = {
  name: 'gate-fuzz',
  summary: 'fast-check mutations of valid orders: the gate never throws; through the service each is stored or dead-lettered once',
  async run(ctx) {
    const gate = createGate({ maxMessageBytes: ctx.settings.maxMessageBytes })
    const arbitrary = mutantArbitrary(ctx.seed)
    try {
      fc.assert(
        fc.property(arbitrary, ({ payload }) => {
          const verdict = gate(payload)
          return verdict.ok ? verdict.orderUid.length > 0 : REASONS.has(verdict.reason)
        }),
        { numRuns: ctx.sizes.fuzzRuns, seed: ctx.seed },
      )
      ctx.check(`gate property over ${ctx.sizes.fuzzRuns} mutants: no throw, a verdict for each`, true)
    } catch (error) {
      ctx.check('gate property: no throw, a verdict for each', false, String(error).slice(0, 400))
    }

    // The same mutants through the service, with the gate as the oracle of what each must become.
    const used = new Set<string>()
    const messages: Outgoing[] = []
    let passed = 0
    for (const mutant of fc.sample(arbitrary, { numRuns: ctx.sizes.fuzzPublished, seed: ctx.seed + 1 })) {
      const verdict = gate(mutant.payload)
      if (verdict.ok) {
        // One version per order_uid: a second would be a conflict, which the republish scenario covers.
        if (used.has(verdict.orderUid)) continue
        used.add(verdict.orderUid)
        passed++
        messages.push({ payload: mutant.payload, expect: { kind: 'order', orderUid: verdict.orderUid, json: verdict.json } })
      } else {
        messages.push({ payload: mutant.payload, expect: { kind: 'rejected', reason: verdict.reason, label: `fuzz ${mutant.mutation} → ${verdict.reason}` } })
      }
    }
    await ctx.service.startReady()
    await ctx.publish(messages)
    ctx.note(`${messages.length} mutants published, ${passed} of them passing the gate`)
  },
}
