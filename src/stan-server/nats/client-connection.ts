/**
 * One TCP client of the NATS server: sends INFO, parses what the client sends, answers as gnatsd
 * does (PONG, +OK in verbose mode, -ERR with gnatsd's wording), and queues MSG and HMSG frames in an
 * outbound buffer that the server flushes once per tick. A client that asked for headers in its CONNECT
 * may send HPUB and gets HMSG; one that did not gets messages with headers as MSG, headers stripped. A client whose unwritten output passes
 * maxPendingBytes is a slow consumer and is dropped, as gnatsd does (without an -ERR).
 */
import type { Socket } from 'node:net'
import { OutboundBuffer } from './outbound-buffer.js'
import { Parser, ProtocolError, type Dispatcher, type Op, type ProtocolErrorCode } from './parser.js'
import { isValidLiteralSubject } from './subjects.js'

/** Something the server routes messages to: a client's subscription or an in-process handler. */
export interface Subscriber {
  readonly queue: string
  /** The client that made it; undefined for in-process subscribers. */
  readonly owner: ClientConnection | undefined
  /** `payload` starts with a header block of `headerSize` bytes (0: none). */
  deliver(subject: string, reply: string, payload: Buffer, headerSize: number): void
}

export interface ConnectionLimits {
  readonly maxPayload: number
  readonly maxControlLine: number
  readonly maxPendingBytes: number
  /** Unanswered server PINGs after which the client is stale. */
  readonly maxPingsOut: number
}

export type CloseReason = 'client closed' | 'protocol violation' | 'slow consumer' | 'stale connection' | 'server shutdown'

/** What a connection needs from its server. */
export interface ConnectionHost {
  readonly limits: ConnectionLimits
  /** Routes a published message to every matching subscriber; `payload` starts with `headerSize` bytes of headers. */
  route(subject: string, reply: string, payload: Buffer, headerSize: number, origin: ClientConnection): void
  /** Returns false when the subject is not valid for a subscription. */
  addSubscription(subject: string, sub: ClientSubscription): boolean
  removeSubscription(subject: string, sub: ClientSubscription): void
  /** Asks for flush() to be called once the current tick's work is done. */
  scheduleFlush(connection: ClientConnection): void
  connectionClosed(connection: ClientConnection, reason: CloseReason): void
}

/** gnatsd's -ERR text per parser error; a malformed argument list closes the connection silently. */
const WIRE_ERRORS: Record<ProtocolErrorCode, string | undefined> = {
  UNKNOWN_OPERATION: 'Unknown Protocol Operation',
  MAX_PAYLOAD: 'Maximum Payload Violation',
  MAX_CONTROL_LINE: 'maximum control line exceeded',
  BAD_ARGUMENTS: undefined,
  HEADERS_NOT_SUPPORTED: undefined,
}

const CRLF = Buffer.from('\r\n')

export class ClientSubscription implements Subscriber {
  /** 0: no limit. Set by UNSUB with a max. */
  max = 0
  delivered = 0
  active = true

  constructor(
    readonly owner: ClientConnection,
    readonly subject: string,
    readonly queue: string,
    readonly sid: string,
  ) {}

  deliver(subject: string, reply: string, payload: Buffer, headerSize: number): void {
    if (!this.active) return
    this.delivered++
    this.owner.sendMsg(subject, this.sid, reply, payload, headerSize)
    if (this.max > 0 && this.delivered >= this.max) this.owner.unsubscribe(this.sid, 0)
  }
}

interface ClientOptions {
  verbose: boolean
  pedantic: boolean
  echo: boolean
  name: string
  /** The client reads HMSG and may send HPUB. */
  headers: boolean
  /** The client wants a 503 status message when a request of its finds no subscriber. */
  noResponders: boolean
}

