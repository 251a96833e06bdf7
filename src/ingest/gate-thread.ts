import { Worker } from 'node:worker_threads'
import { ServiceError } from '../errors.js'
import { checkInThisThread, createGate, type GateCheck, type GateOptions } from './gate.js'
import type { GateReason, Verdict } from './verdict.js'

/** The gate on a thread of its own, fed in batches. */
export interface GateThread {
  /** Verdicts come back in the order the messages were given. */
  check: GateCheck
  /** Ends the thread once every check given so far has its verdict. */
  close(): Promise<void>
}

/** What the main thread posts: the payloads of one batch back to back in one buffer, moved rather than copied. */
export interface GateBatch {
  bytes: Uint8Array
  /** Where each payload ends in `bytes`. */
  ends: number[]
}

/** What the gate thread posts once its gate is compiled, then once per batch. */
export type GateThreadReply = { kind: 'ready' } | { kind: 'verdicts'; verdicts: Verdict<GateReason>[] }

/**
 * Runs the gate (UTF-8, JSON.parse, schema, jsonb printing: about a third of the service's CPU per order) on a
 * worker thread, so on a machine with a core to spare it overlaps the main thread's work (the broker's client,
 * the driver, the cache, the acks) instead of adding to it. Messages travel in batches: one copy into one buffer,
 * one post each way; the accepted orders' text comes back as UTF-8 in one moved buffer too (gate-thread-worker.ts). Each post costs the same whatever its size, so at most two batches are out at a time (one
 * being gated, one waiting for the thread): what arrives meanwhile gathers into the next, and batches grow with
 * the load instead of the posts multiplying with it.
 *
 * The gate never throws, so a failing thread is a bug: it fails loudly, crashing the process to be restarted.
 */
export async function startGateThread(options: GateOptions): Promise<GateThread> {
  const worker = spawnWorker(options)
  /** Resolvers of each batch posted, oldest first: the thread answers batches in order. */
  const posted: ((verdict: Verdict<GateReason>) => void)[][] = []
  let payloads: Uint8Array[] = []
  let resolvers: ((verdict: Verdict<GateReason>) => void)[] = []
  let drained: (() => void) | undefined
  /** Set by close(): no check is taken after it. */
  let closed: Promise<void> | undefined
  let scheduled = false

  await new Promise<void>((resolve, reject) => {
    worker.once('error', reject)
    worker.once('message', () => {
      worker.off('error', reject)
      resolve()
    })
  })
  worker.on('error', (error) => fail(new ServiceError('gate_thread_failed', 'the gate thread failed', { cause: error })))
  worker.on('exit', (code) => {
    if (closed === undefined) fail(new ServiceError('gate_thread_failed', `the gate thread exited (code ${code})`))
  })
  worker.on('message', (reply: GateThreadReply) => {
    if (reply.kind !== 'verdicts') return
    const batch = posted.shift()
    if (batch === undefined || batch.length !== reply.verdicts.length) return fail(new ServiceError('gate_thread_failed', 'the gate thread answered a batch not asked for'))
    for (let i = 0; i < batch.length; i++) batch[i]!(reply.verdicts[i]!)
    if (payloads.length > 0) post()
    else if (posted.length === 0) drained?.()
  })

  function post(): void {
    scheduled = false
    if (posted.length >= MAX_BATCHES_OUT || payloads.length === 0) return
    let total = 0
    for (const payload of payloads) total += payload.byteLength
    // Not zeroed first: every byte is written just below.
    const bytes = Buffer.allocUnsafeSlow(total)
    const ends: number[] = []
    let at = 0
    for (const payload of payloads) {
      bytes.set(payload, at)
      at += payload.byteLength
      ends.push(at)
    }
    posted.push(resolvers)
    payloads = []
    resolvers = []
    worker.postMessage({ bytes, ends } satisfies GateBatch, [bytes.buffer])
  }

  return {
    check(payload) {
      if (closed !== undefined) return Promise.reject(new ServiceError('gate_thread_closed', 'the gate thread is closed'))
      // Everything delivered in this turn of the event loop goes in one batch, posted once the turn's I/O is
      // done (setImmediate: after every socket chunk read in it, where a microtask would post once per chunk), or
      // when a batch comes back if two are out already. A post costs the same whatever its size.
      payloads.push(payload)
      if (!scheduled && posted.length < MAX_BATCHES_OUT) {
        scheduled = true
        setImmediate(post)
      }
      return new Promise((resolve) => resolvers.push(resolve))
    },

    close() {
      closed ??= (async () => {
        if (posted.length > 0 || payloads.length > 0) await new Promise<void>((resolve) => (drained = resolve))
        await worker.terminate()
      })()
      return closed
    },
  }
}

/** Batches posted and not answered yet, at most. */
const MAX_BATCHES_OUT = 2

/** The same interface with the gate on the calling thread (GATE_THREAD=off: say, a machine with one core). */
export function gateInThisThread(options: GateOptions): GateThread {
  return { check: checkInThisThread(createGate(options)), close: async () => {} }
}

/** The built thread runs as is; from the TypeScript sources (tests, tsx) it is loaded through tsx. */
function spawnWorker(options: GateOptions): Worker {
  const fromSources = import.meta.url.endsWith('.ts')
  const entry = new URL(`./gate-thread-worker.${fromSources ? 'ts' : 'js'}`, import.meta.url)
  if (!fromSources) return new Worker(entry, { workerData: options })
  const load = `import('tsx/esm/api').then((tsx) => tsx.tsImport(${JSON.stringify(entry.href)}, ${JSON.stringify(entry.href)}))`
  return new Worker(load, { eval: true, workerData: options })
}

function fail(error: Error): void {
  // Thrown outside any caller: an uncaught exception, which stops the process (src/main.ts).
  process.nextTick(() => {
    throw error
  })
}
