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
  const accepted: number[] = []
  const orderUids: string[] = []
  const texts: string[] = []
  const rejects: Verdict<GateReason>[] = []
  let start = 0
  for (let i = 0; i < ends.length; i++) {
    const verdict = gate(bytes.subarray(start, ends[i]))
    start = ends[i]!
    if (verdict.ok) {
      accepted.push(1)
      orderUids.push(verdict.orderUid)
      texts.push(verdict.json)
    } else {
      accepted.push(0)
      rejects.push(verdict)
    }
  }
  port.postMessage({ kind: 'verdicts', accepted, orderUids, texts, rejects } satisfies GateThreadReply)
})
port.postMessage({ kind: 'ready' } satisfies GateThreadReply)
