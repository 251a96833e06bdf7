import { describe, expect, it } from 'vitest'
import { Parser, ProtocolError, type Op, type ProtocolErrorCode } from '../../../src/stan-server/nats/parser.js'

const LIMITS = { maxPayload: 1024, maxControlLine: 4096 }

/** Ops in a comparable shape: payloads as strings. */
type Plain = Record<string, unknown>

function plain(op: Op): Plain {
  return op.kind === 'PUB' || op.kind === 'HPUB' ? { ...op, payload: op.payload.toString('latin1') } : { ...op }
}

function parseChunks(chunks: Buffer[], headersAllowed = false): Plain[] {
  const ops: Plain[] = []
  const parser = new Parser({ push: (op) => ops.push(plain(op)) }, LIMITS)
  parser.headersAllowed = headersAllowed
  for (const chunk of chunks) parser.parse(chunk)
  return ops
}

function byteAtATime(input: Buffer): Buffer[] {
  return Array.from(input, (b) => Buffer.from([b]))
}

const SESSION = Buffer.from(
  [
    'CONNECT {"verbose":false,"pedantic":false,"protocol":1}\r\n',
    'PING\r\n',
    'SUB foo 1\r\n',
    'sub bar.* workers 2\r\n',
    'PUB foo 5\r\nhello\r\n',
    'PUB foo _INBOX.abc 0\r\n\r\n',
    'PUB\tfoo\t\t 7\r\na\r\nb\r\nc\r\n', // a payload containing CRLF
    'pub foo 3\nxyz\r\n', // bare LF ends a control line
    'UNSUB 1 10\r\n',
    'UNSUB 2\r\n',
    'PONG\r\n',
  ].join(''),
  'latin1',
)

const SESSION_OPS: Plain[] = [
  { kind: 'CONNECT', json: '{"verbose":false,"pedantic":false,"protocol":1}' },
  { kind: 'PING' },
  { kind: 'SUB', subject: 'foo', queue: '', sid: '1' },
  { kind: 'SUB', subject: 'bar.*', queue: 'workers', sid: '2' },
  { kind: 'PUB', subject: 'foo', reply: '', payload: 'hello' },
  { kind: 'PUB', subject: 'foo', reply: '_INBOX.abc', payload: '' },
  { kind: 'PUB', subject: 'foo', reply: '', payload: 'a\r\nb\r\nc' },
  { kind: 'PUB', subject: 'foo', reply: '', payload: 'xyz' },
  { kind: 'UNSUB', sid: '1', max: 10 },
  { kind: 'UNSUB', sid: '2', max: 0 },
  { kind: 'PONG' },
]

