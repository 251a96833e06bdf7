import { setTimeout as sleep } from 'node:timers/promises'
import type { Proxies, ScenarioContext } from './harness.js'
import { sampleSum } from '../../test/support/prometheus-text.js'
import { httpGet } from './http.js'

/** What the service showed from a freeze on, in ms after the freeze (undefined: not seen). */
export interface StallObservations {
  /** /readyz first said 503. */
  notReadyMs?: number
  /** /readyz said 200 again after the 503 (and after every pool expected to be abandoned was). */
  readyAgainMs?: number
  /** When each pool's order_database_abandoned_total first grew. */
  abandonedMs: Record<string, number>
  /** Rows written (orders + dead letters) first grew after ingest had stalled. */
  resumedMs?: number
  healthzFailures: number
  /** GETs of an order cached before the freeze that did not answer 200. */
  cachedFailures: number
}

/** The newest stored order: the writer put it in the cache when it stored it. */
export async function newestOrderUid(ctx: ScenarioContext): Promise<string | undefined> {
  const [row] = await ctx.sql<{ order_uid: string }[]>`select order_uid from orders order by ingest_id desc limit 1`
  return row?.order_uid
}

/**
 * Watches the service from a freeze on, every 100 ms, until the expected pools were abandoned, /readyz has said
 * 503 and then 200 again, and ingest has resumed, or `deadlineMs` passed. Ingest counts as stalled once the rows stop growing for `stallMs` (a
 * commit answered just before the freeze is not a resumption).
 */
export async function watchStall(
  ctx: ScenarioContext,
  frozenAt: number,
  options: {
    cachedUid?: string
    deadlineMs: number
    stallMs?: number
    /** Database pools that must be abandoned before the stall counts as over (order_database_abandoned_total's pool). */
    pools?: string[]
  },
): Promise<StallObservations> {
  const port = ctx.service.port
  const seen: StallObservations = { healthzFailures: 0, cachedFailures: 0, abandonedMs: {} }
  const pools = options.pools ?? []
  const abandonedBefore = await abandonedByPool(port, pools)
  const stallMs = options.stallMs ?? 500
  let rows = await ctx.rowsWritten()
  let rowsChangedAt = performance.now()
  let stalled = false
  const since = () => Math.round(performance.now() - frozenAt)
  while (performance.now() - frozenAt < options.deadlineMs) {
    if ((await httpGet(port, '/healthz', { timeoutMs: 2_000 })).status !== 200) seen.healthzFailures++
    if (options.cachedUid !== undefined && (await httpGet(port, `/order/${options.cachedUid}`, { timeoutMs: 2_000 })).status !== 200) seen.cachedFailures++
    const abandoned = await abandonedByPool(port, pools)
    for (const pool of pools) if ((abandoned[pool] ?? 0) > (abandonedBefore[pool] ?? 0)) seen.abandonedMs[pool] ??= since()
    const allAbandoned = pools.every((pool) => seen.abandonedMs[pool] !== undefined)
    const ready = (await httpGet(port, '/readyz', { timeoutMs: 2_000 })).status
    if (ready === 503) seen.notReadyMs ??= since()
    else if (ready === 200 && seen.notReadyMs !== undefined && allAbandoned) seen.readyAgainMs ??= since()
    const now = await ctx.rowsWritten()
    if (now !== undefined && now !== rows) {
      if (stalled) seen.resumedMs ??= since()
      rows = now
      rowsChangedAt = performance.now()
    } else if (performance.now() - rowsChangedAt > stallMs) stalled = true
    // Ingest that never stopped has nothing to resume: with two batches in flight, one may go through a fresh
    // connection while the other waits out its bound on the frozen one.
    if (seen.readyAgainMs !== undefined && (seen.resumedMs !== undefined || !stalled)) break
    await sleep(100)
  }
  if (!stalled) seen.resumedMs ??= 0
  return seen
}

async function abandonedByPool(port: number, pools: string[]): Promise<Record<string, number>> {
  if (pools.length === 0) return {}
  const metrics = await httpGet(port, '/metrics', { timeoutMs: 2_000 })
  if (metrics.status !== 200) return {}
  const text = metrics.body.toString('utf8')
  return Object.fromEntries(pools.map((pool) => [pool, sampleSum(text, 'order_database_abandoned_total', { pool })]))
}

/** The checks every freeze scenario makes, and a note with the figures. */
export function checkStall(ctx: ScenarioContext, what: string, seen: StallObservations, resumeWithinMs: number): void {
  ctx.check(`${what}: /healthz answered 200 throughout`, seen.healthzFailures === 0, `${seen.healthzFailures} failures`)
  ctx.check(`${what}: the cached order was served throughout`, seen.cachedFailures === 0, `${seen.cachedFailures} failures`)
  ctx.check(`${what}: /readyz said 503 during the stall and 200 after`, seen.notReadyMs !== undefined && seen.readyAgainMs !== undefined, `503 at ${seen.notReadyMs} ms, 200 at ${seen.readyAgainMs} ms`)
  ctx.check(`${what}: ingest resumed within ${resumeWithinMs} ms`, seen.resumedMs !== undefined && seen.resumedMs <= resumeWithinMs, `resumed at ${seen.resumedMs} ms`)
  const abandoned = Object.entries(seen.abandonedMs).map(([pool, ms]) => `${pool} pool abandoned at ${ms} ms`)
  ctx.note(`${what}: ${[...abandoned, `/readyz 503 at ${seen.notReadyMs} ms and 200 again at ${seen.readyAgainMs} ms`, `ingest resumed at ${seen.resumedMs} ms`].join(', ')} after the freeze`)
}

/**
 * The run of a scenario that freezes one of the service's connections mid-ingest (new connections pass), once
 * in the quick run and three times in the full one, watching each stall; `checks` adds the scenario's own.
 */
export async function freezeMidIngest(
  ctx: ScenarioContext,
  options: {
    proxy: keyof Proxies
    fault: string
    /** Publishing is spread over this many seconds per freeze, so every freeze lands during ingest. */
    secondsPerFreeze: number
    deadlineMs: number
    resumeWithinMs: number
    pools?: string[]
    checks?: (seen: StallObservations, what: string) => void
  },
): Promise<void> {
  const proxy = ctx.proxies![options.proxy]
  const freezes = ctx.sizes.valid >= 10_000 ? 3 : 1
  await ctx.service.startReady()
  const messages = ctx.mix(ctx.sizes.valid, ctx.sizes.hostile)
  const publishing = ctx.publishInBackground(messages, { rate: ctx.rateFor(messages.length, freezes * options.secondsPerFreeze) })
  for (let f = 0; f < freezes; f++) {
    await ctx.pause(1_000, 2_000)
    const cachedUid = await newestOrderUid(ctx)
    proxy.freeze({ newConnections: 'pass' })
    const frozenAt = performance.now()
    ctx.fault(options.fault)
    const seen = await watchStall(ctx, frozenAt, { cachedUid, deadlineMs: options.deadlineMs, pools: options.pools })
    checkStall(ctx, `freeze ${f + 1}`, seen, options.resumeWithinMs)
    options.checks?.(seen, `freeze ${f + 1}`)
    // What was frozen was abandoned: released now, it finds its other end gone.
    proxy.thaw()
  }
  await publishing.done
  await ctx.service.waitReady()
}
