import type { BenchBroker } from './broker.js'
import { spawnNode } from './node-script.js'
import type { Cleanup } from '../../test/support/cleanup.js'
import type { PublishReport } from './publish-process.js'

/**
 * Publishes `count` generated orders into `channel` from a child process, as fast as acks come back or at a steady
 * `rate` per second (then reporting when each was acked); throws unless the broker acked them all.
 */
export async function publishOrders(
  cleanup: Cleanup,
  broker: BenchBroker,
  options: { channel: string; count: number; seed: number; rate?: number },
): Promise<PublishReport> {
  const child = spawnNode(cleanup, {
    script: new URL('./publish-process.ts', import.meta.url).pathname,
    env: {
      // A broker without a cluster id is nats-server (bench/lib/nats-server.ts): JetStream.
      ...(broker.clusterId === '' ? { NATS_URL: broker.url } : { STAN_URL: broker.url, STAN_CLUSTER_ID: broker.clusterId }),
      CHANNEL: options.channel,
      COUNT: String(options.count),
      SEED: String(options.seed),
      ...(options.rate === undefined ? {} : { RATE: String(options.rate) }),
    },
  })
  const report = await child.firstMessage<PublishReport>()
  await child.stop()
  if (report.acked !== options.count) throw new Error(`the broker acked ${report.acked} of ${options.count} orders (${report.failed} failed)`)
  return report
}
