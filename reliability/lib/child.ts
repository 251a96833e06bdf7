import { spawn } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { readFile } from 'node:fs/promises'

export interface ExitStatus {
  code: number | null
  signal: NodeJS.Signals | null
}

export interface Child {
  pid: number
  /** Settles when the process has exited, however. */
  exited: Promise<ExitStatus>
  isRunning(): boolean
  signal(signal: NodeJS.Signals): void
}

export interface SpawnOptions {
  env: Record<string, string>
  cwd: string
  /** stdout and stderr are appended here, for diagnosis after the run. */
  logPath: string
  /** Called with each stdout line, e.g. to notice a "listening" line. */
  onLine?: (line: string) => void
}

/** Starts a process whose output goes to a log file; it never inherits the runner's terminal. */
export function spawnChild(command: string, args: string[], options: SpawnOptions): Child {
  const log = createWriteStream(options.logPath, { flags: 'a' })
  const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] })
  let running = true
  const exited = new Promise<ExitStatus>((resolve) => {
    child.once('exit', (code, signal) => {
      running = false
      log.write(`--- exited: code ${code} signal ${signal}\n`)
      resolve({ code, signal })
    })
    child.once('error', (error) => {
      running = false
      log.write(`--- could not start: ${error.message}\n`)
      resolve({ code: -1, signal: null })
    })
  })
  let partial = ''
  child.stdout.on('data', (chunk: Buffer) => {
    log.write(chunk)
    if (options.onLine === undefined) return
    const lines = (partial + chunk.toString('utf8')).split('\n')
    partial = lines.pop() ?? ''
    for (const line of lines) options.onLine(line)
  })
  child.stderr.on('data', (chunk: Buffer) => log.write(chunk))
  void exited.then(() => setTimeout(() => log.end(), 50))
  return {
    pid: child.pid ?? -1,
    exited,
    isRunning: () => running,
    signal: (signal) => {
      if (running) child.kill(signal)
    },
  }
}

/** Sends `signal`, and SIGKILL if the process is still there after `graceMs`. */
export async function stopChild(child: Child, signal: NodeJS.Signals, graceMs: number): Promise<ExitStatus & { forced: boolean; ms: number }> {
  const started = performance.now()
  if (!child.isRunning()) return { ...(await child.exited), forced: false, ms: 0 }
  child.signal(signal)
  let forced = false
  const timer = setTimeout(() => {
    forced = true
    child.signal('SIGKILL')
  }, graceMs)
  const status = await child.exited
  clearTimeout(timer)
  return { ...status, forced, ms: Math.round(performance.now() - started) }
}

/** Resident memory of a process in bytes (Linux), or undefined when it is gone. */
export async function residentBytes(pid: number): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8')
    const kib = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1]
    return kib === undefined ? undefined : Number(kib) * 1024
  } catch {
    return undefined
  }
}
