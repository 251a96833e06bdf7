import { readFile } from 'node:fs/promises'

/** Resident memory of a process in bytes, from /proc/<pid>/status (Linux). */
export async function readRssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status)
  if (!match?.[1]) throw new Error(`no VmRSS in /proc/${pid}/status`)
  return Number(match[1]) * 1024
}
