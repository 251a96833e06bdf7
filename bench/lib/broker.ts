import { startBrokerProcess } from '../../test/support/broker-process.js'
import type { Cleanup } from '../../test/support/cleanup.js'
import type { ServiceBuild } from './service-build.js'

export interface BenchBroker {
  url: string
  clusterId: string
  pid: number
}

const ENTRY = new URL('./broker-entry.mjs', import.meta.url).pathname

/**
 * The project's NATS Streaming server, compiled, in its own process with the memory store (the broker is not
 * what is measured; its memory store keeps the published orders for as many ingest runs as needed).
 */
export async function startBroker(cleanup: Cleanup, build: ServiceBuild, nodeFlags: string[] = []): Promise<BenchBroker> {
  const broker = await startBrokerProcess(['--port', '0', '--store', 'memory'], 'bench-cluster', {
    entry: [...nodeFlags, ENTRY, build.brokerCli],
    killOnExit: true,
    stopGraceMs: 5_000,
  })
  cleanup.add('stop the broker', () => broker.kill('SIGTERM'))
  return broker
}
