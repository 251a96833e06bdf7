import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import type { Cleanup } from './cleanup.js'

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
 * harness. Its output goes to the harness's stderr; it is stopped at cleanup if still running.
 */
export function spawnNode(cleanup: Cleanup, options: NodeChildOptions): NodeChild {
  const loader = options.loader === 'none' ? [] : ['--import', 'tsx']
  const child = spawn(process.execPath, [...(options.nodeFlags ?? []), ...loader, options.script, ...(options.args ?? [])], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, ...options.env },
  })
  if (child.pid === undefined) throw new Error(`could not start ${options.script}`)
  // Last resort if the harness dies without running its cleanup: never leave the child behind.
  const killOnExit = () => child.kill('SIGKILL')
  process.once('exit', killOnExit)
  const exited = once(child, 'exit').finally(() => process.off('exit', killOnExit))
  const stop = async (graceMs = 5000) => {
    if (hasExited(child)) return
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
    await exited
    clearTimeout(timer)
  }
  cleanup.defer(`stop ${options.script}`, () => stop())
  return {
    pid: child.pid,
    firstMessage: <T>() =>
      new Promise<T>((resolve, reject) => {
        const onExit = (code: number | null, signal: string | null) =>
          reject(new Error(`${options.script} exited (${signal ?? code}) before reporting`))
        child.once('exit', onExit)
        child.once('message', (message) => {
          child.off('exit', onExit)
          resolve(message as T)
        })
      }),
    stop,
  }
}

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null
}
