/**
 * Byte-level parser for what a NATS client sends to a server: CONNECT, PUB, HPUB, SUB, UNSUB, PING, PONG.
 *
 * Fed socket chunks, it pushes typed ops to a dispatcher. Arguments and payloads are views into the
 * chunks it was given (chunks must not be reused by the caller); only a frame that spans chunks is
 * copied. After a PUB or HPUB line it jumps over the declared payload size instead of scanning it.
 * Violations throw a ProtocolError whose code the connection turns into the server's wire reply.
 */

export interface ConnectOp { readonly kind: 'CONNECT'; readonly json: string }
export interface PubOp { readonly kind: 'PUB'; readonly subject: string; readonly reply: string; readonly payload: Buffer }
/** A message with headers: `payload` holds the header block (its first `headerSize` bytes) and then the data. */
export interface HpubOp {
  readonly kind: 'HPUB'
  readonly subject: string
  readonly reply: string
  readonly headerSize: number
  readonly payload: Buffer
}
export interface SubOp { readonly kind: 'SUB'; readonly subject: string; readonly queue: string; readonly sid: string }
/** max 0: unsubscribe now; otherwise after that many messages in total. */
export interface UnsubOp { readonly kind: 'UNSUB'; readonly sid: string; readonly max: number }
export interface PingOp { readonly kind: 'PING' }
export interface PongOp { readonly kind: 'PONG' }
export type Op = ConnectOp | PubOp | HpubOp | SubOp | UnsubOp | PingOp | PongOp

export interface Dispatcher {
  push(op: Op): void
}

export type ProtocolErrorCode = 'UNKNOWN_OPERATION' | 'BAD_ARGUMENTS' | 'MAX_PAYLOAD' | 'MAX_CONTROL_LINE' | 'HEADERS_NOT_SUPPORTED'

export class ProtocolError extends Error {
  override readonly name = 'ProtocolError'
  constructor(readonly code: ProtocolErrorCode, message: string) {
    super(message)
  }
}

export interface ParserLimits {
  maxPayload: number
  /** Longest control line (op and arguments) accepted; gnatsd's default is 4096. */
  maxControlLine: number
}

const PING_OP: PingOp = Object.freeze({ kind: 'PING' })
const PONG_OP: PongOp = Object.freeze({ kind: 'PONG' })

const OP_NAMES = ['CONNECT', 'PUB', 'HPUB', 'SUB', 'UNSUB', 'PING', 'PONG'] as const
type OpName = (typeof OP_NAMES)[number]
const OP_CODES = OP_NAMES.map((name) => Array.from(name, (c) => c.charCodeAt(0)))
const ALL_OPS = (1 << OP_NAMES.length) - 1

const enum State {
  OpName,
  ArgsStart,
  Args,
  LineEnd, // after PING / PONG: anything up to the newline is ignored, as gnatsd does
  Payload,
  PayloadCr,
  PayloadLf,
  Failed,
}

const CR = 13
const LF = 10
const SPACE = 32
const TAB = 9

export class Parser {
  /** Whether HPUB is allowed: set once the client's CONNECT asked for headers, as gnatsd checks per client. */
  headersAllowed = false
  private state = State.OpName
  private opMask = ALL_OPS
  private opPos = 0
  private op: OpName = 'PING'

  // A control line that spans chunks is collected here.
  private argBuf: Buffer | undefined
  private argLen = 0

  // The PUB or HPUB being read; headerSize is 0 for PUB.
  private subject = ''
  private reply = ''
  private headerSize = 0
  private size = 0
  private payload: Buffer | undefined // set once the payload no longer lies in the current chunk
  private filled = 0

  private readonly tokens = new Int32Array(10)

  constructor(
    private readonly dispatcher: Dispatcher,
    private readonly limits: ParserLimits,
  ) {}

  parse(buf: Buffer): void {
    const len = buf.length
    let argStart = 0
    let payloadStart = 0
    for (let i = 0; i < len; i++) {
      const b = buf[i]!
      switch (this.state) {
        case State.OpName:
          this.stepOpName(b)
          if (b === LF && this.isLineEnd()) this.pushBare()
          break
        case State.ArgsStart:
          if (b === SPACE || b === TAB) break
          this.state = State.Args
          argStart = i
        // falls through: this byte may already end the line
        case State.Args:
          if (b !== LF) break
          this.endLine(this.takeLine(buf, argStart, i))
          if (this.isPayloadNext()) {
            payloadStart = i + 1
            i = this.enterPayload(buf, payloadStart)
          }
          break
        case State.LineEnd:
          if (b === LF) this.pushBare()
          break
        case State.Payload: {
          // Only reached at the start of a later chunk: the payload is being copied.
          const payload = this.payload!
          const n = Math.min(this.size - this.filled, len - i)
          buf.copy(payload, this.filled, i, i + n)
          this.filled += n
          i += n - 1
          if (this.filled === this.size) this.state = State.PayloadCr
          break
        }
        case State.PayloadCr:
          if (b !== CR) this.fail('UNKNOWN_OPERATION', 'expected CR after payload')
          this.state = State.PayloadLf
          break
        case State.PayloadLf: {
          if (b !== LF) this.fail('UNKNOWN_OPERATION', 'expected LF after payload')
          const payload = this.payload ?? buf.subarray(payloadStart, payloadStart + this.size)
          this.payload = undefined
          const isHpub = this.op === 'HPUB'
          this.resetOp()
          if (isHpub) {
            this.dispatcher.push({ kind: 'HPUB', subject: this.subject, reply: this.reply, headerSize: this.headerSize, payload })
          } else {
            this.dispatcher.push({ kind: 'PUB', subject: this.subject, reply: this.reply, payload })
          }
          break
        }
        case State.Failed:
          throw new ProtocolError('UNKNOWN_OPERATION', 'parser used after a protocol error')
      }
    }
    this.keepPartial(buf, argStart, payloadStart)
  }

