/**
 * The embedded broker as a child process through bin/nats-streaming, for tests and benchmarks that kill it or keep
 * it out of their own process. Resolves once it prints the address it listens on.
 */
import { fileURLToPath } from 'node:url'
import { spawnProcess, type Child } from '../../src/child-process.js'

const bin = fileURLToPath(new URL('../../bin/nats-streaming', import.meta.url))
/** Its start-up takes a second or two; a minute means it is stuck. */
const LISTEN_TIMEOUT_MS = 60_000
/** A signal it does not die of within this is answered with SIGKILL. */
const STOP_GRACE_MS = 30_000

export interface BrokerProcess {
  readonly url: string
  readonly pid: number
  readonly port: number
  readonly clusterId: string
  /** Sends the signal and waits for the process to exit. */
  kill(signal: NodeJS.Signals): Promise<void>
}

export async function startBrokerProcess(args: readonly string[], clusterId = 'test-cluster'): Promise<BrokerProcess> {
  const child = spawnProcess(process.execPath, [bin, '--cluster_id', clusterId, ...args], { output: 'inherit' })
  const url = await listeningUrl(child, LISTEN_TIMEOUT_MS)
  return {
    url,
    pid: child.pid,
    port: Number(new URL(url).port),
    clusterId,
    async kill(signal) {
      await child.stop(signal, STOP_GRACE_MS)
    },
  }
}

/** The address a NATS Streaming server prints when it listens (bin/nats-streaming's "listening on nats://…" line). */
export async function listeningUrl(child: Child, timeoutMs: number): Promise<string> {
  const pattern = /listening on (nats:\/\/\S+)/
  return pattern.exec(await child.line((text) => pattern.test(text), timeoutMs))![1]!
}
