import * as v from 'valibot'
import { parseFlags, valueFlags } from '../cli-flags.js'
import { loadConfig, loadDotEnv } from '../config.js'
import { ConfigError } from '../errors.js'
import { createBoundedPool } from '../store/bounded-pool.js'
import { createRedriveStore, type RedriveSelection } from '../store/dead-letter-redrives.js'
import { createDeadLetterStore } from '../store/dead-letters.js'
import { createOrderStore } from '../store/orders.js'
import { gateInThisThread } from './gate-thread.js'
import { countsOf, createRedrive, failedCount, MAX_BATCH_SIZE, SelectionInput, type RedriveCounts, type RedriveProgress } from './redrive.js'
import { createReplayStep } from './replay.js'

export interface RedriveIo {
  env: Record<string, string | undefined>
  stdout: { write(text: string): unknown }
  stderr: { write(text: string): unknown; isTTY?: boolean; columns?: number }
  /** Aborting stops the run after the batch in flight; starting the same selection again resumes it. */
  signal?: AbortSignal
}

export const EXIT_OK = 0
/** A letter still rejected or truncated, or the run did not finish (interrupted, the database lost). */
export const EXIT_FAILED = 1
export const EXIT_USAGE = 2

export const USAGE = `Usage: bin/redrive [--reason R] [--channel C] [--from T] [--to T] [--limit N] [--batch N] [--dry-run]

Puts the dead letters that match through the gate again and stores those that now pass, in batches, through the
same step as POST /dead-letters/:id/replay (docs/operations.md). Needs DATABASE_URL.

  --reason R    empty, too_large, not_utf8, not_json, schema, conflict or unstorable
  --channel C   the channel (STAN) or stream (JetStream) the letters came from
  --from T      received at or after T (ISO 8601: 2026-01-08, 2026-01-08T18:00:00Z)
  --to T        received before T
  --limit N     at most N letters, oldest first
  --batch N     letters per transaction (100; at most ${MAX_BATCH_SIZE})
  --dry-run     say what would happen, write nothing

Exit status: 0 every letter stored or found stored, 1 any still rejected or truncated or the run not finished
(run it again to resume), 2 usage.`

const PROGRESS_TTY_MS = 200
const PROGRESS_PLAIN_MS = 2_000

type Parsed = { help: true } | { help: false; selection: RedriveSelection; batch: number; dryRun: boolean }

function parse(argv: string[]): { ok: true; value: Parsed } | { ok: false; error: string } {
  const flags = parseFlags(argv, { ...valueFlags('reason', 'channel', 'from', 'to', 'limit', 'batch'), 'dry-run': { type: 'boolean' } })
  if (!flags.ok) return flags
  const { values } = flags
  if (values.help === true) return { ok: true, value: { help: true } }
  const whole = (text: string | undefined) => (text === undefined ? undefined : /^\d{1,9}$/.test(text) ? Number(text) : Number.NaN)
  const { limit: limitText, batch: batchText, 'dry-run': dryRun, help: _, ...fields } = values
  const selection = v.safeParse(SelectionInput, { ...fields, limit: whole(limitText) })
  if (!selection.success) return { ok: false, error: selection.issues.map((issue) => `--${v.getDotPath(issue) ?? '?'} ${issue.message}`).join('\n') }
  const batch = whole(batchText) ?? 100
  if (!(batch >= 1 && batch <= MAX_BATCH_SIZE)) return { ok: false, error: `--batch must be a whole number from 1 to ${MAX_BATCH_SIZE}` }
  return { ok: true, value: { help: false, selection: selection.output, batch, dryRun: dryRun === true } }
}

