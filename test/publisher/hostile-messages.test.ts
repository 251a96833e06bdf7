import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { Ajv } from 'ajv'
import addFormatsModule from 'ajv-formats'
import { describe, expect, it } from 'vitest'
import { createGate } from '../../src/ingest/gate.js'
import {
  DEFAULT_MAX_MESSAGE_BYTES,
  HOSTILE_KINDS,
  hostileMessage,
  hostileMessages,
  type HostileKind,
  type HostileMessage,
} from '../../src/publisher/hostile-messages.js'

const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default
const schema = JSON.parse(readFileSync(new URL('../../schema/model.schema.json', import.meta.url), 'utf8'))
// Ten rounds through the kinds, so that most variants of each kind come up.
const messages = [...hostileMessages(HOSTILE_KINDS.length * 10, 11)]
const ofKind = (kind: HostileKind): HostileMessage[] => messages.filter((message) => message.kind === kind)

describe('hostileMessages', () => {
  it('Should cover every kind within one round of the kinds', () => {
    const round = [...hostileMessages(HOSTILE_KINDS.length, 1)].map((message) => message.kind)
    expect(round).toEqual(HOSTILE_KINDS)
    expect(HOSTILE_KINDS).toEqual(
      expect.arrayContaining([
        'empty', 'random_bytes', 'invalid_utf8', 'truncated_json', 'deeply_nested_json', 'not_an_object', 'missing_field',
        'extra_field', 'wrong_type', 'huge_string', 'huge_array', 'number_out_of_range', 'nan_like', 'prototype_pollution',
        'unsafe_id', 'control_characters', 'at_size_limit', 'over_size_limit',
      ]),
    )
  })

  it('When given the same seed, then it yields the same payloads; another seed, other payloads', () => {
    // Compared by digest: deep equality over 256 KiB buffers is slow.
    const digests = (list: HostileMessage[]) => list.map((message) => `${message.kind}:${sha256(message.payload)}`)
    expect(digests([...hostileMessages(messages.length, 11)])).toEqual(digests(messages))
    expect(digests([...hostileMessages(messages.length, 12)])).not.toEqual(digests(messages))
    expect(digests([hostileMessage(11, 5)])).toEqual(digests(messages.slice(5, 6)))
  })

  it('Should expect the reason each kind stands for where the kind decides it', () => {
    const reasons = (kind: HostileKind) => new Set(ofKind(kind).map((message) => message.expectedReason))
    expect(reasons('empty')).toEqual(new Set(['empty']))
    expect(reasons('invalid_utf8')).toEqual(new Set(['not_utf8']))
    expect(reasons('truncated_json')).toEqual(new Set(['not_json']))
    expect(reasons('malformed_json')).toEqual(new Set(['not_json']))
    expect(reasons('over_size_limit')).toEqual(new Set(['too_large']))
    for (const kind of ['not_an_object', 'missing_field', 'extra_field', 'wrong_type', 'number_out_of_range', 'prototype_pollution', 'unsafe_id', 'control_characters', 'at_size_limit'] as const) {
      expect(reasons(kind), kind).toEqual(new Set(['schema']))
    }
  })

  it('Should put the size-limit messages exactly at and just over maxMessageBytes', () => {
    for (const maxMessageBytes of [DEFAULT_MAX_MESSAGE_BYTES, 2048]) {
      const at = [...hostileMessages(HOSTILE_KINDS.length, 3, { maxMessageBytes })].find((message) => message.kind === 'at_size_limit')
      expect(at?.payload.length).toBe(maxMessageBytes)
    }
    for (const message of ofKind('over_size_limit')) expect(message.payload.length).toBeGreaterThan(DEFAULT_MAX_MESSAGE_BYTES)
  })

  it('Should check random bytes itself: UTF-8 or not, JSON or not', () => {
    const decoder = new TextDecoder('utf-8', { fatal: true })
    for (const { payload, expectedReason } of ofKind('random_bytes')) {
      let utf8 = true
      try {
        decoder.decode(payload)
      } catch {
        utf8 = false
      }
      expect(expectedReason).toBe(utf8 ? 'not_json' : 'not_utf8')
    }
    expect(new Set(ofKind('random_bytes').map((message) => message.expectedReason))).toEqual(new Set(['not_utf8', 'not_json']))
  })

  it('Should make every message that is JSON fail schema/model.schema.json, or hold a string jsonb cannot store', () => {
    const ajv = new Ajv({ allErrors: true, strict: true })
    addFormats(ajv)
    const validate = ajv.compile(schema)
    for (const message of messages.filter((candidate) => candidate.expectedReason === 'schema')) {
      const doc: unknown = JSON.parse(message.payload.toString('utf8'))
      if (message.kind === 'control_characters') {
        // Valid for the schema; the gate rejects it because PostgreSQL jsonb cannot hold it.
        expect(hasUnstorableString(doc), message.payload.toString()).toBe(true)
      } else {
        expect(validate(doc), `${message.kind}: ${message.payload.subarray(0, 200).toString()}`).toBe(false)
      }
    }
  })

  it('Should add prototype-pollution keys as own keys of the parsed document, never to Object.prototype', () => {
    for (const message of ofKind('prototype_pollution')) {
      const doc = JSON.parse(message.payload.toString('utf8'))
      expect(JSON.stringify(doc)).toMatch(/"__proto__"|"constructor"/)
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })

  it('When the service gate judges them, then it answers each expectedReason', () => {
    for (const maxMessageBytes of [DEFAULT_MAX_MESSAGE_BYTES, 1024]) {
      const gate = createGate({ maxMessageBytes })
      const judged = [...hostileMessages(HOSTILE_KINDS.length * 5, 21, { maxMessageBytes })].map((message) => {
        const result = gate(message.payload)
        return { kind: message.kind, expected: message.expectedReason, got: result.ok ? 'accepted' : result.reason }
      })
      expect(judged.filter((verdict) => verdict.got !== verdict.expected)).toEqual([])
    }
  })
})

function hasUnstorableString(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('\0') || !(value as unknown as { isWellFormed(): boolean }).isWellFormed()
  if (typeof value === 'object' && value !== null) return Object.values(value).some(hasUnstorableString)
  return false
}

const sha256 = (payload: Buffer): string => createHash('sha256').update(payload).digest('hex')
