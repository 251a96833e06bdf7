/**
 * Command line launcher: `nats-streaming --port 4222 --store memory`.
 * Flags follow nats-streaming-server where they overlap (-a/--addr, -p/--port,
 * -cid/--cluster_id, --store, --dir, -m/--http_port).
 */
import { parseArgs } from 'node:util'
import { DEFAULT_CLUSTER_ID, startStanServer, type StanServerOptions } from './index.js'
import { DirectoryLockedError } from './store/directory-lock.js'
import type { StoreLimits } from './store/limits.js'

const USAGE = `Usage: nats-streaming [options]
  -a, --host, --addr <host>          address to listen on (default 127.0.0.1)
  -p, --port <port>                  port to listen on, 0 for a free one (default 4222)
  --cid, --cluster_id, --cluster-id  cluster ID (default ${DEFAULT_CLUSTER_ID})
  --store <memory|file>              store type (default memory)
  --dir <path>                       data directory of the file store
  --max_channels <n>                 max channels, 0 unlimited (default 100)
  --max_subs <n>                     max subscriptions per channel (default 1000)
  --max_msgs <n>                     max messages per channel (default 1000000)
  --max_bytes <n>                    max bytes of messages per channel (default 1024000000)
  -m, --http_port <port>             HTTP monitoring port, on the listen address (default off, 0 for a free one)
  -h, --help                         show this help`

export function parseCliOptions(argv: string[]): StanServerOptions | { help: true } {
  const { values } = parseArgs({
    args: argv,
    options: {
      host: { type: 'string', short: 'a' },
      addr: { type: 'string' },
      port: { type: 'string', short: 'p' },
      cid: { type: 'string' },
      cluster_id: { type: 'string' },
      'cluster-id': { type: 'string' },
      store: { type: 'string' },
      dir: { type: 'string' },
      max_channels: { type: 'string' },
      max_subs: { type: 'string' },
      max_msgs: { type: 'string' },
      max_bytes: { type: 'string' },
      http_port: { type: 'string', short: 'm' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  })
  if (values.help) return { help: true }
  const port = values.port === undefined ? 4222 : Number(values.port)
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid port: ${values.port}`)
  const monitorPort = values.http_port === undefined ? undefined : Number(values.http_port)
  if (monitorPort !== undefined && (!Number.isInteger(monitorPort) || monitorPort < 0 || monitorPort > 65535)) {
    throw new Error(`invalid http_port: ${values.http_port}`)
  }
  const store = values.store?.toLowerCase() ?? 'memory'
  if (store !== 'memory' && store !== 'file') throw new Error(`invalid store type: ${values.store} (memory or file)`)
  if (store === 'file' && values.dir === undefined) throw new Error('the file store needs --dir')
  const limits: Partial<StoreLimits> = {}
  const limit = (flag: string, value: string | undefined, key: keyof StoreLimits) => {
    if (value === undefined) return
    const n = Number(value)
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`invalid --${flag}: ${value}`)
    limits[key] = n
  }
  limit('max_channels', values.max_channels, 'maxChannels')
  limit('max_subs', values.max_subs, 'maxSubscriptions')
  limit('max_msgs', values.max_msgs, 'maxMsgs')
  limit('max_bytes', values.max_bytes, 'maxBytes')
  const host = values.host ?? values.addr ?? '127.0.0.1'
  return {
    limits,
    host,
    port,
    clusterId: values['cluster-id'] ?? values.cluster_id ?? values.cid ?? DEFAULT_CLUSTER_ID,
    store,
    ...(values.dir !== undefined ? { dir: values.dir } : {}),
    // As nats-server, monitoring listens on the client address.
    ...(monitorPort !== undefined ? { monitorPort, monitorHost: host } : {}),
  }
}

export async function main(argv: string[]): Promise<void> {
  let options: ReturnType<typeof parseCliOptions>
  try {
    options = parseCliOptions(argv)
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`)
    process.exitCode = 2
    return
  }
  if ('help' in options) {
    process.stdout.write(`${USAGE}\n`)
    return
  }
  let server: Awaited<ReturnType<typeof startStanServer>>
  try {
    server = await startStanServer(options)
  } catch (err) {
    // Expected start failures (data directory locked, address in use) get a line, not a stack.
    if (!(err instanceof DirectoryLockedError) && !isListenError(err)) throw err
    process.stderr.write(`nats-streaming: unable to start: ${(err as Error).message}\n`)
    process.exitCode = 1
    return
  }
  process.stdout.write(`nats-streaming: cluster ${server.clusterId} listening on ${server.url} (store: ${options.store})\n`)
  if (server.monitorUrl !== undefined) process.stdout.write(`nats-streaming: monitoring on ${server.monitorUrl}/streaming\n`)
  const stop = (signal: NodeJS.Signals) => {
    process.stdout.write(`nats-streaming: ${signal}, shutting down\n`)
    server.close().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`nats-streaming: error while closing: ${String(err)}\n`)
        process.exit(1)
      },
    )
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}

function isListenError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code
  return code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL'
}
