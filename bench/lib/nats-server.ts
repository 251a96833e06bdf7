import { jetstreamManager, StorageType } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { startNatsServer } from '../../src/embedded/nats-server.js'
import { restartablePort } from '../../test/support/ports.js'
import type { BenchBroker } from './broker.js'
import type { Cleanup } from '../../test/support/cleanup.js'
import { tempDir } from './temp-dir.js'

export const BENCH_STREAM = 'BENCH'
export const BENCH_SUBJECT = 'bench-orders'

/**
 * The real nats-server with JetStream, one node, its file store in a temp dir, and the stream the service will bind
 * to (created here as an operator would, with the settings the service would give it).
 */
export async function startBenchNats(cleanup: Cleanup): Promise<BenchBroker> {
  const started = await startNatsServer({ port: await restartablePort(), storeDir: await tempDir(cleanup, 'nats') })
  if (!started.ok) throw new Error(started.message)
  cleanup.add('stop nats-server', started.server.stop)
  const nc = await connect({ servers: started.server.url })
  try {
    const jsm = await jetstreamManager(nc)
    await jsm.streams.add({ name: BENCH_STREAM, subjects: [BENCH_SUBJECT], storage: StorageType.File, num_replicas: 1 })
  } finally {
    await nc.close()
  }
  return { url: started.server.url, clusterId: '', pid: started.server.pid }
}

/**
 * Empties the stream, so a consumer made next (the service's, deliver policy all) starts with no backlog: the
 * steady-traffic runs of bench/ingest-latency.ts each publish their own orders.
 */
export async function purgeBenchStream(nats: BenchBroker): Promise<void> {
  const nc = await connect({ servers: nats.url })
  try {
    await (await jetstreamManager(nc)).streams.purge(BENCH_STREAM)
  } finally {
    await nc.close()
  }
}

/** The service's settings for that stream, with a consumer of its own per run so each takes the stream from its start. */
export function jetStreamEnv(nats: BenchBroker, consumer: string): Record<string, string> {
  return { BROKER: 'jetstream', NATS_URL: nats.url, JETSTREAM_STREAM: BENCH_STREAM, JETSTREAM_SUBJECT: BENCH_SUBJECT, JETSTREAM_CONSUMER: consumer }
}
