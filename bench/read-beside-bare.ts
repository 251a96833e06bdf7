/**
 * The read target's two figures taken side by side: wrk against the bare node:http server (its own process,
 * answering every request with one prebuilt order: the ceiling) and against the service, alternating in rounds,
 * so a burst of other work on this shared machine lands on both rather than on one. Each figure is the median
 * over the rounds.
 */
import { startBareServer } from './lib/bare-server.js'
import { median } from './lib/median.js'
import type { Cleanup } from '../test/support/cleanup.js'
import type { RunningService } from './lib/service.js'
import { runWrk, type LoadResult } from './lib/wrk.js'
import { measureServiceRead, type ServiceReadResult } from './read-service.js'

export interface ReadPair {
  bare: LoadResult
  service: LoadResult
  /** Every round's service lookups added up: all must be cache hits. */
  lookups: ServiceReadResult['lookups']
}

export async function readBesideBare(
  cleanup: Cleanup,
  service: RunningService,
  options: { body: string; ids: readonly string[]; rounds: number; seconds: number; warmupSeconds: number },
): Promise<ReadPair> {
  const bare = await startBareServer(cleanup, options.body)
  const paths = options.ids.map((id) => `/order/${id}`)
  const bareRun = (seconds: number) => runWrk(cleanup, { baseUrl: bare.baseUrl, paths, seconds, serverPid: bare.pid })
  const serviceRun = (seconds: number) => measureServiceRead(cleanup, service, { ids: options.ids, seconds, warmupSeconds: 0 })
  // Unmeasured runs first, so both are JIT-compiled and their sockets' buffers grown.
  await bareRun(options.warmupSeconds)
  await serviceRun(options.warmupSeconds)

  const bareRuns: LoadResult[] = []
  const serviceRuns: ServiceReadResult[] = []
  for (let round = 0; round < options.rounds; round++) {
    bareRuns.push(await bareRun(options.seconds))
    serviceRuns.push(await serviceRun(options.seconds))
  }
  for (const run of bareRuns) {
    if (run.non2xx > 0 || run.socketErrors > 0) throw new Error(`bare server: ${run.non2xx} error statuses, ${run.socketErrors} socket errors`)
  }
  await bare.stop()
  const lookups = { hit: 0, miss: 0, absent: 0 }
  for (const run of serviceRuns) for (const key of ['hit', 'miss', 'absent'] as const) lookups[key] += run.lookups[key]
  return { bare: medianLoad(bareRuns), service: medianLoad(serviceRuns.map((run) => run.load)), lookups }
}

/** Each figure's median over the runs, taken separately. */
function medianLoad(runs: LoadResult[]): LoadResult {
  const of = (pick: (run: LoadResult) => number) => median(runs.map(pick))
  return {
    rps: of((run) => run.rps),
    p50Ms: of((run) => run.p50Ms),
    p99Ms: of((run) => run.p99Ms),
    maxMs: Math.max(...runs.map((run) => run.maxMs)),
    requests: runs.reduce((sum, run) => sum + run.requests, 0),
    non2xx: runs.reduce((sum, run) => sum + run.non2xx, 0),
    socketErrors: runs.reduce((sum, run) => sum + run.socketErrors, 0),
    cpuPerRequest: medianCpu(runs),
  }
}

function medianCpu(runs: LoadResult[]): LoadResult['cpuPerRequest'] {
  const servers = runs.flatMap((run) => (run.cpuPerRequest.server === undefined ? [] : [run.cpuPerRequest.server]))
  return { wrk: median(runs.map((run) => run.cpuPerRequest.wrk)), ...(servers.length === runs.length ? { server: median(servers) } : {}) }
}
