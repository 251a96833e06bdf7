import { Agent } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Scenario } from '../lib/harness.js'
import { httpGet } from '../lib/http.js'

/** How long an instance may still answer 404 for an order another instance already serves. */
const STALE_BOUND_MS = 1_000
const POLL_EVERY_MS = 50
/** Orders followed: enough to see a stale answer, few enough that polling them leaves the two cores to ingest. */
const SAMPLE = 20

/**
 * Two instances share the channel (or the JetStream consumer); a sample of the orders is asked for, through both,
 * from before it is published until both serve it. Whichever instance wrote an order, the other must serve it within a second (it may have
 * remembered the id as unknown a moment before: the commit notification makes it forget).
 */
export const readAcrossInstances: Scenario = {
  name: 'read-across-instances',
  summary: 'an order written through one instance read through the other right after its commit (no stale 404 past a second)',
  async run(ctx) {
    const other = await ctx.addInstance()
    await Promise.all([ctx.service.startReady(), other.startReady()])
    const messages = ctx.mix(ctx.sizes.valid, ctx.sizes.hostile)
    const valid = messages.flatMap((message) => (message.expect.kind === 'order' ? [message.expect.orderUid] : []))
    const size = Math.min(SAMPLE, valid.length)
    const sample = new Set(Array.from({ length: size }, (_, i) => valid[Math.floor((i * valid.length) / size)]!))

    const ports = [ctx.service.port, other.port]
    const agent = new Agent({ keepAlive: true, maxSockets: 16 })
    const firstServed = new Map<string, number[]>()
    let polling = true
    const poll = (async () => {
      while (polling) {
        const waiting = [...sample].filter((uid) => (firstServed.get(uid)?.filter((t) => t > 0).length ?? 0) < ports.length)
        if (waiting.length === 0) return
        await Promise.all(
          waiting.flatMap((uid) =>
            ports.map(async (port, i) => {
              const times = firstServed.get(uid) ?? firstServed.set(uid, [0, 0]).get(uid)!
              if (times[i]! > 0) return
              const result = await httpGet(port, `/order/${uid}`, { agent, timeoutMs: 5_000 })
              if (result.status === 200 && times[i] === 0) times[i] = performance.now()
            }),
          ),
        )
        await sleep(POLL_EVERY_MS)
      }
    })()

    await ctx.publish(messages, { rate: ctx.sizes.rate })
    await ctx.waitForDrain()
    const deadline = Date.now() + 10_000
    while (Date.now() < deadline && [...sample].some((uid) => (firstServed.get(uid) ?? [0, 0]).includes(0))) await sleep(100)
    polling = false
    await poll
    agent.destroy()

    const gaps = [...sample].map((uid) => {
      const [a, b] = firstServed.get(uid) ?? [0, 0]
      return a === 0 || b === 0 ? Infinity : Math.abs(a! - b!)
    })
    const worst = Math.max(...gaps)
    const stale = gaps.filter((gap) => gap > STALE_BOUND_MS).length
    ctx.check(
      `each sampled order served by both instances within ${STALE_BOUND_MS} ms of each other`,
      stale === 0,
      `${stale} of ${gaps.length} later than that; worst ${Number.isFinite(worst) ? `${Math.round(worst)} ms` : 'never served by one'}`,
    )
    ctx.note(`${gaps.length} orders sampled, each polled on both instances every ${POLL_EVERY_MS} ms from before publication; worst gap ${Math.round(worst)} ms (the poll's own period included)`)
  },
}
