/** The gate thread (see gate-thread.ts): compiles the gate once, then answers each batch with its verdicts. */
import { parentPort, workerData } from 'node:worker_threads'
import { ServiceError } from '../errors.js'
import { createGate, type GateOptions } from './gate.js'
import type { GateReason, Verdict } from './verdict.js'
import type { GateBatch, GateThreadReply } from './gate-thread.js'

const port = parentPort
if (port === null) throw new ServiceError('internal', 'gate-thread-worker.ts runs as a worker thread only (see gate-thread.ts)')
const gate = createGate(workerData as GateOptions)

port.on('message', ({ bytes, ends }: GateBatch) => {
  const verdicts: Verdict<GateReason>[] = []
  let start = 0
  for (const end of ends) {
    verdicts.push(gate(bytes.subarray(start, end)))
    start = end
  }
  port.postMessage({ kind: 'verdicts', verdicts } satisfies GateThreadReply)
})
port.postMessage({ kind: 'ready' } satisfies GateThreadReply)
