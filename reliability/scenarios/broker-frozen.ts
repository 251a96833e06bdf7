import type { Scenario } from '../lib/harness.js'
import { freezeMidIngest } from '../lib/stall-watch.js'

/**
 * The service's broker connection stops answering without closing, mid-ingest (a freezing proxy; new connections
 * pass): its pings notice within 8 s (src/ingest/stan-subscription.ts), it connects again and resumes the durable.
 */
export const brokerFrozen: Scenario = {
  name: 'broker-frozen',
  // NATS Streaming's own client behaviour (server lists, client ids, queue groups, pings); JetStream's is tested in test/ingest/jetstream-*.
  transports: ['stan'],
  summary: "the service's broker connection frozen mid-ingest (no FIN, no RST; new connections pass)",
  proxied: true,
  run: (ctx) =>
    freezeMidIngest(ctx, {
      proxy: 'broker',
      fault: 'broker connection frozen',
      secondsPerFreeze: 15,
      deadlineMs: 30_000,
      // Pings: noticed within 8 s; then a new connection, the broker's check of the old client, the durable again.
      resumeWithinMs: 12_000,
    }),
}
