import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startNatsServer, type NatsServer, type NatsServerOptions } from '../../src/embedded/nats-server.js'
import { eventually } from './events.js'
import { restartablePort } from './ports.js'

/**
 * One real nats-server process with JetStream, on loopback ports of its own and a store of its own: the JetStream
 * launcher of the tests and the reliability suite.
 */
export interface TestNatsNode {
  name: string
  url: string
  monitorUrl: string
  isRunning(): boolean
  /** SIGKILL, as a crash. */
  kill(): Promise<void>
  /** Graceful stop. */
  stop(): Promise<void>
  /** Starts (again, after kill or stop) on the same ports with the same store. */
  start(): Promise<void>
}

export interface NatsNodesOptions {
  /** The nodes' stores, in the caller's folder. */
  dir: string
  /** Each node's log lines (nats-server's stderr). */
  onLog?: (node: string, line: string) => void
}

export interface TestNats {
  nodes: TestNatsNode[]
  /** Every node's client URL: the server list the service is given. */
  urls: string[]
  /** Stops every node and removes the stores. */
  close(): Promise<void>
}

const READY_TIMEOUT_MS = 30_000

/** A single JetStream server. */
export function startNatsNode(): Promise<TestNats> {
  return startNats(1)
}

/**
 * A cluster of `size` nodes routed to each other on loopback; resolves once every node's /healthz says
 * JetStream is ready (a meta leader is elected), so tests start from a working cluster.
 */
export function startNatsCluster(size = 3): Promise<TestNats> {
  return startNats(size)
}

async function startNats(size: number): Promise<TestNats> {
  const root = await mkdtemp(join(tmpdir(), 'nats-test-'))
  const nodes = await natsNodes(size, { dir: root })
  const close = async () => {
    for (const each of nodes) await each.stop()
    await rm(root, { recursive: true, force: true })
  }
  try {
    for (const each of nodes) await each.start()
    await Promise.all(nodes.map((each) => healthy(each.monitorUrl)))
  } catch (error) {
    await close()
    throw error
  }
  return { nodes, urls: nodes.map((each) => each.url), close }
}

/**
 * The nodes of a cluster of `size` routed to each other on loopback (one node alone: no cluster), their ports
 * chosen and kept across restarts; none started yet.
 */
export async function natsNodes(size: number, options: NatsNodesOptions): Promise<TestNatsNode[]> {
  const clusterPorts = await Promise.all(Array.from({ length: size }, () => restartablePort()))
  const nodes: TestNatsNode[] = []
  for (let i = 0; i < size; i++) {
    const name = `n${i + 1}`
    nodes.push(
      node({
        name,
        port: await restartablePort(),
        monitorPort: await restartablePort(),
        storeDir: join(options.dir, name),
        readyTimeoutMs: READY_TIMEOUT_MS,
        onLog: options.onLog === undefined ? undefined : (line) => options.onLog!(name, line),
        cluster:
          size > 1
            ? { name: 'test-cluster', port: clusterPorts[i]!, routes: clusterPorts.filter((_, j) => j !== i).map((port) => `nats://127.0.0.1:${port}`) }
            : undefined,
      }),
    )
  }
  return nodes
}

function node(options: NatsServerOptions): TestNatsNode {
  let server: NatsServer | undefined
  const ended = (how: 'kill' | 'stop') => async () => {
    await server?.[how]()
    server = undefined
  }
  return {
    name: options.name!,
    url: `nats://127.0.0.1:${options.port}`,
    monitorUrl: `http://127.0.0.1:${options.monitorPort}`,
    isRunning: () => server !== undefined,
    kill: ended('kill'),
    stop: ended('stop'),
    async start() {
      const started = await startNatsServer(options)
      if (!started.ok) throw new Error(`${options.name}: ${started.message}`)
      server = started.server
    },
  }
}

/** Waits for the node's /healthz to answer 200: up, and in a cluster, its JetStream current with the meta leader. */
export async function healthy(monitorUrl: string, timeoutMs = READY_TIMEOUT_MS): Promise<void> {
  let status = 0
  const answers200 = async () => {
    status = await fetch(`${monitorUrl}/healthz`, { signal: AbortSignal.timeout(2_000) }).then((response) => response.status, () => 0)
    return status === 200 || undefined
  }
  await eventually(answers200, timeoutMs, { everyMs: 200, failure: () => `${monitorUrl}/healthz not 200 (last: ${status})` })
}
