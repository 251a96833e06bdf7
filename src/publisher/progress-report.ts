import type { PublishTally } from './publish-loop.js'

export interface ProgressStream {
  write(text: string): unknown
  isTTY?: boolean
  columns?: number
}

export type Counts = Pick<PublishTally, 'published' | 'acked' | 'failed' | 'republished' | 'retrying'>

export interface Progress {
  stop(): void
}

const TTY_INTERVAL_MS = 200
const PLAIN_INTERVAL_MS = 5_000

/**
 * Shows progress on `stream` while a run lasts: a bar redrawn in place on a terminal, a line every few seconds
 * otherwise (logs). Nothing is drawn before the first interval, so short runs print only their summary.
 */
export function startProgress(total: number, read: () => Counts, stream: ProgressStream): Progress {
  const started = performance.now()
  const tty = stream.isTTY === true
  const draw = () => {
    const line = progressLine(total, read(), performance.now() - started, tty ? stream.columns || 80 : undefined)
    stream.write(tty ? `\r${line}\x1b[K` : `${line}\n`)
  }
  const timer = setInterval(draw, tty ? TTY_INTERVAL_MS : PLAIN_INTERVAL_MS)
  timer.unref()
  return {
    stop: () => {
      clearInterval(timer)
      if (tty) stream.write('\r\x1b[K')
    },
  }
}

/**
 * "[#####-----] 50% 500/1000 acked 490 given up 0 812/s", the bar fitted to `columns` when given; once a publish has
 * failed, also "re-published 12 (3 waiting)": a fail-over being ridden out.
 */
export function progressLine(total: number, counts: Counts, elapsedMs: number, columns?: number): string {
  const done = counts.acked + counts.failed
  const fraction = total === 0 ? 1 : Math.min(1, done / total)
  const retries = counts.republished + counts.retrying > 0 ? ` re-published ${counts.republished} (${counts.retrying} waiting)` : ''
  const text = `${Math.floor(fraction * 100)}% ${done}/${total} acked ${counts.acked}${retries} given up ${counts.failed} ${formatRate(done, elapsedMs)}`
  if (columns === undefined) return text
  const width = Math.max(10, Math.min(40, columns - text.length - 4))
  const filled = Math.round(fraction * width)
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${text}`
}

export interface SummaryFacts {
  tally: PublishTally
  elapsedMs: number
  channel: string
  url: string
  seed: number
  interrupted: boolean
}

/**
 * The end-of-run report: counts, time and rate; each kind of failed publish with how often it happened (most were
 * published again), and why messages were given up.
 */
export function formatSummary(facts: SummaryFacts): string {
  const { tally, elapsedMs, channel, url, seed, interrupted } = facts
  const lines = [
    `published ${tally.published} to ${channel} on ${url} (seed ${seed})${interrupted ? ', interrupted' : ''}`,
    `acked ${tally.acked}, re-published ${tally.republished}, given up ${tally.failed}, elapsed ${(elapsedMs / 1000).toFixed(2)} s, ${formatRate(tally.acked, elapsedMs)}`,
  ]
  if (tally.duplicates > 0) lines.push(`  ${tally.duplicates} acked as duplicates: the server already had a message with the same id (same bytes) and dropped them`)
  for (const [reason, times] of tally.failures) lines.push(`  failed ${times}× ${reason}`)
  for (const [reason, times] of tally.givenUp) lines.push(`  given up ${times}× ${reason}`)
  if (tally.connectionsLost > 0) lines.push(`  connection lost ${tally.connectionsLost}×, connected again to a server of the list`)
  for (const error of new Set(tally.connectionErrors)) lines.push(`  broker error: ${error}`)
  return `${lines.join('\n')}\n`
}

function formatRate(messages: number, elapsedMs: number): string {
  return `${elapsedMs > 0 ? Math.round((messages * 1000) / elapsedMs) : 0} msg/s`
}