  /** Matches the op name byte by byte, so garbage is refused at its first byte as gnatsd does. */
  private stepOpName(b: number): void {
    const upper = b >= 97 && b <= 122 ? b - 32 : b
    const pos = this.opPos
    let mask = this.opMask
    for (let k = 0; k < OP_CODES.length; k++) {
      if ((mask & (1 << k)) === 0) continue
      const code = OP_CODES[k]!
      if (code.length === pos) {
        // The name is complete: decide by the byte after it.
        this.op = OP_NAMES[k]!
        if (this.op === 'PING' || this.op === 'PONG') {
          this.state = State.LineEnd
        } else if (b === SPACE || b === TAB) {
          this.state = State.ArgsStart
        } else {
          this.fail('UNKNOWN_OPERATION', `expected a space after ${this.op}`)
        }
        return
      }
      if (code[pos] !== upper) mask &= ~(1 << k)
    }
    if (mask === 0) this.fail('UNKNOWN_OPERATION', 'unknown protocol operation')
    this.opMask = mask
    this.opPos = pos + 1
  }

  private pushBare(): void {
    const op = this.op === 'PING' ? PING_OP : PONG_OP
    this.resetOp()
    this.dispatcher.push(op)
  }

  /** The control line from argStart to the LF at i, joined with a saved prefix when it spans chunks. */
  private takeLine(buf: Buffer, argStart: number, i: number): Buffer {
    if (this.argBuf === undefined) return buf.subarray(argStart, i)
    this.appendArg(buf, 0, i)
    const line = this.argBuf.subarray(0, this.argLen)
    this.argBuf = undefined
    this.argLen = 0
    return line
  }

  private endLine(raw: Buffer): void {
    const line = raw.length > 0 && raw[raw.length - 1] === CR ? raw.subarray(0, raw.length - 1) : raw
    if (line.length > this.limits.maxControlLine) this.fail('MAX_CONTROL_LINE', 'maximum control line exceeded')
    switch (this.op) {
      case 'PUB':
        return this.pubArgs(line)
      case 'HPUB':
        return this.hpubArgs(line)
      case 'SUB':
        return this.subArgs(line)
      case 'UNSUB':
        return this.unsubArgs(line)
      default:
        this.resetOp()
        this.dispatcher.push({ kind: 'CONNECT', json: line.toString('utf8') })
    }
  }

  private pubArgs(line: Buffer): void {
    const n = this.tokenize(line)
    if (n !== 2 && n !== 3) this.fail('BAD_ARGUMENTS', `PUB parse error: '${line.toString()}'`)
    const size = parseSize(line, this.tokens[(n - 1) * 2]!, this.tokens[(n - 1) * 2 + 1]!)
    if (size < 0) this.fail('BAD_ARGUMENTS', `PUB bad or missing size: '${line.toString()}'`)
    if (size > this.limits.maxPayload) this.fail('MAX_PAYLOAD', `maximum payload exceeded: ${size} vs ${this.limits.maxPayload}`)
    this.subject = this.token(line, 0)
    this.reply = n === 3 ? this.token(line, 1) : ''
    this.size = size
    this.state = State.Payload
  }

  /** HPUB subject [reply] header-size total-size, checked in gnatsd's order (processHeaderPub). */
  private hpubArgs(line: Buffer): void {
    if (!this.headersAllowed) this.fail('HEADERS_NOT_SUPPORTED', 'message headers not supported')
    const n = this.tokenize(line)
    if (n !== 3 && n !== 4) this.fail('BAD_ARGUMENTS', `HPUB parse error: '${line.toString()}'`)
    const headerSize = parseSize(line, this.tokens[(n - 2) * 2]!, this.tokens[(n - 2) * 2 + 1]!)
    if (headerSize < 0) this.fail('BAD_ARGUMENTS', `HPUB bad or missing header size: '${line.toString()}'`)
    const size = parseSize(line, this.tokens[(n - 1) * 2]!, this.tokens[(n - 1) * 2 + 1]!)
    if (size < 0) this.fail('BAD_ARGUMENTS', `HPUB bad or missing total size: '${line.toString()}'`)
    if (headerSize > size) this.fail('BAD_ARGUMENTS', `HPUB header size larger than total size: '${line.toString()}'`)
    if (size > this.limits.maxPayload) this.fail('MAX_PAYLOAD', `maximum payload exceeded: ${size} vs ${this.limits.maxPayload}`)
    this.subject = this.token(line, 0)
    this.reply = n === 4 ? this.token(line, 1) : ''
    this.headerSize = headerSize
    this.size = size
    this.state = State.Payload
  }

