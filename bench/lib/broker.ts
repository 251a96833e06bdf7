import { spawn } from 'node:child_process'
import { once } from 'node:events'
import type { Cleanup } from './cleanup.js'
import type { ServiceBuild } from './service-build.js'

export interface BenchBroker {
  url: string
  clusterId: string
  pid: number
}

const CLUSTER_ID = 'bench-cluster'
const ENTRY = new URL('./broker-entry.mjs', import.meta.url).pathname

/**
 * The project's NATS Streaming server, compiled, in its own process with the memory store (the broker is not
 * what is measured; its memory store keeps the published orders for as many ingest runs as needed).
 */
export async function startBroker(cleanup: Cleanup, build: ServiceBuild, nodeFlags: string[] = []): Promise<BenchBroker> {
  const child = spawn(process.execPath, [...nodeFlags, ENTRY, build.brokerCli, '--port', '0', '--cluster_id', CLUSTER_ID, '--store', 'memory'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  if (child.pid === undefined) throw new Error('could not start the broker')
  const killOnExit = () => child.kill('SIGKILL')
  process.once('exit', killOnExit)
  const exited = once(child, 'exit').finally(() => process.off('exit', killOnExit))
  cleanup.defer('stop the broker', async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
    await exited
    clearTimeout(timer)
  })
  const url = await new Promise<string>((resolve, reject) => {
    let output = ''
    child.stdout.setEncoding('utf8')
    child.stdout.on('data', (chunk: string) => {
      output += chunk
      const match = /listening on (nats:\/\/\S+)/.exec(output)
      if (match?.[1]) resolve(match[1])
    })
    child.once('exit', (code) => reject(new Error(`the broker exited (${code}) before listening: ${output}`)))
  })
  // Its later output (shutdown lines) is not needed; keep the pipe drained.
  child.stdout.resume()
  return { url, clusterId: CLUSTER_ID, pid: child.pid }
}
