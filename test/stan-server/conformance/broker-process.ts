/**
 * The embedded broker as a child process through bin/nats-streaming, for tests that
 * kill it. Resolves once it prints the address it listens on.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'

const bin = fileURLToPath(new URL('../../../bin/nats-streaming', import.meta.url))

export interface BrokerProcess {
  readonly url: string
  readonly pid: number
  readonly port: number
  readonly clusterId: string
  /** Sends the signal and waits for the process to exit. */
  kill(signal: NodeJS.Signals): Promise<void>
}

export async function startBrokerProcess(args: readonly string[], clusterId = 'test-cluster'): Promise<BrokerProcess> {
  const child: ChildProcess = spawn(process.execPath, [bin, '--cluster_id', clusterId, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let output = ''
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString()
      const match = /listening on (nats:\/\/\S+)/.exec(output)
      if (match) resolve(match[1]!)
    })
    child.once('exit', (code) => reject(new Error(`broker exited with ${code}: ${output}`)))
  })
  const exited = once(child, 'exit')
  return {
    url,
    pid: child.pid!,
    port: Number(new URL(url).port),
    clusterId,
    async kill(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      await exited
    },
  }
}
