/**
 * Subjects: validation and an index from subscribed subjects (with `*` and `>` wildcards) to
 * subscribers, grouped by queue name, as gnatsd's sublist does.
 */

/**
 * A subject a subscription may use: dot-separated non-empty tokens without whitespace, `>` only as
 * the last token. A token that merely contains `*` or `>` is a literal, as in gnatsd.
 */
export function isValidSubject(subject: string): boolean {
  if (subject.length === 0) return false
  let tokenStart = 0
  let fullWildcard = false
  for (let i = 0; i <= subject.length; i++) {
    const c = i < subject.length ? subject.charCodeAt(i) : 46 // a virtual '.' closes the last token
    if (c === 46) {
      if (i === tokenStart || fullWildcard) return false
      fullWildcard = i - tokenStart === 1 && subject.charCodeAt(tokenStart) === 62
      tokenStart = i + 1
    } else if (c === 32 || c === 9 || c === 13 || c === 10) {
      return false
    }
  }
  return true
}

/** A subject a message may be published to: valid and without wildcard tokens. */
export function isValidLiteralSubject(subject: string): boolean {
  if (!isValidSubject(subject)) return false
  for (const token of subject.split('.')) {
    if (token === '*' || token === '>') return false
  }
  return true
}

export interface MatchResult<T> {
  /** Every plain subscriber gets the message. */
  readonly plain: readonly T[]
  /** One member of each queue group gets it; groups of the same name are merged across subjects. */
  readonly groups: readonly (readonly T[])[]
}

class Node<T> {
  next: Level<T> | undefined
  plain: T[] = []
  groups = new Map<string, T[]>()

  isEmpty(): boolean {
    return this.plain.length === 0 && this.groups.size === 0 && (this.next === undefined || this.next.isEmpty())
  }
}

class Level<T> {
  literal = new Map<string, Node<T>>()
  anyToken: Node<T> | undefined // `*`
  rest: Node<T> | undefined // `>`

  isEmpty(): boolean {
    return this.literal.size === 0 && this.anyToken === undefined && this.rest === undefined
  }
}

const EMPTY: MatchResult<never> = Object.freeze({ plain: Object.freeze([]), groups: Object.freeze([]) })

/**
 * Subscribers by subject pattern. Matches are cached per published subject; any change to the
 * index drops the cache, and cached arrays are never mutated, so callers may iterate a result
 * while handlers subscribe or unsubscribe.
 */
export class SubjectIndex<T> {
  private readonly root = new Level<T>()
  private readonly cache = new Map<string, MatchResult<T>>()
  private count = 0

  constructor(private readonly maxCached = 4096) {}

  get size(): number {
    return this.count
  }

  /** Returns false, adding nothing, when the subject is not a valid subscription subject. */
  insert(subject: string, queue: string, value: T): boolean {
    if (!isValidSubject(subject)) return false
    let level = this.root
    let node: Node<T> | undefined
    for (const token of subject.split('.')) {
      if (node !== undefined) level = node.next ??= new Level<T>()
      node = childFor(level, token, true)!
    }
    const target = node!
    if (queue === '') {
      target.plain.push(value)
    } else {
      const group = target.groups.get(queue)
      if (group === undefined) target.groups.set(queue, [value])
      else group.push(value)
    }
    this.count++
    this.cache.clear()
    return true
  }

  /** Returns whether the value was there. */
  remove(subject: string, queue: string, value: T): boolean {
    const removed = removeFrom(this.root, subject.split('.'), 0, queue, value)
    if (removed) {
      this.count--
      this.cache.clear()
    }
    return removed
  }

  match(subject: string): MatchResult<T> {
    const cached = this.cache.get(subject)
    if (cached !== undefined) return cached
    const plain: T[] = []
    const groups = new Map<string, T[]>()
    // Like gnatsd, a subject with an empty token (or whitespace) matches nothing; wildcard
    // tokens in a published subject are matched as they stand.
    if (isValidSubject(subject)) collect(this.root, subject.split('.'), 0, plain, groups)
    const result: MatchResult<T> =
      plain.length === 0 && groups.size === 0 ? EMPTY : { plain, groups: Array.from(groups.values()) }
    if (this.cache.size >= this.maxCached) this.cache.clear()
    this.cache.set(subject, result)
    return result
  }
}

function childFor<T>(level: Level<T>, token: string, create: boolean): Node<T> | undefined {
  if (token === '*') return create ? (level.anyToken ??= new Node<T>()) : level.anyToken
  if (token === '>') return create ? (level.rest ??= new Node<T>()) : level.rest
  let node = level.literal.get(token)
  if (node === undefined && create) {
    node = new Node<T>()
    level.literal.set(token, node)
  }
  return node
}

function removeFrom<T>(level: Level<T>, tokens: string[], i: number, queue: string, value: T): boolean {
  const token = tokens[i]!
  const node = childFor(level, token, false)
  if (node === undefined) return false
  let removed: boolean
  if (i === tokens.length - 1) {
    removed = removeValue(node, queue, value)
  } else {
    removed = node.next !== undefined && removeFrom(node.next, tokens, i + 1, queue, value)
    if (node.next?.isEmpty()) node.next = undefined
  }
  // Prune, so short-lived subjects such as inboxes do not accumulate.
  if (removed && node.isEmpty()) {
    if (token === '*') level.anyToken = undefined
    else if (token === '>') level.rest = undefined
    else level.literal.delete(token)
  }
  return removed
}

function removeValue<T>(node: Node<T>, queue: string, value: T): boolean {
  const list = queue === '' ? node.plain : node.groups.get(queue)
  if (list === undefined) return false
  const at = list.indexOf(value)
  if (at < 0) return false
  list.splice(at, 1)
  if (queue !== '' && list.length === 0) node.groups.delete(queue)
  return true
}

function collect<T>(level: Level<T>, tokens: string[], i: number, plain: T[], groups: Map<string, T[]>): void {
  // `>` matches one or more remaining tokens.
  if (level.rest !== undefined) addNode(level.rest, plain, groups)
  const last = i === tokens.length - 1
  for (const node of [level.anyToken, level.literal.get(tokens[i]!)]) {
    if (node === undefined) continue
    if (last) addNode(node, plain, groups)
    else if (node.next !== undefined) collect(node.next, tokens, i + 1, plain, groups)
  }
}

function addNode<T>(node: Node<T>, plain: T[], groups: Map<string, T[]>): void {
  for (const value of node.plain) plain.push(value)
  for (const [name, members] of node.groups) {
    const group = groups.get(name)
    if (group === undefined) groups.set(name, members.slice())
    else for (const member of members) group.push(member)
  }
}
