import { spawnProcess } from '../../src/child-process.js'
import type { Cleanup } from '../../test/support/cleanup.js'

export interface NodeChild {
  pid: number
  /** The first IPC message the child sends (its readiness report); rejects if the child exits first. */
  firstMessage<T>(): Promise<T>
  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
  stop(graceMs?: number): Promise<void>
}

export interface NodeChildOptions {
  /** The entry file. */
  script: string
  /** 'tsx' (the default) runs TypeScript; 'none' runs plain JavaScript with nothing loaded beside it. */
  loader?: 'tsx' | 'none'
  args?: string[]
  env?: Record<string, string>
  /** Extra node flags, e.g. --expose-gc. */
  nodeFlags?: string[]
}

/**
 * Runs a script in its own Node process, so what it measures does not share an event loop or a heap with the
 * harness. It reports over IPC and warns on stderr, which is the harness's; it is stopped at cleanup if still running.
 */
export function spawnNode(cleanup: Cleanup, options: NodeChildOptions): NodeChild {
  const loader = options.loader === 'none' ? [] : ['--import', 'tsx']
  const child = spawnProcess(process.execPath, [...(options.nodeFlags ?? []), ...loader, options.script, ...(options.args ?? [])], {
    env: { ...process.env, ...options.env },
    output: 'inherit',
    ipc: true,
    killOnExit: true,
  })
  if (child.pid === -1) throw new Error(`could not start ${options.script}`)
  const stop = async (graceMs = 5000) => {
    await child.stop('SIGTERM', graceMs)
  }
  cleanup.add(`stop ${options.script}`, () => stop())
  return { pid: child.pid, firstMessage: () => child.message(), stop }
}
