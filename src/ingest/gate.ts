import { Ajv, type ErrorObject } from 'ajv'
import addFormatsModule from 'ajv-formats'
import { compileJsonbText } from './jsonb-text.js'
import { ORDER_UID_PATTERN, orderSchema, type Order } from './order-schema.js'
import type { GateReason, RejectError, Verdict } from './verdict.js'

/** The gate itself prints the text as a string; the gate thread sends it on as bytes (gate-thread-worker.ts). */
export type Gate = (payload: Uint8Array) => Verdict<GateReason, string>

/** The gate as the writer and the replay use it: a verdict per message, in the order the messages were given. */
export type GateCheck = (payload: Uint8Array) => Promise<Verdict<GateReason>>

export interface GateOptions {
  maxMessageBytes: number
  /** Schema errors reported per message; the rest are summarised in one last entry. */
  maxErrors?: number
}

// ajv-formats is CommonJS with a default export; under NodeNext the callable is on `.default`.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default

const uidPattern = new RegExp(ORDER_UID_PATTERN)
const maxItems = orderSchema.properties.items.maxItems

/**
 * Builds the gate: the schema is compiled here, once. The gate itself is pure and never throws:
 * anything at all may arrive on the channel, and every message gets a verdict.
 */
export function createGate(options: GateOptions): Gate {
  const maxErrors = options.maxErrors ?? 20
  // allErrors lists every problem; the count stays bounded because the message size is bounded and
  // the one array (items) is checked for length before its elements are validated (see below).
  const ajv = new Ajv({ allErrors: true, strict: true })
  addFormats(ajv, ['date-time', 'email'])
  const validate = ajv.compile<Order>(orderSchema)
  const validateQuickly = compileQuickCheck()
  const decoder = new TextDecoder('utf-8', { fatal: true })
  const print = compileJsonbText(orderSchema)

  return function gate(payload) {
    if (payload.byteLength === 0) return reject('empty', [{ path: '', message: 'the message is empty' }])
    if (payload.byteLength > options.maxMessageBytes) {
      return reject('too_large', [{ path: '', message: `the message has ${payload.byteLength} bytes, more than ${options.maxMessageBytes}` }])
    }
    let text: string
    try {
      text = decoder.decode(payload)
    } catch {
      return reject('not_utf8', [{ path: '', message: 'the message is not valid UTF-8' }])
    }
    let doc: unknown
    try {
      doc = JSON.parse(text)
    } catch (error) {
      return reject('not_json', [{ path: '', message: clean(error instanceof Error ? error.message : 'not JSON') }])
    }
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
      return reject('schema', [{ path: '', message: 'must be an object' }])
    }
    const orderUid = recognisableUid(doc)
    const items = (doc as { items?: unknown }).items
    if (Array.isArray(items) && items.length > maxItems) {
      // An oversized array of bad elements would otherwise yield an error per field per element.
      return reject('schema', [{ path: '/items', message: `must NOT have more than ${maxItems} items` }], orderUid)
    }
    if (!validateQuickly(doc) && !validate(doc)) return reject('schema', toRejectErrors(validate.errors ?? [], maxErrors), orderUid)
    // A JSON escape can produce what jsonb refuses (U+0000, lone surrogates); without an escape there is none.
    if (text.includes('\\u')) {
      const unstorable = findUnstorableString(doc, '')
      if (unstorable !== undefined) {
        return reject('schema', [{ path: unstorable, message: 'must not contain U+0000 or unpaired surrogates' }], orderUid)
      }
    }
    return { ok: true, orderUid: doc.order_uid, json: print(doc) }
  }
}

/**
 * The schema checked with string lengths in UTF-16 code units (String#length), stopping at the first error: a
 * third cheaper than counting code points as JSON Schema does (ajv's ucs2length, for each minLength and
 * maxLength). A string's length in units is never below its code points, and at least 1 exactly when they are, so
 * with no minLength above 1 what this accepts the full check accepts too; only what it refuses (a reject, or a
 * string of astral characters near its maxLength) goes on to the full check, which gives the verdict and the errors.
 */
function compileQuickCheck(): (doc: object) => doc is Order {
  if (maxMinLength(orderSchema) > 1) return (_doc): _doc is Order => false
  // logger: false silences ajv's notice that `unicode` is deprecated: counting code points is ajv's default,
  // and this check is the one place where it is not wanted.
  const ajv = new Ajv({ allErrors: false, strict: true, unicode: false, logger: false })
  addFormats(ajv, ['date-time', 'email'])
  return ajv.compile<Order>(orderSchema)
}

/** The largest minLength anywhere in a schema (0 without one). */
function maxMinLength(schema: unknown): number {
  if (typeof schema !== 'object' || schema === null) return 0
  let max = 0
  for (const [key, value] of Object.entries(schema)) {
    max = Math.max(max, key === 'minLength' && typeof value === 'number' ? value : maxMinLength(value))
  }
  return max
}

/** A GateCheck that runs `gate` on this thread: for tests, and wherever a second thread is not worth it. */
export function checkInThisThread(gate: Gate): GateCheck {
  return (payload) => Promise.resolve(gate(payload))
}

function reject(reason: GateReason, errors: RejectError[], orderUid?: string): Verdict<GateReason, string> {
  return orderUid === undefined ? { ok: false, reason, errors } : { ok: false, reason, errors, orderUid }
}

function recognisableUid(doc: object): string | undefined {
  const uid = (doc as { order_uid?: unknown }).order_uid
  return typeof uid === 'string' && uidPattern.test(uid) ? uid : undefined
}

function toRejectErrors(errors: readonly ErrorObject[], max: number): RejectError[] {
  const shown = errors.slice(0, max).map((error) => {
    // Name the unknown property itself: "/delivery/colour must NOT be present" says more than its parent.
    if (error.keyword === 'additionalProperties') {
      const property = String((error.params as { additionalProperty: unknown }).additionalProperty)
      return { path: clean(`${error.instancePath}/${escapePointer(property)}`), message: 'is not allowed (unknown property)' }
    }
    return { path: clean(error.instancePath), message: clean(error.message ?? error.keyword) }
  })
  if (errors.length > max) shown.push({ path: '', message: `and ${errors.length - max} more errors` })
  return shown
}

function escapePointer(token: string): string {
  return token.replaceAll('~', '~0').replaceAll('/', '~1')
}

/** Error texts end up in jsonb too: they must be storable whatever the message contained. */
function clean(value: string): string {
  const short = value.length > 200 ? `${value.slice(0, 200)}…` : value
  return toWellFormed(short).replaceAll('\0', '\uFFFD')
}

/** The JSON pointer of the first string PostgreSQL's jsonb cannot hold, if any. */
function findUnstorableString(value: unknown, path: string): string | undefined {
  if (typeof value === 'string') return isStorable(value) ? undefined : path
  if (typeof value !== 'object' || value === null) return undefined
  for (const [key, child] of Object.entries(value)) {
    const found = findUnstorableString(child, `${path}/${escapePointer(key)}`)
    if (found !== undefined) return found
  }
  return undefined
}

// String.prototype.isWellFormed / toWellFormed: Node 20 has them, the ES2023 typings do not.
type WellFormed = { isWellFormed(): boolean; toWellFormed(): string }

function isStorable(value: string): boolean {
  return (value as unknown as WellFormed).isWellFormed() && !value.includes('\0')
}

function toWellFormed(value: string): string {
  return (value as unknown as WellFormed).toWellFormed()
}
