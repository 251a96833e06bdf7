import { existsSync, mkdirSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import { spawnProcess, type Child } from '../child-process.js'

/** How to run one nats-server process with JetStream: alone, or as one node of a cluster. */
export interface NatsServerOptions {
  port: number
  /** JetStream's file store. */
  storeDir: string
  /** Bind address; loopback unless told otherwise. */
  host?: string
  /** Server name: unique within a cluster (JetStream places replicas by it). */
  name?: string
  /** HTTP monitoring port (/healthz, /jsz), off when unset. */
  monitorPort?: number
  cluster?: { name: string; port: number; routes: readonly string[] }
  /** The executable, looked up on the PATH by default. */
  command?: string
  /** How long the server may take to say it is ready. */
  readyTimeoutMs?: number
  onLog?: (line: string) => void
}

export interface NatsServer {
  url: string
  port: number
  pid: number
  /** SIGTERM, then SIGKILL if it has not exited within a few seconds. */
  stop(): Promise<void>
  /** SIGKILL: the crash a fail-over must survive. */
  kill(): Promise<void>
}

export type NatsServerStart =
  | { ok: true; server: NatsServer }
  | { ok: false; code: 'nats_server_missing' | 'nats_server_failed'; message: string }

const STOP_GRACE_MS = 10_000
export const NATS_SERVER_MISSING = 'nats-server is not installed: install it with `apt-get install nats-server`, or set NATS_URL'

/**
 * Starts the real nats-server with JetStream and resolves once it logs that it is ready (a cluster node is then
 * reachable; its JetStream may still be electing a leader, which the subscription waits for). An executable that
 * is missing or a server that exits or stays silent is an error value with a stable code.
 */
export function startNatsServer(options: NatsServerOptions): Promise<NatsServerStart> {
  const host = options.host ?? '127.0.0.1'
  mkdirSync(options.storeDir, { recursive: true })
  const args = ['-js', '-sd', options.storeDir, '-a', host, '-p', String(options.port)]
  if (options.name !== undefined) args.push('-n', options.name)
  if (options.monitorPort !== undefined) args.push('-m', String(options.monitorPort))
  if (options.cluster !== undefined) {
    const { name, port, routes } = options.cluster
    args.push('--cluster_name', name, '--cluster', `nats://${host}:${port}`, '--routes', routes.join(','))
  }
  const recent: string[] = []
  const onLine = (line: string) => {
    options.onLog?.(line)
    recent.push(line)
    if (recent.length > 5) recent.shift()
  }
  // Its log goes to stderr, passed on line by line and not kept: the server may run as long as the service.
  const child = spawnProcess(options.command ?? natsServerCommand(), args, { output: 'lines', onLine })
  const readyTimeoutMs = options.readyTimeoutMs ?? 10_000
  return child.line((line) => line.includes('Server is ready'), readyTimeoutMs).then(
    (): NatsServerStart => ({ ok: true, server: handle(child, host, options.port) }),
    async (): Promise<NatsServerStart> => {
      const status = child.isRunning() ? undefined : await child.exited
      await child.stop('SIGKILL', STOP_GRACE_MS)
      if (status?.error === 'ENOENT') return { ok: false, code: 'nats_server_missing', message: NATS_SERVER_MISSING }
      if (status?.error !== undefined) return { ok: false, code: 'nats_server_failed', message: `nats-server could not be started: ${status.error}` }
      const why = status === undefined ? `not ready within ${readyTimeoutMs} ms` : `exited (${status.signal ?? status.code}) before it was ready: ${recent.join(' | ')}`
      return { ok: false, code: 'nats_server_failed', message: `nats-server ${why}` }
    },
  )
}

/** nats-server from the PATH, or Debian's /usr/sbin, which a non-root user's PATH often lacks. */
function natsServerCommand(): string {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin'].filter(Boolean)
  return dirs.map((dir) => join(dir, 'nats-server')).find((path) => existsSync(path)) ?? 'nats-server'
}

function handle(child: Child, host: string, port: number): NatsServer {
  return {
    url: `nats://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    pid: child.pid,
    stop: async () => void (await child.stop('SIGTERM', STOP_GRACE_MS)),
    kill: async () => void (await child.stop('SIGKILL', STOP_GRACE_MS)),
  }
}
