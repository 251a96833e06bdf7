import { describe, expect, it } from 'vitest'
import { Lifecycle } from '../src/lifecycle.js'

describe('Lifecycle', () => {
  const failures: string[] = []
  const lifecycle = () => new Lifecycle((name) => failures.push(name))

  it('When the parts stop, then they stop newest first, each once, whatever its stop returns', async () => {
    const life = lifecycle()
    const stopped: string[] = []
    const pool = await life.start('pool', () => 'pool', (part) => stopped.push(part))
    life.onStop('timer', () => stopped.push('timer'))
    await life.start('server', async () => 'server', async (part) => {
      await Promise.resolve()
      stopped.push(part)
    })
    expect(pool).toBe('pool')
    await Promise.all([life.stop(), life.stop()])
    await life.stop()
    expect(stopped).toEqual(['server', 'timer', 'pool'])
  })

  it('When a start fails half-way, then what had started is stopped in reverse and the error is the start\'s', async () => {
    const life = lifecycle()
    const stopped: string[] = []
    const failure = new Error('database refused')
    const starting = life.startAll(async () => {
      await life.start('gate', () => 'gate', (part) => stopped.push(part))
      await life.start('listener', () => 'listener', (part) => stopped.push(part))
      await life.start('database', () => Promise.reject(failure), () => stopped.push('database'))
    })
    await expect(starting).rejects.toBe(failure)
    expect(stopped).toEqual(['listener', 'gate'])
  })

  it('When one stop fails, then it is reported and the others still run', async () => {
    failures.length = 0
    const life = lifecycle()
    const stopped: string[] = []
    life.onStop('first', () => stopped.push('first'))
    life.onStop('broken', () => {
      throw new Error('already closed')
    })
    life.onStop('last', () => stopped.push('last'))
    await life.stop()
    expect(stopped).toEqual(['last', 'first'])
    expect(failures).toEqual(['broken'])
  })

  it('When a part registers after the stop began, then it is stopped then, and the stop waits for it', async () => {
    const life = lifecycle()
    const stopped: string[] = []
    const stopping = life.stop()
    await life.start('late', () => 'late', async (part) => {
      await Promise.resolve()
      stopped.push(part)
    })
    await stopping
    await life.stop()
    expect(stopped).toEqual(['late'])
  })

  it('When a stop is run early, then it runs once and not again at the end', async () => {
    const life = lifecycle()
    const stopped: string[] = []
    const early = life.onStop('proxy', () => stopped.push('proxy'))
    life.onStop('pool', () => stopped.push('pool'))
    await early()
    await early()
    await life.stop()
    expect(stopped).toEqual(['proxy', 'pool'])
  })
})
