import { execFileSync } from 'node:child_process'
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawnProcess } from '../../src/child-process.js'
import { eventually } from './events.js'
import { canListen, restartablePort } from './ports.js'
import { asPostgresUser } from './postgres-pair.js'

/** Debian's PgBouncer (1.18 on bookworm); .ci/run installs it. */
const PGBOUNCER = '/usr/sbin/pgbouncer'

export interface PgBouncer {
  readonly port: number
  /** The service's URL through the pooler (same user, password and database as `upstream`). */
  readonly url: string
  stop(): Promise<void>
}

/**
 * PgBouncer in transaction pooling mode on loopback in front of `upstream` (a postgres:// URL with one host), the
 * way it is run in front of a primary: every client transaction gets whichever server connection is free.
 * `settings`: more [pgbouncer] lines (its own timeouts, say).
 */
export async function startPgBouncer(upstream: string, settings: Record<string, string | number> = {}): Promise<PgBouncer> {
  const target = new URL(upstream)
  const user = decodeURIComponent(target.username)
  const password = decodeURIComponent(target.password)
  const database = target.pathname.slice(1)
  const dir = await mkdtemp(join(tmpdir(), 'order-service-pgbouncer-'))
  // PgBouncer refuses to run as root: as root it runs as the postgres OS user, which must read its files.
  await chmod(dir, 0o755)
  const port = await restartablePort()
  const ini = [
    '[databases]',
    `${database} = host=${target.hostname} port=${target.port} dbname=${database}`,
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${port}`,
    'unix_socket_dir =',
    'auth_type = plain',
    `auth_file = ${join(dir, 'users.txt')}`,
    'pool_mode = transaction',
    'default_pool_size = 10',
    'max_client_conn = 200',
    // The driver sends these at connect; PgBouncer passes on only what it tracks.
    'ignore_startup_parameters = extra_float_digits',
    `pidfile = ${join(dir, 'pgbouncer.pid')}`,
    `logfile = ${join(dir, 'pgbouncer.log')}`,
    ...Object.entries(settings).map(([key, value]) => `${key} = ${value}`),
  ]
  await writeFile(join(dir, 'pgbouncer.ini'), `${ini.join('\n')}\n`)
  await writeFile(join(dir, 'users.txt'), `"${user}" "${password}"\n`)
  if (process.getuid?.() === 0) execFileSync('chown', ['-R', 'postgres:postgres', dir])
  const server = spawnProcess(PGBOUNCER, [join(dir, 'pgbouncer.ini')], asPostgresUser())
  const stop = async () => {
    await server.stop('SIGKILL', 0)
    await rm(dir, { recursive: true, force: true })
  }
  const accepting = async () => {
    if (!server.isRunning()) throw new Error(`PgBouncer exited while starting on port ${port}: ${server.errorOutput()}`)
    // Listening: the port can no longer be bound.
    return !(await canListen(port)) || undefined
  }
  await eventually(accepting, 5_000, { failure: () => `PgBouncer did not start on port ${port}: ${server.errorOutput()}` }).catch(async (error: unknown) => {
    await stop()
    throw error
  })
  return { port, url: `postgres://${target.username}:${target.password}@127.0.0.1:${port}/${database}`, stop }
}
