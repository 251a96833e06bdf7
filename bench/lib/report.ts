import { mkdir, writeFile } from 'node:fs/promises'
import { cpus, totalmem } from 'node:os'
import { dirname } from 'node:path'

/** One line of the table. A null value is a measurement not taken in this run; `note` says why. */
export interface Row {
  group: 'read' | 'ingest' | 'restore' | 'memory'
  name: string
  value: number | null
  unit: string
  note?: string
  /** The target for this figure and whether this run met it, e.g. "< 2,000 ms: met". */
  target?: string
}

export interface Machine {
  cpu: string
  cores: number
  memoryGiB: number
  node: string
  postgres: string
}

export interface Report {
  mode: 'quick' | 'full'
  startedAt: string
  finishedAt: string
  command: string
  machine: Machine
  rows: Row[]
}

export function describeMachine(postgres: string): Machine {
  const cpu = cpus()
  return {
    cpu: cpu[0]?.model.trim() ?? 'unknown',
    cores: cpu.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    postgres,
  }
}

/** Fixed-width text: one line per row, grouped, values right-aligned. */
export function formatTable(report: Report): string {
  const m = report.machine
  const header = [
    `order-service benchmarks (${report.mode}), ${report.startedAt}`,
    `${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB; Node ${m.node}; ${m.postgres}`,
    `command: ${report.command}`,
  ]
  const cells = report.rows.map((row) => [row.group, row.name, formatValue(row.value), row.unit, row.target ?? '', row.note ?? ''])
  return textTable(header, ['group', 'measurement', 'value', 'unit', 'target', 'note'], cells, (column) => column === 2)
}

/** The bench's tables: header lines, then titled columns two spaces apart, `rightAligned` ones padded on the left. */
export function textTable(header: readonly string[], titles: readonly string[], cells: readonly string[][], rightAligned: (column: number) => boolean): string {
  const widths = titles.map((title, i) => Math.max(title.length, ...cells.map((cell) => cell[i]!.length)))
  const line = (cell: readonly string[]) =>
    cell.map((text, i) => (rightAligned(i) ? text.padStart(widths[i]!) : text.padEnd(widths[i]!))).join('  ').trimEnd()
  const rule = widths.map((width) => '-'.repeat(width)).join('  ')
  return [...header, '', line(titles), rule, ...cells.map(line)].join('\n')
}

function formatValue(value: number | null): string {
  if (value === null) return 'TODO'
  if (Number.isInteger(value) || Math.abs(value) >= 100) return Math.round(value).toLocaleString('en-US')
  return value.toFixed(Math.abs(value) >= 10 ? 1 : 2)
}

export async function writeReport(path: string, report: Report): Promise<void> {
  await mkdir(dirname(path), { recursive: true })
  await writeFile(path, `${JSON.stringify(report, null, 2)}\n`)
}

const GROUP_ORDER: Row['group'][] = ['read', 'ingest', 'restore', 'memory']

/** The rows by group, in the table's order; within a group, in the order they were measured. */
export function sortByGroup(rows: Row[]): Row[] {
  return GROUP_ORDER.flatMap((group) => rows.filter((row) => row.group === group))
}

/** A whole number with thousands separators: 100,000. */
export const count = (n: number): string => n.toLocaleString('en-US')

/** `a / b` with two decimals, for notes such as "0.85 of ceiling". */
export const ratio = (a: number, b: number): string => (a / b).toFixed(2)

/** Whether a target was met, in the table's target column. */
export const verdict = (met: boolean): string => (met ? 'met' : 'MISSED')
