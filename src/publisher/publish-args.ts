import { parseArgs } from 'node:util'
import { loadConfig } from '../config.js'
import { ConfigError } from '../errors.js'

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
  -h, --help       this text

Exit status: 0 when every message was acked, 1 when any was not, 2 for bad arguments.`

export interface PublishArgs {
  count: number
  file?: string
  garbage: number
  rate?: number
  seed?: number
  inFlight: number
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

/** Reads the flags; broker settings fall back to the environment and are validated by the same rules as the service's. */
export function parsePublishArgs(argv: string[], env: Record<string, string | undefined>): ParsedArgs {
  let values
  try {
    ;({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        count: { type: 'string' },
        file: { type: 'string' },
        garbage: { type: 'string' },
        rate: { type: 'string' },
        seed: { type: 'string' },
        'in-flight': { type: 'string' },
        url: { type: 'string' },
        'cluster-id': { type: 'string' },
        channel: { type: 'string' },
        broker: { type: 'string' },
        subject: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }))
  } catch (error) {
    return { ok: false, error: (error as Error).message }
  }
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
    args: { count, file: values.file, garbage, rate, seed, inFlight, ...broker.settings },
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
