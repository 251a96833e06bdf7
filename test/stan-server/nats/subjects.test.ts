import { describe, expect, it } from 'vitest'
import { SubjectIndex, isValidLiteralSubject, isValidSubject } from '../../../src/stan-server/nats/subjects.js'

describe('Subject validation', () => {
  it.each(['foo', 'foo.bar', 'foo.*', '*', '>', 'foo.>', '*.bar.>', '_INBOX.abc.*', 'foo*.bar', 'a>.b'])(
    'Should accept %s for a subscription',
    (subject) => expect(isValidSubject(subject)).toBe(true),
  )

  it.each(['', '.', 'foo.', '.foo', 'foo..bar', 'foo.>.bar', '>.foo', 'foo bar', 'foo\tbar'])(
    'Should refuse %j for a subscription',
    (subject) => expect(isValidSubject(subject)).toBe(false),
  )

  it('Should refuse wildcards in a subject to publish to', () => {
    expect(isValidLiteralSubject('foo.bar')).toBe(true)
    expect(isValidLiteralSubject('foo.*')).toBe(false)
    expect(isValidLiteralSubject('foo.>')).toBe(false)
  })
})

describe('SubjectIndex', () => {
  function names(index: SubjectIndex<string>, subject: string): string[] {
    const { plain, groups } = index.match(subject)
    return [...plain, ...groups.flat()].sort()
  }

  it('Should match literals, `*` for one token and `>` for one or more', () => {
    const index = new SubjectIndex<string>()
    for (const subject of ['foo.bar', 'foo.*', 'foo.>', '*.bar', '>', 'foo', 'foo.bar.baz']) index.insert(subject, '', subject)
    expect(names(index, 'foo.bar')).toEqual(['*.bar', '>', 'foo.*', 'foo.>', 'foo.bar'])
    expect(names(index, 'foo')).toEqual(['>', 'foo'])
    expect(names(index, 'foo.bar.baz')).toEqual(['>', 'foo.>', 'foo.bar.baz'])
    expect(names(index, 'other.thing')).toEqual(['>'])
  })

  it('Should merge queue groups of the same name across subjects', () => {
    const index = new SubjectIndex<string>()
    index.insert('orders.*', 'workers', 'a')
    index.insert('orders.new', 'workers', 'b')
    index.insert('orders.new', 'auditors', 'c')
    const { plain, groups } = index.match('orders.new')
    expect(plain).toEqual([])
    expect(groups.map((g) => [...g].sort())).toEqual([['a', 'b'], ['c']])
  })

  it('Should stop matching a removed subscriber and prune its subject', () => {
    const index = new SubjectIndex<string>()
    index.insert('_INBOX.x.*', '', 'inbox')
    expect(names(index, '_INBOX.x.1')).toEqual(['inbox'])
    expect(index.remove('_INBOX.x.*', '', 'inbox')).toBe(true)
    expect(index.remove('_INBOX.x.*', '', 'inbox')).toBe(false)
    expect(names(index, '_INBOX.x.1')).toEqual([])
    expect(index.size).toBe(0)
  })

  it('Should leave a result being iterated unchanged when the index changes', () => {
    const index = new SubjectIndex<string>()
    index.insert('a', '', 'one')
    const before = index.match('a')
    index.insert('a', '', 'two')
    expect(before.plain).toEqual(['one'])
    expect(index.match('a').plain).toEqual(['one', 'two'])
  })

  it('Should match nothing, not even `>`, for a published subject with an empty token or whitespace', () => {
    const index = new SubjectIndex<string>()
    index.insert('>', '', 'all')
    for (const subject of ['', 'foo..bar', 'foo.', 'a b']) expect(names(index, subject), subject).toEqual([])
  })

  it('Should refuse an invalid subject without adding it', () => {
    const index = new SubjectIndex<string>()
    expect(index.insert('foo..bar', '', 'x')).toBe(false)
    expect(index.size).toBe(0)
  })
})
