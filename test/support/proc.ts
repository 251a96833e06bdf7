import { readdir, readFile } from 'node:fs/promises'

/** Resident memory of a process in bytes, from /proc/<pid>/status (Linux). */
export async function readRssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status)
  if (!match?.[1]) throw new Error(`no VmRSS in /proc/${pid}/status`)
  return Number(match[1]) * 1024
}

/** Clock ticks per second of /proc/<pid>/stat's times: 100 on every Linux this runs on (USER_HZ). */
const TICKS_PER_SECOND = 100

/** CPU seconds (user + system, all threads) a process has used so far, from /proc/<pid>/stat. */
export async function readCpuSeconds(pid: number): Promise<number> {
  return cpuSecondsOf(await readFile(`/proc/${pid}/stat`, 'utf8'))
}

/**
 * CPU seconds used so far by every process whose command name is `name` (e.g. all of PostgreSQL's backends and
 * helpers, `postgres`). Processes that ended in between are not counted: compare readings over a span in which
 * the same processes live.
 */
export async function readCpuSecondsByName(name: string): Promise<number> {
  let seconds = 0
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    let stat: string
    try {
      stat = await readFile(`/proc/${entry}/stat`, 'utf8')
    } catch {
      continue // ended while listed
    }
    if (stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) === name) seconds += cpuSecondsOf(stat)
  }
  return seconds
}

function cpuSecondsOf(stat: string): number {
  // The command name may hold spaces and parentheses: the fields after it start past the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const utime = Number(fields[11])
  const stime = Number(fields[12])
  return (utime + stime) / TICKS_PER_SECOND
}
