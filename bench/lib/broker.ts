import { listeningUrl } from '../../test/support/broker-process.js'
import { spawnProcess } from '../../src/child-process.js'
import type { Cleanup } from '../../test/support/cleanup.js'
import type { ServiceBuild } from './service-build.js'

export interface BenchBroker {
  url: string
  clusterId: string
  pid: number
}

const CLUSTER_ID = 'bench-cluster'
/** Its start-up is a second or two; a minute means it is stuck. */
const LISTEN_TIMEOUT_MS = 60_000
const ENTRY = new URL('./broker-entry.mjs', import.meta.url).pathname

/**
 * The project's NATS Streaming server, compiled, in its own process with the memory store (the broker is not
 * what is measured; its memory store keeps the published orders for as many ingest runs as needed).
 */
export async function startBroker(cleanup: Cleanup, build: ServiceBuild, nodeFlags: string[] = []): Promise<BenchBroker> {
  const child = spawnProcess(process.execPath, [...nodeFlags, ENTRY, build.brokerCli, '--port', '0', '--cluster_id', CLUSTER_ID, '--store', 'memory'], {
    output: 'inherit',
    killOnExit: true,
  })
  if (child.pid === -1) throw new Error('could not start the broker')
  cleanup.add('stop the broker', () => child.stop('SIGTERM', 5000))
  const url = await listeningUrl(child, LISTEN_TIMEOUT_MS)
  return { url, clusterId: CLUSTER_ID, pid: child.pid }
}
