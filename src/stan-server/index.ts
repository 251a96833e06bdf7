/**
 * Embedded NATS Streaming server, wire-compatible with nats-streaming-server 0.25
 * for node-nats-streaming 0.3 clients.
 *
 * @example
 * const stan = await startStanServer({ port: 0 })
 * // connect with node-nats-streaming to stan.url, cluster stan.clusterId
 * await stan.close()
 */
import { startMonitor, type MonitorServer } from './monitor/http-server.js'
import { startNatsServer } from './nats/server.js'
import { FileStore } from './store/file-store.js'
import { DEFAULT_LIMITS, type StoreLimits } from './store/limits.js'
import { MemoryStore } from './store/memory-store.js'
import type { Store } from './store/types.js'
import { StreamingServer } from './streaming/server.js'

export interface StanServerOptions {
  /** Default 127.0.0.1. */
  host?: string
  /** Default 4222; 0 picks a free port. */
  port?: number
  /** Default 'test-cluster', as the real server. */
  clusterId?: string
  /** Default 'memory'. */
  store?: 'memory' | 'file'
  /** Data directory of the file store (required with store 'file'). */
  dir?: string
  /** Channel limits; unset ones take the real server's defaults (0 is unlimited). */
  limits?: Partial<StoreLimits>
  /** NATS max_payload in bytes (default 1 MiB). */
  maxPayload?: number
  /** Server heartbeat interval to clients, ms (default 30s, as the real server). */
  heartbeatIntervalMs?: number
  /** Heartbeat answer timeout, ms (default 10s). */
  heartbeatTimeoutMs?: number
  /** Failed heartbeats before a client is closed (default 10). */
  heartbeatFailCount?: number
  /** HTTP monitoring port (/streaming/serverz, ...); undefined turns monitoring off, 0 picks a free port. */
  monitorPort?: number
  /** Default 127.0.0.1. */
  monitorHost?: string
}

export interface StanServer {
  readonly url: string
  readonly host: string
  readonly port: number
  readonly clusterId: string
  /** Base URL of the monitoring endpoints (http://host:port), when monitorPort was given. */
  readonly monitorUrl: string | undefined
  close(): Promise<void>
}

export { DirectoryLockedError } from './store/directory-lock.js'

export const DEFAULT_CLUSTER_ID = 'test-cluster'

export async function startStanServer(options: StanServerOptions = {}): Promise<StanServer> {
  const clusterId = options.clusterId ?? DEFAULT_CLUSTER_ID
  const store = openStore(options)
  let nats: Awaited<ReturnType<typeof startNatsServer>>
  try {
    nats = await startNatsServer({
      host: options.host ?? '127.0.0.1',
      port: options.port ?? 4222,
      ...(options.maxPayload !== undefined ? { maxPayload: options.maxPayload } : {}),
    })
  } catch (err) {
    await store.close()
    throw err
  }
  const streaming = new StreamingServer(nats, store, {
    clusterId,
    heartbeat: {
      intervalMs: options.heartbeatIntervalMs ?? 30_000,
      timeoutMs: options.heartbeatTimeoutMs ?? 10_000,
      failCount: options.heartbeatFailCount ?? 10,
      duplicateCheckMs: 500,
    },
  })
  let monitor: MonitorServer | undefined
  if (options.monitorPort !== undefined) {
    try {
      monitor = await startMonitor({ clusterId, streaming, store }, options.monitorHost ?? '127.0.0.1', options.monitorPort)
    } catch (err) {
      streaming.close()
      await nats.close()
      await store.close()
      throw err
    }
  }
  let closing: Promise<void> | undefined
  return {
    url: nats.url,
    host: nats.host,
    port: nats.port,
    clusterId,
    monitorUrl: monitor?.url,
    close() {
      closing ??= (async () => {
        await monitor?.close()
        streaming.close()
        await nats.close()
        await store.close()
      })()
      return closing
    },
  }
}

function openStore(options: StanServerOptions): Store {
  const kind = options.store ?? 'memory'
  const limits = { ...DEFAULT_LIMITS, ...options.limits }
  if (kind === 'memory') return new MemoryStore(limits)
  if (kind === 'file') {
    if (options.dir === undefined || options.dir === '') throw new Error('stan-server: the file store needs a directory (dir)')
    return new FileStore(options.dir, limits)
  }
  throw new Error(`stan-server: unknown store type ${JSON.stringify(kind)}`)
}
