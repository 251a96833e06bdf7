import { randomBytes, randomInt } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { loadDotEnv } from '../config.js'
import { planMessages, splitFileMessages } from './message-plan.js'
import { formatSummary, startProgress, type Counts, type ProgressStream } from './progress-report.js'
import { parsePublishArgs, USAGE } from './publish-args.js'
import * as jetStream from './jetstream-publisher.js'
import { publishEach, type PublishPlan, type PublishTally } from './publish-loop.js'
import * as stan from './stan-publisher.js'

export interface CliIo {
  env: Record<string, string | undefined>
  stdout: ProgressStream
  stderr: ProgressStream
  /** Aborting stops publishing; the run still waits for the acks of what was sent and prints its summary. */
  signal?: AbortSignal
}

export const EXIT_OK = 0
export const EXIT_NOT_ALL_ACKED = 1
export const EXIT_USAGE = 2

/** Runs `bin/publish` with these arguments and returns its exit status; never exits the process itself. */
export async function main(argv: string[], io: CliIo): Promise<number> {
  const parsed = parsePublishArgs(argv, io.env)
  if (!parsed.ok) {
    io.stderr.write(`bin/publish: ${parsed.error.replaceAll('\n', '\nbin/publish: ')}\n\n${USAGE}\n`)
    return EXIT_USAGE
  }
  if (parsed.help) {
    io.stdout.write(`${USAGE}\n`)
    return EXIT_OK
  }
  const args = parsed.args

  let fromFile: Buffer[] = []
  if (args.file !== undefined) {
    try {
      fromFile = splitFileMessages(await readFile(args.file))
    } catch (error) {
      io.stderr.write(`bin/publish: cannot read ${args.file}: ${(error as Error).message}\n`)
      return EXIT_USAGE
    }
  }
  // A random seed by default, so two runs publish different orders; the summary prints it for a replay.
  const seed = args.seed ?? randomInt(0, 0xffffffff)
  const plan = planMessages({ fromFile, count: args.count, garbage: args.garbage, seed, maxMessageBytes: args.maxMessageBytes })

  let latest: Counts = { published: 0, acked: 0, failed: 0, republished: 0, retrying: 0 }
  const loop: PublishPlan = { inFlight: args.inFlight, rate: args.rate, retry: args.retry, signal: io.signal, onAck: (counts) => (latest = counts) }
  const started = performance.now()
  const target = args.broker === 'jetstream' ? args.subject : args.channel
  // A fresh client id (or name) per run: the broker refuses a second connection under an id that is still registered.
  const clientId = `publish-${randomBytes(6).toString('hex')}`
  let tally: PublishTally
  if (args.broker === 'jetstream') {
    const connected = await jetStream.connect({ servers: args.servers, name: clientId, keepReconnecting: true }, args.ackTimeoutMs)
    if (!connected.ok) {
      io.stderr.write(`bin/publish: cannot connect to ${args.servers.join(',')}: ${connected.error}\n`)
      return EXIT_NOT_ALL_ACKED
    }
    const progress = startProgress(plan.total, () => latest, io.stderr)
    tally = await jetStream.publishAll(connected.js, connected.nc, plan.messages, { ...loop, subject: args.subject })
    progress.stop()
    await jetStream.close(connected.nc)
  } else {
    const session = await stan.openSession({ servers: args.servers, clusterId: args.clusterId, clientId, channel: args.channel, signal: io.signal }, args.ackTimeoutMs)
    if (!session.ok) {
      io.stderr.write(`bin/publish: cannot connect to ${args.servers.join(',')} (cluster ${args.clusterId}): ${session.error}\n`)
      return EXIT_NOT_ALL_ACKED
    }
    const progress = startProgress(plan.total, () => latest, io.stderr)
    tally = await publishEach(plan.messages, loop, session.send, () => false)
    tally.connectionErrors.push(...session.errors())
    tally.connectionsLost = session.failovers()
    progress.stop()
    await session.close()
  }
  const elapsedMs = performance.now() - started

  const interrupted = io.signal?.aborted === true
  io.stdout.write(formatSummary({ tally, elapsedMs, channel: target, url: args.servers.join(','), seed, interrupted }))
  // Compared with the plan, not with what was published: messages never sent were not acked either.
  return tally.acked === plan.total ? EXIT_OK : EXIT_NOT_ALL_ACKED
}

/** The process entry used by bin/publish: reads .env, stops publishing on Ctrl-C, sets the exit status. */
export async function run(): Promise<void> {
  loadDotEnv()
  const controller = new AbortController()
  process.once('SIGINT', () => controller.abort())
  process.exitCode = await main(process.argv.slice(2), {
    env: process.env,
    stdout: process.stdout,
    stderr: process.stderr,
    signal: controller.signal,
  })
}