  private subArgs(line: Buffer): void {
    const n = this.tokenize(line)
    if (n !== 2 && n !== 3) this.fail('BAD_ARGUMENTS', `SUB parse error: '${line.toString()}'`)
    const subject = this.token(line, 0)
    const queue = n === 3 ? this.token(line, 1) : ''
    const sid = this.token(line, n - 1)
    this.resetOp()
    this.dispatcher.push({ kind: 'SUB', subject, queue, sid })
  }

  private unsubArgs(line: Buffer): void {
    const n = this.tokenize(line)
    if (n !== 1 && n !== 2) this.fail('BAD_ARGUMENTS', `UNSUB parse error: '${line.toString()}'`)
    const sid = this.token(line, 0)
    // Like gnatsd, an unreadable max means "unsubscribe now".
    const max = n === 2 ? Math.max(parseSize(line, this.tokens[2]!, this.tokens[3]!), 0) : 0
    this.resetOp()
    this.dispatcher.push({ kind: 'UNSUB', sid, max })
  }

  // State checks as methods: inside the switch TypeScript has narrowed this.state.
  private isPayloadNext(): boolean {
    return this.state === State.Payload
  }

  private isLineEnd(): boolean {
    return this.state === State.LineEnd
  }

  /**
   * Starts reading a payload at `start`. When it lies wholly in this chunk, returns the index of its
   * last byte so the loop resumes at the CR; otherwise copies what is there and ends the chunk.
   */
  private enterPayload(buf: Buffer, start: number): number {
    const end = start + this.size
    if (end <= buf.length) {
      this.state = State.PayloadCr
      return end - 1
    }
    this.payload = Buffer.allocUnsafe(this.size)
    this.filled = buf.copy(this.payload, 0, start)
    return buf.length
  }

  /** At the end of a chunk, keeps what the next chunk needs. */
  private keepPartial(buf: Buffer, argStart: number, payloadStart: number): void {
    if (this.state === State.Args) {
      this.appendArg(buf, this.argBuf === undefined ? argStart : 0, buf.length)
      if (this.argLen > this.limits.maxControlLine + 2) this.fail('MAX_CONTROL_LINE', 'maximum control line exceeded')
    } else if ((this.state === State.PayloadCr || this.state === State.PayloadLf) && this.payload === undefined) {
      // The payload is complete in this chunk but its CRLF is not: keep a view, chunks are not reused.
      this.payload = buf.subarray(payloadStart, payloadStart + this.size)
    }
  }

  private appendArg(buf: Buffer, start: number, end: number): void {
    const n = end - start
    if (this.argBuf === undefined) this.argBuf = Buffer.allocUnsafe(Math.max(256, n))
    if (this.argLen + n > this.argBuf.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.argBuf.length * 2, this.argLen + n))
      this.argBuf.copy(grown, 0, 0, this.argLen)
      this.argBuf = grown
    }
    this.argLen += buf.copy(this.argBuf, this.argLen, start, end)
  }

  /** Splits on spaces and tabs into this.tokens as [start, end) pairs; returns the count (capped at 5). */
  private tokenize(line: Buffer): number {
    let count = 0
    let start = -1
    for (let i = 0; i < line.length; i++) {
      const b = line[i]
      if (b === SPACE || b === TAB) {
        if (start >= 0) {
          if (count === 5) return 6
          this.tokens[count * 2] = start
          this.tokens[count * 2 + 1] = i
          count++
          start = -1
        }
      } else if (start < 0) {
        start = i
      }
    }
    if (start >= 0) {
      if (count === 5) return 6
      this.tokens[count * 2] = start
      this.tokens[count * 2 + 1] = line.length
      count++
    }
    return count
  }

  private token(line: Buffer, index: number): string {
    return line.toString('utf8', this.tokens[index * 2], this.tokens[index * 2 + 1])
  }

  private resetOp(): void {
    this.state = State.OpName
    this.opMask = ALL_OPS
    this.opPos = 0
  }

  private fail(code: ProtocolErrorCode, message: string): never {
    this.state = State.Failed
    throw new ProtocolError(code, message)
  }
}

/** Decimal digits only, as gnatsd's parseSize; -1 when empty, not a number or unreasonably long. */
function parseSize(buf: Buffer, start: number, end: number): number {
  if (end <= start || end - start > 15) return -1
  let n = 0
  for (let i = start; i < end; i++) {
    const d = buf[i]! - 48
    if (d < 0 || d > 9) return -1
    n = n * 10 + d
  }
  return n
}
