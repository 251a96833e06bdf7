import { spawn } from 'node:child_process'

export type ExitStatus = { code: number | null; signal: NodeJS.Signals | null }

export interface Running {
  exited: Promise<ExitStatus>
  /** Everything printed so far, stdout and stderr. */
  output(): string
  /** Resolves at the first stdout line that `matches`; fails if the process exits first or the time runs out. */
  line(matches: (line: string) => boolean, timeoutMs: number): Promise<string>
  /** Sends `signal` and waits for the exit; SIGKILL past `timeoutMs`, and fails. */
  stop(signal: NodeJS.Signals, timeoutMs: number): Promise<ExitStatus>
}

/** Starts a command, `node` being this process's Node (the runtime under test); its output is kept for failure messages. */
export function startProcess(command: string[], options: { cwd: string; env: Record<string, string> }): Running {
  const [file, ...args] = command
  const child = spawn(file === 'node' ? process.execPath : file!, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  let partial = ''
  const listeners: ((line: string) => void)[] = []
  child.stdout.on('data', (chunk: Buffer) => {
    const text = chunk.toString('utf8')
    output += text
    const lines = (partial + text).split('\n')
    partial = lines.pop() ?? ''
    for (const line of lines) for (const listener of listeners) listener(line)
  })
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')))
  const exited = new Promise<ExitStatus>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }))
    child.once('error', (error) => {
      output += `could not start: ${error.message}\n`
      resolve({ code: -1, signal: null })
    })
  })
  const name = command.join(' ')
  return {
    exited,
    output: () => output,
    line: (matches, timeoutMs) =>
      within(
        Promise.race([
          new Promise<string>((resolve) => listeners.push((line) => matches(line) && resolve(line))),
          exited.then((status) => Promise.reject(new Error(`${name} exited (${status.code ?? status.signal}):\n${output}`))),
        ]),
        timeoutMs,
        () => `no such line from ${name}:\n${output}`,
      ),
    stop: async (signal, timeoutMs) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      try {
        return await within(exited, timeoutMs, () => `${name} did not stop on ${signal}:\n${output}`)
      } catch (error) {
        child.kill('SIGKILL')
        throw error
      }
    },
  }
}

/** Runs a command to its end: its exit code and everything it printed; killed (and failed) past `timeoutMs`. */
export async function runProcess(command: string[], options: { cwd: string; env: Record<string, string> }, timeoutMs: number): Promise<{ code: number | null; output: string }> {
  const running = startProcess(command, options)
  try {
    const status = await within(running.exited, timeoutMs, () => `${command.join(' ')} did not finish:\n${running.output()}`)
    return { code: status.code, output: running.output() }
  } finally {
    await running.stop('SIGKILL', 5_000)
  }
}

export function within<T>(promise: Promise<T>, timeoutMs: number, failure: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${failure()} (after ${timeoutMs} ms)`)), timeoutMs)))
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}
