/**
 * An exclusive lock on a file store's data directory, so that two brokers never
 * write the same files (the real server flocks `.rootdir.lck`). Node has no flock:
 * the lock is a file created atomically (link fails if it exists) that names its
 * owner by pid and, on Linux, the process start time. A lock whose owner is no
 * longer running (a broker killed with SIGKILL) is stale and is taken over; the
 * start time tells a reused pid from the owner.
 */
import { closeSync, linkSync, openSync, readFileSync, renameSync, rmSync, writeSync, fsyncSync } from 'node:fs'
import { join } from 'node:path'

export const LOCK_FILE_NAME = 'stan-server.lock'

export class DirectoryLockedError extends Error {
  constructor(
    readonly dir: string,
    readonly ownerPid: number,
  ) {
    super(`stan-server: the data directory ${dir} is in use by another broker (process ${ownerPid}); stop it first`)
    this.name = 'DirectoryLockedError'
  }
}

export interface DirectoryLock {
  /** Removes the lock file if it is still ours. */
  release(): void
}

interface Owner {
  readonly pid: number
  /** Process start time in clock ticks since boot; '' where /proc is unavailable. */
  readonly startTime: string
}

/** Takes the lock on `dir` (which must exist); throws DirectoryLockedError while another live broker holds it. */
export function lockDirectory(dir: string): DirectoryLock {
  const path = join(dir, LOCK_FILE_NAME)
  const me: Owner = { pid: process.pid, startTime: startTimeOf(process.pid) ?? '' }
  const content = `${me.pid} ${me.startTime}\n`
  // Two tries: a stale lock is moved away once, then the fresh one is created.
  for (let attempt = 0; attempt < 2; attempt++) {
    if (createExclusively(path, content)) return { release: () => releaseIfOwned(path, content) }
    const owner = readOwner(path)
    if (owner !== undefined && isRunning(owner)) throw new DirectoryLockedError(dir, owner.pid)
    takeAwayStale(dir, path)
  }
  throw new DirectoryLockedError(dir, readOwner(path)?.pid ?? 0)
}

/**
 * Writes the content to a private file first, then links it into place: the lock
 * file appears complete or not at all, so a reader never sees it half-written.
 */
function createExclusively(path: string, content: string): boolean {
  const temporary = `${path}.${process.pid}.tmp`
  const fd = openSync(temporary, 'w')
  try {
    writeSync(fd, content)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  try {
    linkSync(temporary, path)
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw err
  } finally {
    rmSync(temporary, { force: true })
  }
}

/**
 * Moves a stale lock aside, then checks that what was moved is the stale one: if
 * another broker took the lock over meanwhile, its lock is put back.
 */
function takeAwayStale(dir: string, path: string): void {
  const aside = `${path}.stale.${process.pid}`
  try {
    renameSync(path, aside)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return // already gone
    throw err
  }
  const moved = readOwner(aside)
  if (moved !== undefined && isRunning(moved)) {
    try {
      linkSync(aside, path)
    } finally {
      rmSync(aside, { force: true })
    }
    throw new DirectoryLockedError(dir, moved.pid)
  }
  rmSync(aside, { force: true })
}

function releaseIfOwned(path: string, content: string): void {
  let current: string
  try {
    current = readFileSync(path, 'utf8')
  } catch {
    return
  }
  if (current === content) rmSync(path, { force: true })
}

/** Undefined when the file is gone or does not name a process. */
function readOwner(path: string): Owner | undefined {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  const [pid, startTime = ''] = text.trim().split(' ')
  const n = Number(pid)
  return Number.isSafeInteger(n) && n > 0 ? { pid: n, startTime } : undefined
}

function isRunning(owner: Owner): boolean {
  try {
    process.kill(owner.pid, 0)
  } catch (err) {
    // EPERM: it exists, under another user.
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false
  }
  const stat = procStat(owner.pid)
  if (stat === undefined) return true // no /proc: the pid is all we can go by
  if (stat.state === 'Z') return false // killed, not yet reaped by its parent
  return owner.startTime === '' || stat.startTime === owner.startTime
}

function startTimeOf(pid: number): string | undefined {
  return procStat(pid)?.startTime
}

/** State and start time from /proc/<pid>/stat (fields 3 and 22; the name in field 2 may hold spaces). */
function procStat(pid: number): { state: string; startTime: string } | undefined {
  let text: string
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return undefined
  }
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ')
  const state = fields[0]
  const startTime = fields[19]
  return state !== undefined && startTime !== undefined ? { state, startTime } : undefined
}
