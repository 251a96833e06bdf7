import { existsSync } from 'node:fs'
import * as v from 'valibot'

/** An integer setting from the environment, within bounds. */
const int = (fallback: number, min: number, max: number) =>
  v.pipe(
    v.optional(v.string(), String(fallback)),
    v.regex(/^\d+$/, `must be a whole number from ${min} to ${max}`),
    v.transform(Number),
    v.minValue(min, `must be from ${min} to ${max}`),
    v.maxValue(max, `must be from ${min} to ${max}`),
  )

/** A name used on the broker: NATS subject tokens and STAN ids allow only these characters. */
const token = (fallback: string) =>
  v.pipe(v.optional(v.string(), fallback), v.regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1..64 of A-Z a-z 0-9 _ -'))

const url = (schemes: string[]) =>
  v.optional(
    v.pipe(
      v.string(),
      v.url('must be a URL'),
      v.check((value) => schemes.some((scheme) => value.startsWith(`${scheme}://`)), `must start with ${schemes.join(':// or ')}://`),
    ),
  )

/**
 * A comma-separated list of nats:// servers (a cluster's seeds), as string[]; each bad entry is named.
 * The client is given the whole list and fails over between them.
 */
const serverList = () =>
  v.optional(
    v.pipe(
      v.string(),
      v.transform((value) => value.split(',').map((entry) => entry.trim())),
      v.rawCheck(({ dataset, addIssue }) => {
        if (!dataset.typed) return
        for (const entry of dataset.value) {
          if (!isNatsUrl(entry)) addIssue({ message: `"${entry}" is not a nats://host:port URL` })
        }
      }),
    ),
  )

function isNatsUrl(entry: string): boolean {
  try {
    const parsed = new URL(entry)
    return parsed.protocol === 'nats:' && parsed.hostname !== ''
  } catch {
    return false
  }
}

/** A NATS subject without wildcards: where orders are published. */
const subject = (fallback: string) =>
  v.pipe(v.optional(v.string(), fallback), v.regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, 'must be a subject without wildcards'))

const MiB = 1024 * 1024

const ConfigSchema = v.object({
  HTTP_HOST: v.pipe(v.optional(v.string(), '127.0.0.1'), v.minLength(1, 'must not be empty')),
  HTTP_PORT: int(8000, 0, 65535),
  DATABASE_URL: url(['postgres', 'postgresql']),
  STAN_URL: url(['nats']),
  STAN_CLUSTER_ID: token('test-cluster'),
  STAN_CLIENT_ID: token('order-service'),
  STAN_CHANNEL: subject('orders'),
  STAN_DURABLE: token('order-service'),
  STAN_MAX_IN_FLIGHT: int(4096, 1, 65536),
  STAN_ACK_WAIT_SECONDS: int(30, 1, 3600),
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
  LOG_LEVEL: v.optional(v.picklist(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], 'must be one of fatal, error, warn, info, debug, trace, silent'), 'info'),
})

export type Config = Readonly<v.InferOutput<typeof ConfigSchema>>

export class ConfigError extends Error {
  readonly code = 'invalid_config'
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`)
    this.name = 'ConfigError'
  }
}

/**
 * Reads the configuration once from the environment; every problem is named in one error.
 * Empty variables count as unset, as in docker-compose files that list a variable without a value.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''))
  const result = v.safeParse(ConfigSchema, present)
  if (!result.success) {
    throw new ConfigError(result.issues.map((issue) => `${v.getDotPath(issue) ?? '?'}: ${issue.message}`))
  }
  return Object.freeze(result.output)
}

/** Loads ./.env into process.env when present; variables already set win. */
export function loadDotEnv(path = '.env'): void {
  if (existsSync(path)) process.loadEnvFile(path)
}
