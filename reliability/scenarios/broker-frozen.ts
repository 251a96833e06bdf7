import type { Scenario } from '../lib/harness.js'
import { freezeMidIngest } from '../lib/stall-watch.js'

/**
 * The service's broker connection stops answering without closing, mid-ingest (a freezing proxy; new connections
 * pass): its pings notice, it connects again and resumes: the durable within 8 s on NATS Streaming
 * (src/ingest/stan-subscription.ts), the pull loop within 6 s on JetStream (src/ingest/jetstream-subscription.ts),
 * where what the frozen connection's last pull took comes again after the ack wait.
 */
export const brokerFrozen: Scenario = {
  name: 'broker-frozen',
  summary: "the service's broker connection frozen mid-ingest (no FIN, no RST; new connections pass)",
  proxied: true,
  run: (ctx) =>
    freezeMidIngest(ctx, {
      proxy: 'broker',
      fault: 'broker connection frozen',
      secondsPerFreeze: 15,
      deadlineMs: 30_000,
      // Pings: noticed within 8 s (6 s on JetStream); then a new connection, on NATS Streaming the broker's check of
      // the old client, and the durable or the pull again.
      resumeWithinMs: 12_000,
    }),
}
