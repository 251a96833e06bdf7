import { spawn } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { withTimeout } from './timeout.js'

/**
 * The one child-process spawner: the embedded nats-server's (src/embedded), the tests', the benchmarks' and the
 * reliability suite's. Here in src/ rather than test/support/ because the service uses it too, and the build
 * (tsconfig.build.json) ships src/ alone.
 */

/** `error`: the spawn's own failure (e.g. ENOENT, no such executable), when it could not start at all. */
export type ExitStatus = { code: number | null; signal: NodeJS.Signals | null; error?: string }

export interface Stopped extends ExitStatus {
  /** True when it was still there after the grace and got SIGKILL. */
  forced: boolean
  ms: number
}

export interface ChildOptions {
  cwd?: string
  /** The child's whole environment; this process's when not given. */
  env?: NodeJS.ProcessEnv
  /**
   * Where its output goes. 'keep' (the default): stdout and stderr kept for output(), for failure messages.
   * `{ logPath }`: both appended to that file, for diagnosis after a run. 'inherit': stderr is this process's,
   * stdout is read for its lines only (a benchmark's children report on stdout or IPC, and warn on stderr).
   * 'lines': both read for their lines only, nothing kept (a long-lived server whose log is passed on line by line).
   */
  output?: 'keep' | 'inherit' | 'lines' | { logPath: string }
  /** Opens an IPC channel: the child reports with process.send, read with message(). */
  ipc?: boolean
  /** Called with each line of stdout, and of stderr unless it is inherited. */
  onLine?: (line: string) => void
  /** SIGKILLs it if this process exits first: a harness that dies without its cleanup leaves nothing behind. */
  killOnExit?: boolean
  /** The user and group to run it as (PostgreSQL and PgBouncer refuse root). */
  uid?: number
  gid?: number
}

export interface Child {
  pid: number
  /** Settles when the process has exited, however. */
  exited: Promise<ExitStatus>
  isRunning(): boolean
  signal(signal: NodeJS.Signals): void
  /** Everything printed so far, stdout and stderr (output 'keep'). */
  output(): string
  /** What it printed on stderr alone so far (output 'keep'). */
  errorOutput(): string
  /** Resolves at the first line (as onLine sees them) that `matches`; fails if the process exits first or the time runs out. */
  line(matches: (line: string) => boolean, timeoutMs: number): Promise<string>
  /** The first IPC message from now (ipc), e.g. a readiness report; rejects if the child exits first. */
  message<T>(): Promise<T>
  /** Sends `signal`, and SIGKILL if the process is still there after `graceMs`; resolves at the exit. */
  stop(signal: NodeJS.Signals, graceMs: number): Promise<Stopped>
}

/** Starts `command`, `node` being this process's Node (the runtime under test). */
export function spawnProcess(command: string, args: readonly string[], options: ChildOptions = {}): Child {
  const output = options.output ?? 'keep'
  const log = typeof output === 'object' ? createWriteStream(output.logPath, { flags: 'a' }) : undefined
  const child = spawn(command === 'node' ? process.execPath : command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    uid: options.uid,
    gid: options.gid,
    stdio: ['ignore', 'pipe', output === 'inherit' ? 'inherit' : 'pipe', ...(options.ipc ? (['ipc'] as const) : [])],
  })
  const name = [command, ...args].join(' ')
  let kept = ''
  let keptErrors = ''
  const write = (text: Buffer | string) => {
    if (log !== undefined) log.write(text)
    else if (output === 'keep') kept += text.toString()
  }
  let running = true
  const killOnExit = () => child.kill('SIGKILL')
  if (options.killOnExit) process.once('exit', killOnExit)
  const exited = new Promise<ExitStatus>((resolve) => {
    child.once('exit', (code, signal) => {
      running = false
      log?.write(`--- exited: code ${code} signal ${signal}\n`)
      resolve({ code, signal })
    })
    child.once('error', (error: NodeJS.ErrnoException) => {
      running = false
      write(`--- could not start: ${error.message}\n`)
      resolve({ code: -1, signal: null, error: error.code ?? error.message })
    })
  })
  void exited.then(() => {
    process.off('exit', killOnExit)
    if (log !== undefined) setTimeout(() => log.end(), 50)
  })

  const listeners = new Set<(line: string) => void>()
  if (options.onLine !== undefined) listeners.add(options.onLine)
  for (const stream of [child.stdout, child.stderr]) {
    let partial = ''
    stream?.on('data', (chunk: Buffer) => {
      write(chunk)
      if (stream === child.stderr && output === 'keep') keptErrors += chunk.toString()
      const lines = (partial + chunk.toString('utf8')).split('\n')
      partial = lines.pop() ?? ''
      for (const line of lines) for (const listener of listeners) listener(line)
    })
  }

  const signal = (which: NodeJS.Signals) => {
    if (running) child.kill(which)
  }
  return {
    pid: child.pid ?? -1,
    exited,
    isRunning: () => running,
    signal,
    output: () => kept,
    errorOutput: () => keptErrors,
    line: (matches, timeoutMs) => {
      let listener!: (line: string) => void
      const found = new Promise<string>((resolve) => {
        listener = (line) => {
          if (matches(line)) resolve(line)
        }
        listeners.add(listener)
      })
      return withTimeout(
        Promise.race([found, exited.then((status) => Promise.reject(new Error(`${name} exited (${status.code ?? status.signal}):\n${kept}`)))]),
        timeoutMs,
        () => failAfter(timeoutMs, `no such line from ${name}:\n${kept}`),
      ).finally(() => listeners.delete(listener))
    },
    message: <T>() =>
      new Promise<T>((resolve, reject) => {
        const onExit = (code: number | null, signal: string | null) => reject(new Error(`${name} exited (${signal ?? code}) before reporting`))
        child.once('exit', onExit)
        child.once('message', (message) => {
          child.off('exit', onExit)
          resolve(message as T)
        })
      }),
    stop: async (which, graceMs) => {
      const started = performance.now()
      if (!running) return { ...(await exited), forced: false, ms: 0 }
      signal(which)
      let forced = false
      const timer = setTimeout(() => {
        forced = true
        signal('SIGKILL')
      }, graceMs)
      const status = await exited
      clearTimeout(timer)
      return { ...status, forced, ms: Math.round(performance.now() - started) }
    },
  }
}

/** Runs a command to its end: its exit code and everything it printed; killed (and failed) past `timeoutMs`. */
export async function runProcess(command: readonly string[], options: Omit<ChildOptions, 'output'>, timeoutMs: number): Promise<{ code: number | null; output: string }> {
  const [file, ...args] = command
  const running = spawnProcess(file!, args, options)
  try {
    const status = await withTimeout(running.exited, timeoutMs, () => failAfter(timeoutMs, `${command.join(' ')} did not finish:\n${running.output()}`))
    return { code: status.code, output: running.output() }
  } finally {
    await running.stop('SIGKILL', 5_000)
  }
}

function failAfter(timeoutMs: number, what: string): never {
  throw new Error(`${what} (after ${timeoutMs} ms)`)
}
