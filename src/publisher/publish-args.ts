import { parseFlags, valueFlags } from '../cli-flags.js'
import { loadConfig } from '../config.js'
import { ConfigError } from '../errors.js'
import type { RetryPolicy } from './publish-loop.js'

export const USAGE = `Usage: bin/publish [options]

Publishes orders to the configured NATS Streaming channel or JetStream subject and waits for every ack.

  --count N        N realistic generated orders (default 10 when no --file or --garbage is given)
  --file F         a JSON order, or JSON lines (one message per line, sent as is)
  --garbage N      N assorted hostile messages (empty, not UTF-8, not JSON, schema violations, too large)
  --rate R         at most R messages per second (default: as fast as acks come back)
  --seed S         seed for generated orders and garbage, 0..4294967295 (default: random, printed at the end)
  --in-flight N    publishes waiting for an ack at most (default 1000)
  --broker B       stan or jetstream (default: $BROKER, else stan)
  --url URL[,URL]  broker URL, or a comma-separated list tried in turn (default: $STAN_URL, else the embedded
                   broker at nats://127.0.0.1:$EMBEDDED_STAN_PORT); with jetstream the server list (default:
                   $NATS_URL, else nats://127.0.0.1:$EMBEDDED_NATS_PORT)
  --cluster-id ID  cluster id (default: $STAN_CLUSTER_ID, else test-cluster)
  --channel C      channel (default: $STAN_CHANNEL, else orders)
  --subject S      JetStream subject (default: $JETSTREAM_SUBJECT, else orders); each message carries a
                   Nats-Msg-Id, the sha256 of its bytes, so the server drops an identical republish
  --ack-timeout S  seconds the broker may take to ack one publish before it counts as failed (default 10)
  --max-attempts N publishes of one message at most, the first included (default 20)
  --give-up-after S
                   seconds from a message's first publish after which a failure gives it up (default 120)
  -h, --help       this text

Through a broker fail-over: when the connection is lost it connects to the next server of the list, and a
publish that failed or timed out is published again (after 0.1 s, doubling up to 2 s; new messages wait
meanwhile) until it is acked or one of the two bounds above gives it up; the progress line shows
"re-published N (M waiting)". On JetStream
the same Nats-Msg-Id makes a re-publish safe: the server drops a copy it already stored. On NATS Streaming a
publish whose ack was lost may have been stored: publishing it again can store it twice in the channel, and the
service takes the second copy as a duplicate (the same order under a stored order_uid).

Exit status: 0 when every message was acked, 1 when any was given up (or none could be sent), 2 for bad arguments.`

export interface PublishArgs {
  count: number
  file?: string
  garbage: number
  rate?: number
  seed?: number
  inFlight: number
  ackTimeoutMs: number
  /** How long a failed publish keeps being published again. */
  retry: RetryPolicy
  broker: 'stan' | 'jetstream'
  clusterId: string
  channel: string
  /** The broker's servers (from --url, or STAN_URL / NATS_URL by the broker), tried in turn. */
  servers: string[]
  /** JetStream's subject. */
  subject: string
  /** The service's MAX_MESSAGE_BYTES, so that garbage "at the size limit" is at the limit the service uses. */
  maxMessageBytes: number
}

export type ParsedArgs = { ok: true; help: true } | { ok: true; help: false; args: PublishArgs } | { ok: false; error: string }

const DEFAULT_COUNT = 10
const DEFAULT_IN_FLIGHT = 1000
const MAX_COUNT = 1_000_000_000
const DEFAULT_ACK_TIMEOUT_S = 10
const DEFAULT_MAX_ATTEMPTS = 20
const DEFAULT_GIVE_UP_AFTER_S = 120

