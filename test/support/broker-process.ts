/**
 * The embedded broker (NATS Streaming) as a child process: the one broker launcher of the tests, the benchmarks and
 * the reliability suite, for those that kill it or keep it out of their own process. Resolves once it prints the
 * address it listens on.
 */
import { fileURLToPath } from 'node:url'
import { spawnProcess, type ChildOptions } from '../../src/child-process.js'

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
  /** Sends the signal and waits for the process to exit (SIGKILL after the stop grace). */
  kill(signal: NodeJS.Signals): Promise<void>
}

export interface BrokerProcessOptions {
  /**
   * What node runs, before the broker's own arguments: bin/nats-streaming (the sources) by default; a benchmark
   * gives node flags and its compiled build's entry.
   */
  entry?: readonly string[]
  /** Where its output goes (src/child-process.ts): stderr this process's, by default. */
  output?: ChildOptions['output']
  /** SIGKILLs it if this process exits first. */
  killOnExit?: boolean
  listenTimeoutMs?: number
  stopGraceMs?: number
}

/** `args`: the broker's options (--port, --store, --dir, …); the cluster id is given here. */
export async function startBrokerProcess(args: readonly string[], clusterId = 'test-cluster', options: BrokerProcessOptions = {}): Promise<BrokerProcess> {
  const output = options.output ?? 'inherit'
  const child = spawnProcess(process.execPath, [...(options.entry ?? [bin]), '--cluster_id', clusterId, ...args], { output, killOnExit: options.killOnExit })
  const stopGraceMs = options.stopGraceMs ?? STOP_GRACE_MS
  const listening = /listening on (nats:\/\/\S+)/
  let url: string
  try {
    url = listening.exec(await child.line((text) => listening.test(text), options.listenTimeoutMs ?? LISTEN_TIMEOUT_MS))![1]!
  } catch (error) {
    await child.stop('SIGKILL', stopGraceMs)
    const log = typeof output === 'object' ? `; see ${output.logPath}` : ''
    throw new Error(`the broker did not start (${error instanceof Error ? error.message : String(error)})${log}`)
  }
  return {
    url,
    pid: child.pid,
    port: Number(new URL(url).port),
    clusterId,
    async kill(signal) {
      await child.stop(signal, stopGraceMs)
    },
  }
}
