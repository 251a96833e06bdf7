import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync } from 'node:fs'
import { delimiter, join } from 'node:path'

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
  const child = spawn(options.command ?? natsServerCommand(), args, { stdio: ['ignore', 'ignore', 'pipe'] })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const recent: string[] = []

  return new Promise<NatsServerStart>((resolve) => {
    const timeout = setTimeout(() => fail('nats_server_failed', `nats-server not ready within ${options.readyTimeoutMs ?? 10_000} ms`), options.readyTimeoutMs ?? 10_000)
    let buffered = ''
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk
      const lines = buffered.split('\n')
      buffered = lines.pop()!
      for (const line of lines) {
        options.onLog?.(line)
        recent.push(line)
        if (recent.length > 5) recent.shift()
        if (line.includes('Server is ready')) ready()
      }
    })
    child.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') fail('nats_server_missing', NATS_SERVER_MISSING)
      else fail('nats_server_failed', `nats-server could not be started: ${error.message}`)
    })
    child.once('exit', (code, signal) => fail('nats_server_failed', `nats-server exited (${signal ?? code}) before it was ready: ${recent.join(' | ')}`))

    function ready(): void {
      clearTimeout(timeout)
      resolve({ ok: true, server: handle(child, exited, host, options.port) })
    }
    function fail(code: 'nats_server_missing' | 'nats_server_failed', message: string): void {
      clearTimeout(timeout)
      if (child.exitCode === null && child.pid !== undefined) child.kill('SIGKILL')
      resolve({ ok: false, code, message })
    }
  })
}

/** nats-server from the PATH, or Debian's /usr/sbin, which a non-root user's PATH often lacks. */
function natsServerCommand(): string {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin'].filter(Boolean)
  return dirs.map((dir) => join(dir, 'nats-server')).find((path) => existsSync(path)) ?? 'nats-server'
}

function handle(child: ChildProcess, exited: Promise<void>, host: string, port: number): NatsServer {
  const signalAndWait = async (signal: NodeJS.Signals) => {
    if (child.exitCode !== null || child.signalCode !== null) return
    child.kill(signal)
    const grace = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS)
    await exited
    clearTimeout(grace)
  }
  return {
    url: `nats://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    pid: child.pid!,
    stop: () => signalAndWait('SIGTERM'),
    kill: () => signalAndWait('SIGKILL'),
  }
}
