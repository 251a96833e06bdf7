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
 * CPU seconds used so far by a process and its children (e.g. PostgreSQL's postmaster and every backend and helper
 * it forked: that server's processes, not another's on the same machine). Children that ended in between are not
 * counted: compare readings over a span in which the same processes live.
 */
export async function readCpuSecondsOfTree(pid: number): Promise<number> {
  let seconds = 0
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    let stat: string
    try {
      stat = await readFile(`/proc/${entry}/stat`, 'utf8')
    } catch {
      continue // ended while listed
    }
    if (Number(entry) === pid || parentPid(stat) === pid) seconds += cpuSecondsOf(stat)
  }
  return seconds
}

/** The fields after the command name, which may hold spaces and parentheses: they start past the last ')'. */
function fieldsOf(stat: string): string[] {
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')
}

/** The parent's pid in a /proc/<pid>/stat line. */
export function parentPid(stat: string): number {
  return Number(fieldsOf(stat)[1])
}

function cpuSecondsOf(stat: string): number {
  const fields = fieldsOf(stat)
  const utime = Number(fields[11])
  const stime = Number(fields[12])
  return (utime + stime) / TICKS_PER_SECOND
}

/**
 * CPU seconds of the children this process has waited for, so far (cutime + cstime of /proc/<pid>/stat): read by a
 * shell after the command it ran has exited, it is that command's CPU.
 */
export function waitedChildrenCpuSeconds(stat: string): number {
  const fields = fieldsOf(stat)
  return (Number(fields[13]) + Number(fields[14])) / TICKS_PER_SECOND
}
