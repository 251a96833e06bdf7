import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { isIP } from 'node:net'
import { hostname } from 'node:os'
import * as v from 'valibot'
import { ConfigError } from './errors.js'

/** A whole number within bounds, from its text. */
const wholeNumber = (min: number, max: number) =>
  v.pipe(
    v.string(),
    v.regex(/^\d+$/, `must be a whole number from ${min} to ${max}`),
    v.transform(Number),
    v.minValue(min, `must be from ${min} to ${max}`),
    v.maxValue(max, `must be from ${min} to ${max}`),
  )

/** An integer setting from the environment, within bounds. */
const int = (fallback: number, min: number, max: number) => v.optional(wholeNumber(min, max), String(fallback))

/** A name used on the broker: NATS subject tokens and STAN ids allow only these characters. */
const token = (fallback: string) =>
  v.pipe(v.optional(v.string(), fallback), v.regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1..64 of A-Z a-z 0-9 _ -'))

/**
 * A comma-separated list of servers, as NATS clients take them: `nats://a:4222,nats://b:4222`. Each entry is
 * trimmed and must be a `nats://` URL with a host; every bad one is named. Outputs the list; the broker's client
 * is given all of it and moves between them.
 */
const serverList = () =>
  v.optional(
    v.pipe(
      v.string(),
      v.transform((value) => value.split(',').map((entry) => entry.trim())),
      v.rawCheck(({ dataset, addIssue }) => {
        if (!dataset.typed) return
        for (const entry of dataset.value) {
          if (!isNatsServer(entry)) addIssue({ message: `must start with nats:// and name a host, each of a comma-separated list; not "${entry}"` })
        }
      }),
    ),
  )

function isNatsServer(entry: string): boolean {
  try {
    const parsed = new URL(entry)
    return parsed.protocol === 'nats:' && parsed.hostname !== ''
  } catch {
    return false
  }
}

/** A DNS name (labels of letters, digits, hyphens; underscores too, as container names have them) or an IPv4 address, as a Host header names it. */
const HOST_NAME = /^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$/

/**
 * ALLOWED_HOSTS: `*` (no Host check), or a comma-separated list of the names clients reach the service by, beside
 * the loopback names (src/http/middleware/host-check.ts): DNS names or IP addresses, without scheme or port.
 * Outputs `*` or the names lower-cased, IPv6 addresses in brackets as a Host header writes them.
 */
const hostList = () =>
  v.optional(
    v.pipe(
      v.string(),
      v.transform((value): '*' | string[] => (value.trim() === '*' ? '*' : value.split(',').flatMap((entry) => (entry.trim() === '' ? [] : [hostEntry(entry.trim())])))),
      v.rawCheck(({ dataset, addIssue }) => {
        if (!dataset.typed || dataset.value === '*') return
        for (const entry of dataset.value) {
          if (!HOST_NAME.test(entry) && !isBracketedIPv6(entry)) addIssue({ message: `must be * or a comma-separated list of host names or IP addresses, without port; not "${entry}"` })
        }
      }),
    ),
    '',
  )

function hostEntry(entry: string): string {
  const name = entry.toLowerCase()
  return isIP(name) === 6 ? `[${name}]` : name
}

function isBracketedIPv6(entry: string): boolean {
  return entry.startsWith('[') && entry.endsWith(']') && isIP(entry.slice(1, -1)) === 6
}

/**
 * A PostgreSQL URL as postgres.js reads it, with one host or several the libpq way:
 * `postgres://user:pw@h1:5432,h2:5432/orders?target_session_attrs=read-write`. Each host entry is named when it is
 * malformed, and a target_session_attrs that postgres.js does not understand too.
 */
const databaseUrl = () =>
  v.optional(
    v.pipe(
      v.string(),
      v.rawCheck(({ dataset, addIssue }) => {
        if (!dataset.typed) return
        const problem = databaseUrlProblem(dataset.value)
        if (problem !== undefined) addIssue({ message: problem })
      }),
    ),
  )

/** What postgres.js 3.4 accepts for target_session_attrs (libpq's `any` is the default, left unset). */
export const TARGET_SESSION_ATTRS = ['read-write', 'read-only', 'primary', 'standby', 'prefer-standby'] as const

/** `host`, `host:port`, `[v6]` or `[v6]:port`, port 1..65535; a host may be percent-encoded (a socket directory: %2Fvar%2Frun%2Fpostgresql). */
const HOST_ENTRY = /^(?:(?:[A-Za-z0-9._~-]|%[0-9A-Fa-f]{2})+|\[[0-9A-Fa-f:.]+\])(?::(\d{1,5}))?$/

export function databaseUrlProblem(value: string): string | undefined {
  const scheme = /^postgres(?:ql)?:\/\//.exec(value)
  if (scheme === null) return 'must start with postgres:// or postgresql://'
  const rest = value.slice(scheme[0].length)
  const authority = rest.split(/[/?#]/)[0] ?? ''
  const hosts = authority.slice(authority.lastIndexOf('@') + 1).split(',')
  // No host at all (postgres:///orders): the driver's default, PGHOST or localhost, as before.
  for (const entry of hosts.length === 1 && hosts[0] === '' ? [] : hosts) {
    const port = HOST_ENTRY.exec(entry)?.[1]
    if (!HOST_ENTRY.test(entry) || (port !== undefined && (Number(port) < 1 || Number(port) > 65535))) {
      return `host entry "${entry}" is malformed: each of the comma-separated hosts must be host or host:port (port 1..65535)`
    }
  }
  let url: URL
  try {
    // As postgres.js does: the URL with its first host alone carries the user, database and parameters.
    url = new URL(value.replace(authority, authority.slice(0, authority.lastIndexOf('@') + 1) + hosts[0]))
  } catch {
    return 'must be a URL (postgres://user:password@host:port/database, hosts comma-separated)'
  }
  const attrs = url.searchParams.get('target_session_attrs')
  if (attrs !== null && !(TARGET_SESSION_ATTRS as readonly string[]).includes(attrs)) {
    return `target_session_attrs=${attrs} is not understood: use one of ${TARGET_SESSION_ATTRS.join(', ')}`
  }
  return undefined
}

/** A NATS subject without wildcards: where orders are published. */
const subject = (fallback: string) =>
  v.pipe(v.optional(v.string(), fallback), v.regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, 'must be a subject without wildcards'))

const MiB = 1024 * 1024

const Settings = v.object({
  HTTP_HOST: v.pipe(v.optional(v.string(), '127.0.0.1'), v.minLength(1, 'must not be empty')),
  HTTP_PORT: int(8000, 0, 65535),
  DATABASE_URL: databaseUrl(),
  /** Where the commit listener LISTENs when DATABASE_URL leads to a transaction pooler: the primary, or a session pool. */
  DATABASE_LISTEN_URL: databaseUrl(),
  /** `transaction`: DATABASE_URL leads to a transaction pooler (PgBouncer pool_mode=transaction); see docs/postgres-ha.md. */
  DATABASE_POOLER: v.optional(v.picklist(['none', 'transaction'], 'must be none or transaction'), 'none'),
  STAN_URL: serverList(),
  STAN_CLUSTER_ID: token('test-cluster'),
  // Unset: derived from the host and the HTTP port (defaultClientId), so instances differ and restarts keep theirs.
  STAN_CLIENT_ID: v.optional(v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1..64 of A-Z a-z 0-9 _ -'))),
  STAN_CHANNEL: subject('orders'),
  STAN_DURABLE: token('order-service'),
  STAN_QUEUE_GROUP: token('order-service'),
  STAN_LEGACY_CLIENT_ID: v.optional(v.union([v.literal('none'), v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be none or 1..64 of A-Z a-z 0-9 _ -'))]), 'order-service'),
  STAN_MAX_IN_FLIGHT: int(4096, 1, 65536),
  STAN_ACK_WAIT_SECONDS: int(30, 1, 3600),
  /** Unset: 10 s, or half the ack wait when that is shorter (see the check below). */
  WRITE_TIMEOUT_MS: v.optional(wholeNumber(100, 15_000)),
  QUERY_TIMEOUT_MS: int(5_000, 100, 60_000),
  MIGRATION_TIMEOUT_MS: int(60_000, 1_000, 3_600_000),
  BROKER: v.optional(v.picklist(['stan', 'jetstream'], 'must be stan or jetstream'), 'stan'),
  NATS_URL: serverList(),
  JETSTREAM_STREAM: token('ORDERS'),
  JETSTREAM_SUBJECT: subject('orders'),
  JETSTREAM_CONSUMER: token('order-service'),
  JETSTREAM_REPLICAS: v.pipe(v.optional(v.picklist(['1', '3'], 'must be 1 or 3'), '1'), v.transform(Number)),
  JETSTREAM_DUPLICATE_WINDOW_SECONDS: int(120, 1, 86_400),
  JETSTREAM_ACK_WAIT_SECONDS: int(30, 1, 3600),
  JETSTREAM_MAX_ACK_PENDING: int(16_384, 1, 1_000_000),
  JETSTREAM_MAX_IN_FLIGHT: int(4096, 1, 65536),
  DATA_DIR: v.pipe(v.optional(v.string(), './.data'), v.minLength(1, 'must not be empty')),
  EMBEDDED_POSTGRES_PORT: int(5433, 1, 65535),
  EMBEDDED_STAN_PORT: int(4222, 0, 65535),
  EMBEDDED_NATS_PORT: int(4223, 1, 65535),
  CACHE_MAX_BYTES: int(256 * MiB, 1024, 64 * 1024 * MiB),
  MAX_MESSAGE_BYTES: int(256 * 1024, 1024, MiB),
  BATCH_MAX_SIZE: int(500, 1, 10_000),
  BATCH_MAX_WAIT_MS: int(20, 0, 10_000),
  GATE_THREAD: v.optional(v.picklist(['on', 'off'], 'must be on or off'), 'on'),
  DEAD_LETTER_PAYLOAD_MAX_BYTES: int(64 * 1024, 256, MiB),
  DEAD_LETTER_RETENTION_DAYS: int(30, 1, 3650),
  DEAD_LETTER_MAX_ROWS: int(100_000, 100, 100_000_000),
  ADMIN_TOKEN: v.optional(v.pipe(v.string(), v.minLength(16, 'must be at least 16 characters'))),
  ALLOWED_HOSTS: hostList(),
  LOG_LEVEL: v.optional(v.picklist(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], 'must be one of fatal, error, warn, info, debug, trace, silent'), 'info'),
})

/** The ack wait of the broker in use: a batch must be written well within it. */
const ackWaitSeconds = (config: { BROKER: 'stan' | 'jetstream'; STAN_ACK_WAIT_SECONDS: number; JETSTREAM_ACK_WAIT_SECONDS: number }) =>
  config.BROKER === 'jetstream' ? config.JETSTREAM_ACK_WAIT_SECONDS : config.STAN_ACK_WAIT_SECONDS

const ConfigSchema = v.pipe(
  Settings,
  v.transform((config) => ({ ...config, WRITE_TIMEOUT_MS: config.WRITE_TIMEOUT_MS ?? Math.min(10_000, ackWaitSeconds(config) * 500) })),
  // A batch still being written when its ack wait ends is delivered again by the broker: the bound comes first.
  v.forward(
    v.check(
      (config) => config.WRITE_TIMEOUT_MS < ackWaitSeconds(config) * 1000,
      (issue) => `must be below ${issue.input.BROKER === 'jetstream' ? 'JETSTREAM' : 'STAN'}_ACK_WAIT_SECONDS × 1000`,
    ),
    ['WRITE_TIMEOUT_MS'],
  ),
  v.forward(
    v.check((config) => config.DATABASE_LISTEN_URL === undefined || config.DATABASE_URL !== undefined, 'is used only with DATABASE_URL'),
    ['DATABASE_LISTEN_URL'],
  ),
)

/** Every variable the service reads, by name (docs and deployment files are checked against it). */
export const SETTING_NAMES: readonly string[] = Object.freeze(Object.keys(Settings.entries))

export type Config = Readonly<Omit<v.InferOutput<typeof ConfigSchema>, 'STAN_CLIENT_ID'> & { STAN_CLIENT_ID: string }>

/**
 * The default client id: `order-service-<host>-<HTTP port>`. Unique per instance (two hosts differ by name, two
 * processes on one host by port) and the same after a restart of that instance, so the broker's duplicate-id check
 * hands the restarted process the dead one's place at once. A host name too long or with other characters is
 * cut and tagged with a hash of the full name. HTTP_PORT=0 (a free port, tests) has no stable port: the pid stands in.
 */
export function defaultClientId(host: string, httpPort: number, pid: number = process.pid): string {
  const instance = httpPort === 0 ? `pid${pid}` : String(httpPort)
  const room = 64 - 'order-service-'.length - 1 - instance.length
  let name = host.replace(/[^A-Za-z0-9_-]/g, '_')
  if (name.length > room || name !== host) {
    const tag = createHash('sha256').update(host).digest('hex').slice(0, 8)
    name = `${name.slice(0, room - tag.length - 1)}-${tag}`
  }
  return `order-service-${name}-${instance}`
}


/**
 * Reads the configuration once from the environment; every problem is named in one error.
 * Empty variables count as unset, as in docker-compose files that list a variable without a value.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env, host: string = hostname()): Config {
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''))
  const result = v.safeParse(ConfigSchema, present)
  if (!result.success) {
    throw new ConfigError(result.issues.map((issue) => `${v.getDotPath(issue) ?? '?'}: ${issue.message}`))
  }
  const output = result.output
  return Object.freeze({ ...output, STAN_CLIENT_ID: output.STAN_CLIENT_ID ?? defaultClientId(host, output.HTTP_PORT) })
}

/** Loads ./.env into process.env when present; variables already set win. */
export function loadDotEnv(path = '.env'): void {
  if (existsSync(path)) process.loadEnvFile(path)
}
