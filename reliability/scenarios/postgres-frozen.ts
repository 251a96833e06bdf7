import type { Scenario } from '../lib/harness.js'
import { freezeMidIngest } from '../lib/stall-watch.js'

/**
 * The service's PostgreSQL connections stop answering without closing, mid-ingest (a freezing proxy; new
 * connections pass, as after a failover): the writer abandons its transaction at WRITE_TIMEOUT_MS (1 s here: half
 * the 2 s ack wait) and writes on fresh connections; the readiness probe ends at QUERY_TIMEOUT_MS (5 s) and its
 * pool is replaced.
 */
export const postgresFrozen: Scenario = {
  name: 'postgres-frozen',
  summary: "the service's PostgreSQL connections frozen mid-ingest (no FIN, no RST; new connections pass)",
  proxied: true,
  run: (ctx) =>
    freezeMidIngest(ctx, {
      proxy: 'postgres',
      fault: 'PostgreSQL connections frozen',
      secondsPerFreeze: 12,
      // The write bound (1 s), the retry's backoff, and the probe: its next run (≤ 2 s), its bound (5 s), the run after.
      deadlineMs: 20_000,
      resumeWithinMs: 5_000,
      pools: ['writer', 'queries'],
      checks(seen, what) {
        ctx.check(`${what}: the writer's pool abandoned within its bound (1 s) + 1 s`, (seen.abandonedMs.writer ?? Infinity) <= 2_000, `at ${seen.abandonedMs.writer} ms`)
        // The probe that meets the frozen connection starts within 2 s of the freeze and ends at its 5 s bound.
        ctx.check(`${what}: the query pool abandoned within 2 s + its bound (5 s) + 1 s`, (seen.abandonedMs.queries ?? Infinity) <= 8_000, `at ${seen.abandonedMs.queries} ms`)
      },
    }),
}
