/** The gate thread (see gate-thread.ts): compiles the gate once, then answers each batch with its verdicts. */
import { parentPort, workerData } from 'node:worker_threads'
import { ServiceError } from '../errors.js'
import { createGate, type GateOptions } from './gate.js'
import type { JsonbText } from '../store/orders.js'
import type { GateReason, Verdict } from './verdict.js'
import type { GateBatch, GateThreadReply } from './gate-thread.js'

const port = parentPort
if (port === null) throw new ServiceError('internal', 'gate-thread-worker.ts runs as a worker thread only (see gate-thread.ts)')
const gate = createGate(workerData as GateOptions)

port.on('message', ({ bytes, ends }: GateBatch) => {
  const verdicts: Verdict<GateReason, JsonbText>[] = []
  let start = 0
  let textBytes = 0
  for (const end of ends) {
    const verdict = gate(bytes.subarray(start, end))
    if (verdict.ok) textBytes += Buffer.byteLength(verdict.json)
    verdicts.push(verdict)
    start = end
  }
  // The accepted orders' text as UTF-8, back to back in one buffer that moves to the main thread: there the driver
  // and the cache copy bytes, and no string per order is made, kept until its commit, and collected.
  const texts = Buffer.allocUnsafeSlow(textBytes)
  let at = 0
  for (const verdict of verdicts) {
    if (!verdict.ok) continue
    const length = texts.write(verdict.json as string, at)
    verdict.json = new Uint8Array(texts.buffer, at, length)
    at += length
  }
  port.postMessage({ kind: 'verdicts', verdicts } satisfies GateThreadReply, [texts.buffer])
})
port.postMessage({ kind: 'ready' } satisfies GateThreadReply)
