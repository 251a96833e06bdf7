import { execFile } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { Cleanup } from '../../test/support/cleanup.js'
import { readCpuSeconds, waitedChildrenCpuSeconds } from '../../test/support/proc.js'
import { tempDir } from './temp-dir.js'

const run = promisify(execFile)

/** Fails at once, with the way out, when wrk is missing: better than an ENOENT minutes into a run. */
export async function expectWrk(): Promise<void> {
  try {
    await run('wrk', ['--version']).catch((error: { code?: unknown }) => {
      // wrk --version prints its version and exits 1: only a missing binary matters here.
      if (error.code === 'ENOENT') throw error
    })
  } catch {
    throw new Error('the read measurements need wrk: apt-get install wrk (Debian), or run with --ingest-only')
  }
}

export interface LoadOptions {
  /** e.g. http://127.0.0.1:8000 */
  baseUrl: string
  /** Request paths, e.g. /order/<id>; each request takes one at random. */
  paths: readonly string[]
  seconds: number
  /** An unmeasured run first, so the server's JIT and caches are warm. */
  warmupSeconds?: number
  connections?: number
  threads?: number
  /** The server's process, whose CPU per request is reported over the measured run. */
  serverPid?: number
}

export interface LoadResult {
  rps: number
  p50Ms: number
  p99Ms: number
  maxMs: number
  requests: number
  /** Responses with a status of 400 or more: expected for the unknown-id measurement, a failure elsewhere. */
  non2xx: number
  /** Socket errors and timeouts. */
  socketErrors: number
  /** CPU time per request (user + system, microseconds) of the server (when its pid was given) and of wrk itself. */
  cpuPerRequest: { server?: number; wrk: number }
}

interface WrkSummary {
  requests: number
  durationUs: number
  bytes: number
  p50Us: number
  p99Us: number
  maxUs: number
  errors: { connect: number; read: number; write: number; status: number; timeout: number }
}

const SCRIPT = new URL('./random-paths.lua', import.meta.url).pathname

/**
 * Runs wrk (Debian package `wrk`) with random-paths.lua against baseUrl; 50 connections on 2 threads by default.
 * wrk runs under a shell that prints its own /proc stat line once wrk has exited: the CPU of the children it
 * waited for is wrk's.
 */
export async function runWrk(cleanup: Cleanup, options: LoadOptions): Promise<LoadResult> {
  const pathsFile = join(await tempDir(cleanup, 'wrk'), 'paths.txt')
  await writeFile(pathsFile, `${options.paths.join('\n')}\n`)
  const wrkArgs = (seconds: number) => [`-t${options.threads ?? 2}`, `-c${options.connections ?? 50}`, `-d${seconds}s`, '--timeout', '5s', '-s', SCRIPT, options.baseUrl, '--', pathsFile]
  const wrk = (seconds: number) => run('sh', ['-c', 'wrk "$@" && cat /proc/$$/stat', 'sh', ...wrkArgs(seconds)], { maxBuffer: 1 << 20 })
  if (options.warmupSeconds) await wrk(options.warmupSeconds)
  const serverBefore = options.serverPid === undefined ? undefined : await readCpuSeconds(options.serverPid)
  const { stdout } = await wrk(options.seconds)
  const serverCpu = serverBefore === undefined ? undefined : (await readCpuSeconds(options.serverPid!)) - serverBefore
  const summary = parseSummary(stdout)
  const wrkCpu = waitedChildrenCpuSeconds(stdout.trimEnd().split('\n').at(-1) ?? '')
  const perRequest = (seconds: number) => (seconds * 1e6) / summary.requests
  return toLoadResult(summary, { wrk: perRequest(wrkCpu), ...(serverCpu === undefined ? {} : { server: perRequest(serverCpu) }) })
}

function parseSummary(stdout: string): WrkSummary {
  const line = stdout.split('\n').find((text) => text.startsWith('WRK_RESULT '))
  if (line === undefined) throw new Error(`wrk printed no WRK_RESULT line:\n${stdout}`)
  return JSON.parse(line.slice('WRK_RESULT '.length)) as WrkSummary
}

function toLoadResult(summary: WrkSummary, cpuPerRequest: LoadResult['cpuPerRequest']): LoadResult {
  const { connect, read, write, timeout, status } = summary.errors
  return {
    rps: summary.requests / (summary.durationUs / 1e6),
    p50Ms: summary.p50Us / 1000,
    p99Ms: summary.p99Us / 1000,
    maxMs: summary.maxUs / 1000,
    requests: summary.requests,
    non2xx: status,
    socketErrors: connect + read + write + timeout,
    cpuPerRequest,
  }
}
