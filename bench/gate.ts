/**
 * What the gate costs per message, in CPU time (steadier than wall time on a shared machine):
 *   node --import tsx bench/gate.ts [--orders 2000] [--messages 40000] [--batch 500] [--rounds 7]
 * 1. the gate on this thread, and three of its steps (UTF-8, JSON.parse, the jsonb printer), on `orders`
 *    generated orders as the bench publishes them (src/publisher/generate-orders.ts);
 * 2. the gate thread (src/ingest/gate-thread.ts): `messages` checks given `batch` per turn of the event loop, as
 *    the writer gives them, with the CPU of the calling thread (the service's main thread) apart from the rest of
 *    the process (the gate thread, and the collector's helper threads).
 * Each figure is the median of `rounds`, in µs per message.
 */
import { readFileSync } from 'node:fs'
import { setImmediate as nextTurn } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { createGate } from '../src/ingest/gate.js'
import { startGateThread } from '../src/ingest/gate-thread.js'
import { compileJsonbText } from '../src/ingest/jsonb-text.js'
import { orderSchema } from '../src/ingest/order-schema.js'
import { generateOrder } from '../src/publisher/generate-orders.js'
import { median } from './lib/median.js'

const { values } = parseArgs({
  options: {
    orders: { type: 'string', default: '2000' },
    messages: { type: 'string', default: '40000' },
    batch: { type: 'string', default: '500' },
    rounds: { type: 'string', default: '7' },
  },
})
const orders = Number(values.orders)
const messages = Number(values.messages)
const batch = Number(values.batch)
const rounds = Number(values.rounds)

const payloads = Array.from({ length: orders }, (_, i) => Buffer.from(JSON.stringify(generateOrder(1, i))))
const texts = payloads.map((payload) => payload.toString('utf8'))
const docs = texts.map((text) => JSON.parse(text) as unknown)
const options = { maxMessageBytes: 256 * 1024 }

/** CPU µs of the whole process, and of the calling thread alone (Linux: /proc/thread-self/stat, in ticks of 10 ms). */
function cpu(): { process: number; thread: number } {
  const usage = process.cpuUsage()
  const fields = readFileSync('/proc/thread-self/stat', 'utf8').split(') ')[1]!.split(' ')
  // utime and stime are fields 14 and 15 of stat, 12 and 13 after the command's closing parenthesis.
  const ticks = Number(fields[11]) + Number(fields[12])
  return { process: usage.user + usage.system, thread: ticks * 10_000 }
}

function perMessage(name: string, step: (i: number) => unknown): void {
  const runs: number[] = []
  for (let i = 0; i < orders; i++) step(i) // warm-up: optimised code, not the compiler, is what is measured
  for (let round = 0; round < rounds; round++) {
    const start = process.cpuUsage()
    for (let i = 0; i < orders; i++) step(i)
    const used = process.cpuUsage(start)
    runs.push((used.user + used.system) / orders)
  }
  console.log(`${name.padEnd(34)} ${median(runs).toFixed(2).padStart(6)} µs`)
}

console.log(`${orders} generated orders, ${Math.round(payloads.reduce((sum, p) => sum + p.byteLength, 0) / orders)} bytes each on average; CPU per message, median of ${rounds}`)
const gate = createGate(options)
const decoder = new TextDecoder('utf-8', { fatal: true })
const print = compileJsonbText(orderSchema)
perMessage('gate, this thread', (i) => gate(payloads[i]!))
perMessage('  UTF-8 (fatal TextDecoder)', (i) => decoder.decode(payloads[i]))
perMessage('  JSON.parse', (i) => JSON.parse(texts[i]!))
perMessage('  jsonb printer', (i) => print(docs[i]))

const thread = await startGateThread(options)
const main: number[] = []
const whole: number[] = []
for (let round = 0; round < rounds; round++) {
  const start = cpu()
  // Verdicts are counted, not kept: the writer drops each one at its batch's commit.
  let pending = messages
  let finish = () => {}
  const done = new Promise<void>((resolve) => (finish = resolve))
  const count = () => --pending === 0 && finish()
  for (let at = 0; at < messages; at += batch) {
    for (let i = at; i < Math.min(at + batch, messages); i++) void thread.check(payloads[i % orders]!).then(count)
    await nextTurn()
  }
  await done
  const end = cpu()
  main.push((end.thread - start.thread) / messages)
  whole.push((end.process - start.process) / messages)
}
await thread.close()
console.log(`gate thread, ${batch} checks a turn:`)
console.log(`${'  calling thread'.padEnd(34)} ${median(main).toFixed(2).padStart(6)} µs`)
console.log(`${'  the rest (gate thread, GC helpers)'.padEnd(34)} ${(median(whole) - median(main)).toFixed(2).padStart(6)} µs`)
