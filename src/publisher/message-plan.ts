import { generateOrders } from './generate-orders.js'
import { hostileMessages } from './hostile-messages.js'

export interface MessagePlan {
  total: number
  messages: Iterable<Buffer>
}

export interface PlanOptions {
  /** Messages read from --file, sent first. */
  fromFile: Buffer[]
  count: number
  garbage: number
  seed: number
  maxMessageBytes: number
}

/**
 * The file's messages, then generated orders with the hostile messages spread evenly among them,
 * so that garbage shows up in the middle of a stream as it would in real life. Generated lazily.
 */
export function planMessages(options: PlanOptions): MessagePlan {
  const { fromFile, count, garbage, seed, maxMessageBytes } = options
  function* messages(): Generator<Buffer> {
    yield* fromFile
    const orders = generateOrders(count, seed)
    const hostile = hostileMessages(garbage, seed, { maxMessageBytes })
    const mixed = count + garbage
    let garbageSent = 0
    for (let i = 0; i < mixed; i++) {
      // Bresenham-style: after i + 1 messages, floor((i + 1) * garbage / mixed) of them are garbage.
      if (Math.floor(((i + 1) * garbage) / mixed) > garbageSent) {
        garbageSent++
        yield (hostile.next().value as { payload: Buffer }).payload
      } else {
        yield Buffer.from(JSON.stringify(orders.next().value))
      }
    }
  }
  return { total: fromFile.length + count + garbage, messages: { [Symbol.iterator]: messages } }
}

/**
 * A file holding one JSON document is one message; anything else is JSON lines: one message per non-blank line,
 * sent byte for byte (a trailing CR is dropped), so a file can carry invalid messages on purpose.
 */
export function splitFileMessages(content: Buffer): Buffer[] {
  if (isOneJsonDocument(content)) return [content]
  const messages: Buffer[] = []
  let start = 0
  while (start <= content.length) {
    let end = content.indexOf(0x0a, start)
    if (end === -1) end = content.length
    let line = content.subarray(start, end)
    if (line[line.length - 1] === 0x0d) line = line.subarray(0, -1)
    if (!line.every((byte) => byte === 0x20 || byte === 0x09)) messages.push(line)
    start = end + 1
  }
  return messages
}

function isOneJsonDocument(content: Buffer): boolean {
  try {
    JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(content))
    return true
  } catch {
    return false
  }
}