/** Reads the flags; broker settings fall back to the environment and are validated by the same rules as the service's. */
export function parsePublishArgs(argv: string[], env: Record<string, string | undefined>): ParsedArgs {
  const flags = parseFlags(
    argv,
    valueFlags('count', 'file', 'garbage', 'rate', 'seed', 'in-flight', 'ack-timeout', 'max-attempts', 'give-up-after', 'url', 'cluster-id', 'channel', 'broker', 'subject'),
  )
  if (!flags.ok) return flags
  const { values } = flags
  if (values.help) return { ok: true, help: true }

  const problems: string[] = []
  const whole = (flag: string, text: string | undefined, min: number, max: number): number | undefined => {
    if (text === undefined) return undefined
    if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) {
      problems.push(`--${flag} must be a whole number from ${min} to ${max}, not "${text}"`)
      return undefined
    }
    return Number(text)
  }
  const garbage = whole('garbage', values.garbage, 0, MAX_COUNT) ?? 0
  const nothingElse = values.file === undefined && values.garbage === undefined
  const count = whole('count', values.count, 0, MAX_COUNT) ?? (nothingElse ? DEFAULT_COUNT : 0)
  const seed = whole('seed', values.seed, 0, 0xffffffff)
  const inFlight = whole('in-flight', values['in-flight'], 1, 65_536) ?? DEFAULT_IN_FLIGHT
  const ackTimeoutMs = (whole('ack-timeout', values['ack-timeout'], 1, 600) ?? DEFAULT_ACK_TIMEOUT_S) * 1000
  const maxAttempts = whole('max-attempts', values['max-attempts'], 1, 1_000) ?? DEFAULT_MAX_ATTEMPTS
  const giveUpAfterMs = (whole('give-up-after', values['give-up-after'], 1, 86_400) ?? DEFAULT_GIVE_UP_AFTER_S) * 1000
  let rate: number | undefined
  if (values.rate !== undefined) {
    rate = Number(values.rate)
    if (!/^\d+(\.\d+)?$/.test(values.rate) || !(rate > 0) || rate > 10_000_000) {
      problems.push(`--rate must be a number of messages per second above 0, not "${values.rate}"`)
    }
  }
  if (values.file === '') problems.push('--file must name a file')

  const jetStream = (values.broker ?? env.BROKER) === 'jetstream'
  const broker = brokerSettings(env, {
    BROKER: values.broker,
    [jetStream ? 'NATS_URL' : 'STAN_URL']: values.url,
    STAN_CLUSTER_ID: values['cluster-id'],
    STAN_CHANNEL: values.channel,
    JETSTREAM_SUBJECT: values.subject,
  })
  if (!broker.ok) problems.push(...broker.problems)
  if (problems.length > 0 || !broker.ok) return { ok: false, error: problems.join('\n') }

  return {
    ok: true,
    help: false,
    args: { count, file: values.file, garbage, rate, seed, inFlight, ackTimeoutMs, retry: { maxAttempts, giveUpAfterMs }, ...broker.settings },
  }
}

const FLAG_OF: Record<string, string> = {
  BROKER: '--broker',
  STAN_URL: '--url',
  NATS_URL: '--url',
  STAN_CLUSTER_ID: '--cluster-id',
  STAN_CHANNEL: '--channel',
  JETSTREAM_SUBJECT: '--subject',
}
const BROKER_VARIABLES = [
  'BROKER',
  'STAN_URL',
  'STAN_CLUSTER_ID',
  'STAN_CHANNEL',
  'EMBEDDED_STAN_PORT',
  'NATS_URL',
  'JETSTREAM_SUBJECT',
  'EMBEDDED_NATS_PORT',
  'MAX_MESSAGE_BYTES',
] as const

type BrokerSettings =
  | { ok: true; settings: Pick<PublishArgs, 'broker' | 'clusterId' | 'channel' | 'servers' | 'subject' | 'maxMessageBytes'> }
  | { ok: false; problems: string[] }

/** Only the variables the publisher uses are validated, so a bad DATABASE_URL in .env does not stop it. */
function brokerSettings(env: Record<string, string | undefined>, flags: Record<string, string | undefined>): BrokerSettings {
  const picked = Object.fromEntries(BROKER_VARIABLES.map((name) => [name, flags[name] ?? env[name]]))
  // --url names the server list of the broker in use; the other broker's variable is not read.
  delete picked[picked.BROKER === 'jetstream' ? 'STAN_URL' : 'NATS_URL']
  try {
    const config = loadConfig(picked)
    // Port 0 means the embedded broker picks a free port at start-up, which we cannot know here.
    const embeddedPort = config.EMBEDDED_STAN_PORT === 0 ? 4222 : config.EMBEDDED_STAN_PORT
    const servers =
      config.BROKER === 'jetstream' ? (config.NATS_URL ?? [`nats://127.0.0.1:${config.EMBEDDED_NATS_PORT}`]) : (config.STAN_URL ?? [`nats://127.0.0.1:${embeddedPort}`])
    return {
      ok: true,
      settings: {
        broker: config.BROKER,
        clusterId: config.STAN_CLUSTER_ID,
        channel: config.STAN_CHANNEL,
        servers,
        subject: config.JETSTREAM_SUBJECT,
        maxMessageBytes: config.MAX_MESSAGE_BYTES,
      },
    }
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    // Name the flag when the value came from one: "--url: must start with nats://".
    return {
      ok: false,
      problems: error.problems.map((problem) => {
        const name = problem.slice(0, problem.indexOf(':'))
        const flag = FLAG_OF[name]
        return flag !== undefined && flags[name] !== undefined ? `${flag}${problem.slice(name.length)}` : problem
      }),
    }
  }
}