export class ClientConnection implements Dispatcher {
  /** Set while a flush is scheduled, so it is scheduled once per tick. */
  flushScheduled = false
  /** Server PINGs sent and not yet answered. */
  pingsOut = 0
  closed = false
  readonly options: ClientOptions = { verbose: false, pedantic: false, echo: true, name: '', headers: false, noResponders: false }

  private readonly subs = new Map<string, ClientSubscription>()
  private readonly parser: Parser
  private readonly out: OutboundBuffer

  constructor(
    readonly id: number,
    private readonly socket: Socket,
    private readonly host: ConnectionHost,
  ) {
    this.parser = new Parser(this, host.limits)
    this.out = new OutboundBuffer((bytes) => this.writeToSocket(bytes))
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => this.onData(chunk))
    // Errors (ECONNRESET...) are followed by 'close', where the connection is cleaned up.
    socket.on('error', () => {})
    socket.on('close', () => this.cleanUp('client closed'))
  }

  get subscriptionCount(): number {
    return this.subs.size
  }

  /** Sends the INFO line that opens the conversation. */
  start(info: string): void {
    this.out.writeString(`INFO ${info}\r\n`)
    this.out.flush()
  }

  push(op: Op): void {
    if (this.closed) return
    switch (op.kind) {
      case 'PUB':
        if (this.options.pedantic && !isValidLiteralSubject(op.subject)) this.sendErr('Invalid Publish Subject')
        if (this.options.verbose) this.sendOk()
        this.host.route(op.subject, op.reply, op.payload, 0, this)
        return
      case 'HPUB':
        if (this.options.pedantic && !isValidLiteralSubject(op.subject)) this.sendErr('Invalid Publish Subject')
        if (this.options.verbose) this.sendOk()
        this.host.route(op.subject, op.reply, op.payload, op.headerSize, this)
        return
      case 'SUB':
        return this.subscribe(op.subject, op.queue, op.sid)
      case 'UNSUB':
        if (this.options.verbose) this.sendOk()
        return this.unsubscribe(op.sid, op.max)
      case 'PING':
        return this.sendProtocol('PONG\r\n')
      case 'PONG':
        this.pingsOut = 0
        return
      case 'CONNECT':
        return this.connect(op.json)
    }
  }

  /**
   * Queues a MSG frame, or an HMSG one when the message has headers and this client reads them;
   * a client that does not gets the data without the headers, as gnatsd's msgHeader does.
   */
  sendMsg(subject: string, sid: string, reply: string, payload: Buffer, headerSize: number): void {
    if (this.closed) return
    const target = reply === '' ? `${subject} ${sid}` : `${subject} ${sid} ${reply}`
    let body = payload
    if (headerSize > 0 && this.options.headers) {
      this.out.writeString(`HMSG ${target} ${headerSize} ${payload.length}\r\n`)
    } else {
      if (headerSize > 0) body = payload.subarray(headerSize)
      this.out.writeString(`MSG ${target} ${body.length}\r\n`)
    }
    this.out.writeBytes(body)
    this.out.writeBytes(CRLF)
    this.requestFlush()
  }

  /**
   * A request of this client found no subscriber: tells it with a 503 status message on its own
   * subscription to the reply subject, if it asked for that and has one (gnatsd's subForReply).
   */
  sendNoResponders(reply: string, sid: string): void {
    if (this.closed || !this.options.noResponders) return
    this.out.writeString(`HMSG ${reply} ${sid} 16 16\r\nNATS/1.0 503\r\n\r\n\r\n`)
    this.requestFlush()
  }

  /** Sends a server PING, or drops the client when too many went unanswered. */
  ping(): void {
    if (this.closed) return
    if (this.pingsOut + 1 > this.host.limits.maxPingsOut) {
      this.sendErr('Stale Connection')
      this.closeAfterFlush('stale connection')
      return
    }
    this.pingsOut++
    this.sendProtocol('PING\r\n')
  }

  unsubscribe(sid: string, max: number): void {
    const sub = this.subs.get(sid)
    if (sub === undefined) return
    if (max > 0 && max > sub.delivered) {
      sub.max = max
      return
    }
    sub.active = false
    this.subs.delete(sid)
    this.host.removeSubscription(sub.subject, sub)
  }

  flush(): void {
    this.flushScheduled = false
    if (!this.closed) this.out.flush()
  }

  /** Closes at once, for server shutdown: what is queued is written, nothing more is read. */
  close(reason: CloseReason): void {
    if (this.closed) return
    this.out.flush()
    this.cleanUp(reason)
    this.socket.destroy()
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return
    try {
      this.parser.parse(chunk)
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err
      const text = WIRE_ERRORS[err.code]
      if (text !== undefined) this.sendErr(text)
      this.closeAfterFlush('protocol violation')
    }
  }

  private connect(json: string): void {
    let parsed: unknown
    try {
      parsed = JSON.parse(json)
    } catch {
      // gnatsd closes on a CONNECT it cannot decode, without an -ERR.
      this.closeAfterFlush('protocol violation')
      return
    }
    if (typeof parsed !== 'object' || parsed === null) {
      this.closeAfterFlush('protocol violation')
      return
    }
    const given = parsed as Record<string, unknown>
    const protocol = typeof given['protocol'] === 'number' ? given['protocol'] : 0
    if (protocol < 0 || protocol > 1) {
      this.sendErr('invalid client protocol')
      this.closeAfterFlush('protocol violation')
      return
    }
    this.options.verbose = given['verbose'] === true
    this.options.pedantic = given['pedantic'] === true
    this.options.echo = given['echo'] !== false
    this.options.name = typeof given['name'] === 'string' ? given['name'] : ''
    this.options.headers = given['headers'] === true
    this.options.noResponders = given['no_responders'] === true
    this.parser.headersAllowed = this.options.headers
    if (this.options.noResponders && !this.options.headers) {
      this.sendErr('no responders requires headers support')
      this.closeAfterFlush('protocol violation')
      return
    }
    if (this.options.verbose) this.sendOk()
  }

  private subscribe(subject: string, queue: string, sid: string): void {
    // A SUB that reuses a live sid is ignored, as in gnatsd.
    if (!this.subs.has(sid)) {
      const sub = new ClientSubscription(this, subject, queue, sid)
      if (!this.host.addSubscription(subject, sub)) {
        this.sendErr('Invalid Subject')
        return
      }
      this.subs.set(sid, sub)
    }
    if (this.options.verbose) this.sendOk()
  }

  private sendOk(): void {
    this.sendProtocol('+OK\r\n')
  }

  private sendErr(text: string): void {
    this.sendProtocol(`-ERR '${text}'\r\n`)
  }

  private sendProtocol(line: string): void {
    this.out.writeString(line)
    this.requestFlush()
  }

  private requestFlush(): void {
    if (!this.flushScheduled) {
      this.flushScheduled = true
      this.host.scheduleFlush(this)
    }
  }

  private writeToSocket(bytes: Buffer): void {
    if (this.socket.destroyed) return
    this.socket.write(bytes)
    // Unwritten output beyond the bound: the client is not keeping up. Drop it, as gnatsd does.
    if (this.socket.writableLength > this.host.limits.maxPendingBytes) {
      this.cleanUp('slow consumer')
      this.socket.destroy()
    }
  }

  /** Writes what is queued, then ends the socket; nothing more is processed. */
  private closeAfterFlush(reason: CloseReason): void {
    if (this.closed) return
    this.out.flush()
    this.cleanUp(reason)
    this.socket.end(() => this.socket.destroy())
  }

  private cleanUp(reason: CloseReason): void {
    if (this.closed) return
    this.closed = true
    for (const sub of this.subs.values()) {
      sub.active = false
      this.host.removeSubscription(sub.subject, sub)
    }
    this.subs.clear()
    this.host.connectionClosed(this, reason)
  }
}
