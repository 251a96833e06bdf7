import { spawnProcess, type Child, type ChildOptions } from '../../src/child-process.js'
import { eventually } from './events.js'

/**
 * The built service (`node <build>/dist/src/main.js`) as a child process, with its readiness wait: the one service
 * launcher of the benchmarks and the reliability suite (the tests run it in-process: test/support/service.ts).
 */
export interface ServiceProcessOptions {
  /** The compiled entry: a build's dist/src/main.js. */
  main: string
  /** A folder of its own, so a developer's .env in the repository is not read. */
  cwd: string
  /** Its whole environment beside PATH: the settings of src/config.ts. */
  env: Record<string, string>
  /** Node flags, e.g. --cpu-prof. */
  nodeFlags?: readonly string[]
  output?: ChildOptions['output']
  onLine?: (line: string) => void
  killOnExit?: boolean
}

export interface ServiceChild extends Child {
  /**
   * Resolves with its base URL once GET /readyz answers 200 (database reachable, cache warm, subscription live).
   * A service on a port of its choosing (HTTP_PORT=0) is found by its "order-service ready" log line (LOG_LEVEL info
   * or lower), one on a known port by `baseUrl`. Fails if the process exits first or `timeoutMs` runs out.
   */
  ready(timeoutMs: number, baseUrl?: string): Promise<string>
}

/** Between two GET /readyz: short, since a benchmark counts the time to readiness. */
const POLL_MS = 10
/** One GET /readyz: the service answers it at once, or not yet. */
const PROBE_TIMEOUT_MS = 2_000

export function spawnService(options: ServiceProcessOptions): ServiceChild {
  const child = spawnProcess(process.execPath, [...(options.nodeFlags ?? []), options.main], {
    cwd: options.cwd,
    env: { PATH: process.env.PATH ?? '', ...options.env },
    output: options.output,
    onLine: options.onLine,
    killOnExit: options.killOnExit,
  })
  if (child.pid === -1) throw new Error(`could not start ${options.main}`)
  const where = typeof options.output === 'object' ? `; see ${options.output.logPath}` : ''
  const ready = async (timeoutMs: number, baseUrl?: string) => {
    const started = performance.now()
    const url = baseUrl ?? (await readyLineUrl(child, timeoutMs))
    const answered = async () => {
      if (!child.isRunning()) {
        const status = await child.exited
        throw new Error(`the service exited (${status.code ?? status.signal}) before it was ready${where}`)
      }
      return (await answersReady(url)) ? url : undefined
    }
    return eventually(answered, timeoutMs - (performance.now() - started), { everyMs: POLL_MS, failure: () => `the service was not ready${where}` })
  }
  return Object.assign(child, { ready })
}

/** The URL of its "order-service ready" log line (src/main.ts), without the trailing slash. */
async function readyLineUrl(child: Child, timeoutMs: number): Promise<string> {
  const url = (text: string) => {
    try {
      const line = JSON.parse(text) as { msg?: string; url?: string }
      return line.msg === 'order-service ready' ? line.url?.replace(/\/$/, '') : undefined
    } catch {
      return undefined
    }
  }
  return url(await child.line((text) => url(text) !== undefined, timeoutMs))!
}

async function answersReady(baseUrl: string): Promise<boolean> {
  try {
    const response = await fetch(`${baseUrl}/readyz`, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) })
    await response.arrayBuffer()
    return response.status === 200
  } catch {
    return false
  }
}
