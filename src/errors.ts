/**
 * What the service throws, each error with a stable `code` (as porsager/postgres's errors.js does): callers, tests
 * and logs branch on the code, never on the message. HTTP answers have codes of their own, in src/http/errors.ts;
 * the embedded NATS Streaming server (src/stan-server/) keeps its own errors, as an area of its own.
 */

/** Every code the service's own errors carry, and what each means. */
export type ServiceErrorCode =
  /** The environment holds invalid settings (ConfigError names each): exit 78 at start-up. */
  | 'invalid_config'
  /** A port the process needs is taken by another program (PortInUseError): exit 78 at start-up. */
  | 'port_in_use'
  /** The embedded PostgreSQL did not start; the message carries its FATAL line. */
  | 'embedded_postgres_failed'
  /** The gate's worker thread failed, exited, or answered out of turn: a bug, so the process crashes. */
  | 'gate_thread_failed'
  /** A message handed to the gate thread after close(). */
  | 'gate_thread_closed'
  /** Even the dead letter of a message PostgreSQL refused cannot be stored: the writer stops rather than ack it. */
  | 'dead_letter_unstorable'
  /** BROKER=jetstream without NATS_URL, and no nats-server on the PATH (StartupError): exit 78. */
  | 'nats_server_missing'
  /** The local nats-server started for BROKER=jetstream did not come up (StartupError): exit 78. */
  | 'nats_server_failed'
  /** The JetStream stream exists and its subjects do not take the configured subject (StartupError): exit 78. */
  | 'stream_subjects_mismatch'
  /** The JetStream consumer exists with settings JetStream cannot update (StartupError): exit 78. */
  | 'consumer_mismatch'
  /** Run as root, DATA_DIR lies in a folder the embedded PostgreSQL's OS user cannot enter (StartupError): exit 78. */
  | 'data_dir_unreachable'
  /** The commit listener's URL leads to a standby, which refuses LISTEN (StartupError): exit 78. */
  | 'listen_refused'
  /** A broken invariant, such as a module run in a way it cannot be: a bug. */
  | 'internal'

/**
 * The service's errors: a stable code, a message for a person, and the cause when one error wraps another.
 * Most are thrown as they are; the few that carry more for their catcher are subclasses.
 *
 * @example
 * throw new ServiceError('gate_thread_closed', 'the gate thread is closed')
 */
export class ServiceError extends Error {
  constructor(
    readonly code: ServiceErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options)
    this.name = new.target.name
  }
}

/** Invalid settings, every problem named (main.ts prints them and exits 78). */
export class ConfigError extends ServiceError {
  constructor(readonly problems: string[]) {
    super('invalid_config', `Invalid configuration:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`)
  }
}

/** The settings naming a port the process listens on. */
export type PortSetting = 'HTTP_PORT' | 'EMBEDDED_STAN_PORT' | 'EMBEDDED_NATS_PORT' | 'EMBEDDED_POSTGRES_PORT'

/** What listens on each port, and what a person can do when it is taken. */
const PORT_USES: Record<PortSetting, { what: string; remedy: string }> = {
  HTTP_PORT: { what: 'the HTTP server', remedy: 'set HTTP_PORT to a free port (0 picks one)' },
  EMBEDDED_STAN_PORT: {
    what: 'the embedded NATS Streaming server',
    remedy: 'set EMBEDDED_STAN_PORT to a free port, or STAN_URL to use a NATS Streaming server already running',
  },
  EMBEDDED_NATS_PORT: {
    what: 'the local nats-server (BROKER=jetstream)',
    remedy: 'set EMBEDDED_NATS_PORT to a free port, or NATS_URL to use a nats-server already running',
  },
  EMBEDDED_POSTGRES_PORT: {
    what: 'the embedded PostgreSQL',
    remedy: 'set EMBEDDED_POSTGRES_PORT to a free port, or DATABASE_URL to use a PostgreSQL server already running',
  },
}

/**
 * A port the process needs is taken by another program. Its message is one line for a person: the port, what
 * needed it, and the setting to change.
 */
export class PortInUseError extends ServiceError {
  constructor(
    readonly setting: PortSetting,
    readonly host: string,
    readonly port: number,
    options?: ErrorOptions,
  ) {
    const { what, remedy } = PORT_USES[setting]
    super('port_in_use', `Port ${port} on ${host} (${setting}), wanted by ${what}, is already in use: ${remedy}.`, options)
  }
}

/** Node's error for a listen on a port taken by another socket (and the one embedded/postgres.ts throws for it). */
export function isAddressInUse(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 'EADDRINUSE'
}

/**
 * A start-up problem that waiting will not fix (no nats-server installed, a JetStream stream without the
 * subject, ...): main says it in one line and exits with EX_CONFIG, without a stack trace.
 */
export class StartupError extends ServiceError {
  constructor(
    code: Extract<ServiceErrorCode, 'nats_server_missing' | 'nats_server_failed' | 'stream_subjects_mismatch' | 'consumer_mismatch' | 'data_dir_unreachable' | 'listen_refused'>,
    message: string,
  ) {
    super(code, message)
  }
}