describe('Parser', () => {
  it('Should push the exact ops of a session given in one chunk', () => {
    expect(parseChunks([SESSION])).toEqual(SESSION_OPS)
  })

  it('Should push the same ops when fed one byte at a time', () => {
    expect(parseChunks(byteAtATime(SESSION))).toEqual(SESSION_OPS)
  })

  it('Should push the same ops whatever the split point between two chunks', () => {
    for (let at = 1; at < SESSION.length; at++) {
      const ops = parseChunks([SESSION.subarray(0, at), SESSION.subarray(at)])
      expect(ops, `split at ${at}`).toEqual(SESSION_OPS)
    }
  })

  it('Should give payloads that are views into the chunk when a frame lies in one chunk', () => {
    const chunk = Buffer.from('PUB a 3\r\nabc\r\n')
    const payloads: Buffer[] = []
    new Parser({ push: (op) => op.kind === 'PUB' && payloads.push(op.payload) }, LIMITS).parse(chunk)
    expect(payloads[0]!.buffer).toBe(chunk.buffer)
  })

  it('Should keep a payload split across chunks intact after the chunks are reused', () => {
    const payloads: Buffer[] = []
    const parser = new Parser({ push: (op) => op.kind === 'PUB' && payloads.push(op.payload) }, LIMITS)
    const first = Buffer.from('PUB a 6\r\nabc')
    const second = Buffer.from('def\r\n')
    parser.parse(first)
    first.fill(0)
    parser.parse(second)
    expect(payloads.map((p) => p.toString())).toEqual(['abcdef'])
  })

  it('Should accept a payload of exactly max_payload bytes', () => {
    const body = 'x'.repeat(LIMITS.maxPayload)
    expect(parseChunks([Buffer.from(`PUB a ${body.length}\r\n${body}\r\n`)])).toHaveLength(1)
  })

  const HEADERS = 'NATS/1.0\r\nA: b\r\n\r\n'
  const HEADER_SESSION = Buffer.from(`HPUB foo _INBOX.r 18 23\r\n${HEADERS}hello\r\nhpub\tfoo 18 18\r\n${HEADERS}\r\nHPUB foo 0 3\r\nabc\r\nPING\r\n`)
  const HEADER_OPS: Plain[] = [
    { kind: 'HPUB', subject: 'foo', reply: '_INBOX.r', headerSize: 18, payload: `${HEADERS}hello` },
    { kind: 'HPUB', subject: 'foo', reply: '', headerSize: 18, payload: HEADERS },
    { kind: 'HPUB', subject: 'foo', reply: '', headerSize: 0, payload: 'abc' },
    { kind: 'PING' },
  ]

  it('Should push HPUB with its header size and whole payload once headers are allowed, whatever the chunking', () => {
    expect(parseChunks([HEADER_SESSION], true)).toEqual(HEADER_OPS)
    expect(parseChunks(byteAtATime(HEADER_SESSION), true)).toEqual(HEADER_OPS)
    for (let at = 1; at < HEADER_SESSION.length; at++) {
      expect(parseChunks([HEADER_SESSION.subarray(0, at), HEADER_SESSION.subarray(at)], true), `split at ${at}`).toEqual(HEADER_OPS)
    }
  })

  const badHeaderInputs: [string, string, ProtocolErrorCode][] = [
    ['HPUB with only a subject and one size', 'HPUB foo 3\r\n', 'BAD_ARGUMENTS'],
    ['HPUB with too many arguments', 'HPUB a b c 1 2\r\n', 'BAD_ARGUMENTS'],
    ['HPUB with a header size that is not a number', 'HPUB foo x 3\r\n', 'BAD_ARGUMENTS'],
    ['HPUB whose headers are larger than the whole', 'HPUB foo 4 3\r\n', 'BAD_ARGUMENTS'],
    ['HPUB over max_payload', `HPUB foo 1 ${LIMITS.maxPayload + 1}\r\n`, 'MAX_PAYLOAD'],
    ['HMSG, a server-only op', 'HMSG foo 1 0 0\r\n\r\n', 'UNKNOWN_OPERATION'],
  ]

  for (const [name, input, code] of badHeaderInputs) {
    it(`Should refuse ${name} with ${code}`, () => {
      expect(() => parseChunks([Buffer.from(input)], true)).toThrow(expect.objectContaining({ code }))
    })
  }

  it('Should refuse HPUB when the client did not ask for headers', () => {
    expect(() => parseChunks([Buffer.from('HPUB foo 0 3\r\nabc\r\n')])).toThrow(expect.objectContaining({ code: 'HEADERS_NOT_SUPPORTED' }))
  })

  const badInputs: [string, string, ProtocolErrorCode][] = [
    ['an unknown op', 'FOO bar\r\n', 'UNKNOWN_OPERATION'],
    ['a blank line', '\r\n', 'UNKNOWN_OPERATION'],
    ['an op glued to its argument', 'PUBfoo 1\r\n', 'UNKNOWN_OPERATION'],
    ['a server-only op', 'MSG foo 1 0\r\n\r\n', 'UNKNOWN_OPERATION'],
    ['PUB without arguments', 'PUB\r\n', 'UNKNOWN_OPERATION'],
    ['PUB with only a subject', 'PUB foo\r\n', 'BAD_ARGUMENTS'],
    ['PUB with too many arguments', 'PUB a b c 1\r\n', 'BAD_ARGUMENTS'],
    ['PUB with a size that is not a number', 'PUB foo x1\r\n', 'BAD_ARGUMENTS'],
    ['PUB with a negative size', 'PUB foo -1\r\n', 'BAD_ARGUMENTS'],
    ['PUB over max_payload', `PUB foo ${LIMITS.maxPayload + 1}\r\n`, 'MAX_PAYLOAD'],
    ['a payload longer than declared', 'PUB foo 2\r\nabc\r\n', 'UNKNOWN_OPERATION'],
    ['a payload not followed by CRLF', 'PUB foo 2\r\nab\n', 'UNKNOWN_OPERATION'],
    ['SUB with only a subject', 'SUB foo\r\n', 'BAD_ARGUMENTS'],
    ['SUB with too many arguments', 'SUB foo q 1 2\r\n', 'BAD_ARGUMENTS'],
    ['UNSUB without a sid', 'UNSUB \r\n', 'BAD_ARGUMENTS'],
    ['a control line over the limit', `SUB ${'a'.repeat(5000)} 1\r\n`, 'MAX_CONTROL_LINE'],
  ]

  for (const [name, input, code] of badInputs) {
    it(`Should refuse ${name} with ${code}, whole or byte at a time`, () => {
      for (const chunks of [[Buffer.from(input)], byteAtATime(Buffer.from(input))]) {
        let caught: unknown
        try {
          parseChunks(chunks)
        } catch (err) {
          caught = err
        }
        expect(caught).toBeInstanceOf(ProtocolError)
        expect((caught as ProtocolError).code).toBe(code)
      }
    })
  }

  it('Should refuse an overlong control line that never ends before buffering it all', () => {
    const parser = new Parser({ push: () => {} }, LIMITS)
    parser.parse(Buffer.from('SUB '))
    expect(() => {
      for (let i = 0; i < 10; i++) parser.parse(Buffer.alloc(1024, 'a'))
    }).toThrow(ProtocolError)
  })
})