/** Runs `bin/redrive` with these arguments and returns its exit status; never exits the process itself. */
export async function main(argv: string[], io: RedriveIo): Promise<number> {
  const parsed = parse(argv)
  if (!parsed.ok) {
    io.stderr.write(`bin/redrive: ${parsed.error.replaceAll('\n', '\nbin/redrive: ')}\n\n${USAGE}\n`)
    return EXIT_USAGE
  }
  if (parsed.value.help) {
    io.stdout.write(`${USAGE}\n`)
    return EXIT_OK
  }
  const { selection, batch, dryRun } = parsed.value
  let config
  try {
    config = loadConfig(io.env)
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    io.stderr.write(`bin/redrive: ${error.message}\n`)
    return EXIT_USAGE
  }
  if (config.DATABASE_URL === undefined) {
    io.stderr.write('bin/redrive: DATABASE_URL is not set: the database of the service\n')
    return EXIT_USAGE
  }

  const pool = createBoundedPool({
    url: config.DATABASE_URL,
    name: 'order-service redrive',
    max: 2,
    boundMs: config.WRITE_TIMEOUT_MS,
    idleInTransactionMs: config.WRITE_TIMEOUT_MS,
    pooler: config.DATABASE_POOLER,
  })
  const gate = gateInThisThread({ maxMessageBytes: config.MAX_MESSAGE_BYTES })
  const orders = pool.bound(createOrderStore)
  const deadLetters = pool.bound((sql) => createDeadLetterStore(sql, { maxPayloadBytes: config.DEAD_LETTER_PAYLOAD_MAX_BYTES }))
  const redrive = createRedrive({
    transaction: pool.begin,
    store: pool.bound(createRedriveStore),
    deadLetters,
    replayLetter: createReplayStep({ orders, deadLetters, gate: gate.check }),
    batchSize: batch,
  })
  const about = describe(selection)
  try {
    if (dryRun) {
      const { selected, counts } = await redrive.dryRun(selection)
      io.stdout.write(`dry run, nothing written: ${selected} dead letters (${about})\nwould be ${countsLine(counts)}\n`)
      return EXIT_OK
    }
    const { id, joined } = await redrive.start(selection)
    io.stdout.write(`re-drive ${id}${joined ? ' (joined, already running)' : ''}: ${about}\n`)
    const progress = progressDrawer(io.stderr)
    let counts: RedriveCounts
    try {
      counts = await redrive.run(id, { ...(io.signal === undefined ? {} : { signal: io.signal }), onProgress: progress.draw })
    } finally {
      progress.clear()
    }
    const state = await redrive.state(id)
    const whole = countsOf(state?.outcomes ?? {})
    const finished = state?.finished_at != null
    io.stdout.write(
      `this run: ${countsLine(counts)}\n` +
        `re-drive ${id}: ${state?.done ?? 0}/${state?.total ?? 0} done, ${finished ? 'finished' : 'not finished: run it again to resume'}; ${countsLine(whole)}\n`,
    )
    return finished && failedCount(whole) === 0 ? EXIT_OK : EXIT_FAILED
  } catch (error) {
    io.stderr.write(`bin/redrive: ${(error as Error).message}${dryRun ? '' : '; what was done stays done: run it again to resume'}\n`)
    return EXIT_FAILED
  } finally {
    await gate.close()
    await pool.end({ timeout: 5 })
  }
}

/** "stored 1180, duplicate 12, rejected 8 (schema 8), truncated 0" */
function countsLine(counts: RedriveCounts): string {
  const reasons = Object.entries(counts.rejected).map(([reason, n]) => `${reason} ${n}`)
  const rejected = failedCount(counts) - counts.truncated
  return `stored ${counts.stored}, duplicate ${counts.duplicate}, rejected ${rejected}${reasons.length > 0 ? ` (${reasons.join(', ')})` : ''}, truncated ${counts.truncated}`
}

function describe(selection: RedriveSelection): string {
  const parts = Object.entries(selection).filter(([, value]) => value !== null).map(([name, value]) => `${name} ${value}`)
  return parts.length === 0 ? 'every dead letter still dead' : parts.join(', ')
}

/**
 * Progress as batches commit: a bar redrawn in place on a terminal, a line now and then otherwise (logs); drawn
 * at most every PROGRESS_*_MS.
 */
function progressDrawer(stream: RedriveIo['stderr']) {
  const tty = stream.isTTY === true
  let last = 0
  let drawnDone = -1
  return {
    draw(progress: RedriveProgress) {
      const now = performance.now()
      const complete = progress.done === progress.total
      if (complete ? drawnDone === progress.done : now - last < (tty ? PROGRESS_TTY_MS : PROGRESS_PLAIN_MS)) return
      last = now
      drawnDone = progress.done
      const fraction = progress.total === 0 ? 1 : progress.done / progress.total
      const text = `${Math.floor(fraction * 100)}% ${progress.done}/${progress.total} done; this run ${countsLine(progress.counts)}`
      if (!tty) {
        stream.write(`${text}\n`)
        return
      }
      const width = Math.max(10, Math.min(40, (stream.columns || 80) - text.length - 4))
      const filled = Math.round(fraction * width)
      stream.write(`\r[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${text}\x1b[K`)
    },
    clear() {
      if (tty) stream.write('\r\x1b[K')
    },
  }
}

/** The process entry used by bin/redrive: reads .env, stops after the batch in flight on Ctrl-C, sets the exit status. */
export async function run(): Promise<void> {
  loadDotEnv()
  const controller = new AbortController()
  process.once('SIGINT', () => controller.abort())
  process.exitCode = await main(process.argv.slice(2), { env: process.env, stdout: process.stdout, stderr: process.stderr, signal: controller.signal })
}
