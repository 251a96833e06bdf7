import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

/** One thing a scenario checked, and what it found. */
export interface Check {
  name: string
  ok: boolean
  detail: string
}

export interface ScenarioResult {
  name: string
  ok: boolean
  seconds: number
  published: { valid: number; invalid: number }
  stored: number
  deadLettered: number
  duplicatesAbsorbed: number
  lost: number
  doubled: number
  unexpected: number
  mismatched: number
  /** Orders fetched back through GET /order/:id. */
  served: number
  pending: number
  faults: Record<string, number>
  checks: Check[]
  perLabel: Record<string, { published: number; deadLettered: number }>
  problems: string[]
  notes: string[]
  /** Set when the scenario itself could not run to the end. */
  error?: string
}

export interface RunReport {
  mode: 'quick' | 'full'
  /** The broker the service ran on (absent in reports from before JetStream: NATS Streaming). */
  transport?: 'stan' | 'jetstream'
  seed: number
  startedAt: string
  seconds: number
  ok: boolean
  node: string
  scenarios: ScenarioResult[]
}

const HEADER = ['scenario', 'published (valid / invalid)', 'stored', 'dead-lettered', 'duplicates absorbed', 'lost', 'doubled', 'mismatched', 'pending', 'faults injected', 's', 'result']

export function scenarioTable(results: readonly ScenarioResult[]): string {
  const rows = results.map((r) => [
    r.name,
    `${r.published.valid} / ${r.published.invalid}`,
    String(r.stored),
    String(r.deadLettered),
    String(r.duplicatesAbsorbed),
    String(r.lost),
    String(r.doubled + r.unexpected),
    String(r.mismatched),
    String(r.pending),
    describeFaults(r.faults),
    String(r.seconds),
    r.ok ? 'pass' : 'FAIL',
  ])
  return markdownTable(HEADER, rows)
}

/** Hostile messages per kind, summed over the scenarios: published, and dead-lettered with the expected reason. */
export function kindTable(results: readonly ScenarioResult[]): string {
  const totals = new Map<string, { published: number; deadLettered: number }>()
  for (const result of results) {
    for (const [label, tally] of Object.entries(result.perLabel)) {
      const total = totals.get(label) ?? { published: 0, deadLettered: 0 }
      total.published += tally.published
      total.deadLettered += tally.deadLettered
      totals.set(label, total)
    }
  }
  const rows = [...totals].sort(([a], [b]) => a.localeCompare(b)).map(([label, t]) => [label, String(t.published), String(t.deadLettered), t.published === t.deadLettered ? 'pass' : 'FAIL'])
  return markdownTable(['kind', 'published', 'dead-lettered with the right reason', 'result'], rows)
}

export function renderMarkdown(report: RunReport): string {
  const lines = [
    `# Reliability run (${report.mode}${report.transport === 'jetstream' ? ', JetStream' : ''})`,
    '',
    `${report.startedAt}, seed ${report.seed}, Node ${report.node}, ${report.seconds} s: **${report.ok ? 'all scenarios pass' : 'FAILURES'}**.`,
    '',
    scenarioTable(report.scenarios),
    '',
    '"doubled" counts rows written twice and rows nothing published asks for; "pending" is what the durable still held after the service stopped.',
    '',
    '## Hostile messages by kind',
    '',
    kindTable(report.scenarios),
    '',
    '## Checks',
    '',
  ]
  for (const result of report.scenarios) {
    lines.push(`### ${result.name}`, '')
    if (result.error !== undefined) lines.push(`- **error**: ${result.error}`)
    for (const check of result.checks) lines.push(`- ${check.ok ? 'ok' : '**FAIL**'}: ${check.name}${check.detail ? ` (${check.detail})` : ''}`)
    for (const note of result.notes) lines.push(`- note: ${note}`)
    for (const problem of result.problems) lines.push(`- problem: ${problem}`)
    lines.push('')
  }
  return lines.join('\n')
}

export async function writeReport(dir: string, report: RunReport): Promise<void> {
  await mkdir(dir, { recursive: true })
  await writeFile(join(dir, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`)
  await writeFile(join(dir, 'latest.md'), renderMarkdown(report))
}

function describeFaults(faults: Record<string, number>): string {
  const parts = Object.entries(faults).map(([kind, n]) => `${n}× ${kind}`)
  return parts.length === 0 ? '—' : parts.join(', ')
}

function markdownTable(header: string[], rows: string[][]): string {
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => (row[i] ?? '').length)))
  const line = (cells: string[]) => `| ${cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join(' | ')} |`
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n')
}
