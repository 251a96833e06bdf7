import { describe, expect, it } from 'vitest'
import { loadConfig } from '../src/config.js'
import { ConfigError } from '../src/errors.js'

describe('configuration', () => {
  it('When nothing is set, then the documented defaults apply and embedded servers are used', () => {
    const config = loadConfig({})
    expect(config).toMatchObject({
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: 8000,
      STAN_CLUSTER_ID: 'test-cluster',
      STAN_CLIENT_ID: 'order-service',
      STAN_CHANNEL: 'orders',
      STAN_DURABLE: 'order-service',
      DATA_DIR: './.data',
      LOG_LEVEL: 'info',
      STAN_MAX_IN_FLIGHT: 4096,
      BATCH_MAX_SIZE: 500,
      GATE_THREAD: 'on',
    })
    expect(config.DATABASE_URL).toBeUndefined()
    expect(config.STAN_URL).toBeUndefined()
    expect(Object.isFrozen(config)).toBe(true)
  })

  it('When several values are wrong, then one error names every problem', () => {
    let error: unknown
    try {
      loadConfig({ HTTP_PORT: 'eighty', DATABASE_URL: 'mysql://x', STAN_CHANNEL: 'orders.>', ADMIN_TOKEN: 'short', GATE_THREAD: 'yes' })
    } catch (caught) {
      error = caught
    }
    expect(error).toBeInstanceOf(ConfigError)
    const problems = (error as ConfigError).problems.join('\n')
    for (const name of ['HTTP_PORT', 'DATABASE_URL', 'STAN_CHANNEL', 'ADMIN_TOKEN', 'GATE_THREAD']) expect(problems).toContain(name)
  })

  it('Should turn numbers into numbers and treat empty values as unset', () => {
    const config = loadConfig({ HTTP_PORT: '9000', CACHE_MAX_BYTES: '1048576', DATABASE_URL: '' })
    expect(config.HTTP_PORT).toBe(9000)
    expect(config.CACHE_MAX_BYTES).toBe(1048576)
    expect(config.DATABASE_URL).toBeUndefined()
  })
  it('When WRITE_TIMEOUT_MS is unset, then it is 10 s, or half the ack wait when that is shorter', () => {
    expect(loadConfig({}).WRITE_TIMEOUT_MS).toBe(10_000)
    expect(loadConfig({ STAN_ACK_WAIT_SECONDS: '4' }).WRITE_TIMEOUT_MS).toBe(2_000)
    expect(loadConfig({}).QUERY_TIMEOUT_MS).toBe(5_000)
    expect(loadConfig({}).MIGRATION_TIMEOUT_MS).toBe(60_000)
  })

  it('When WRITE_TIMEOUT_MS is not below the ack wait, then the configuration is refused, naming it', () => {
    expect(loadConfig({ WRITE_TIMEOUT_MS: '4999', STAN_ACK_WAIT_SECONDS: '5' }).WRITE_TIMEOUT_MS).toBe(4_999)
    expect(() => loadConfig({ WRITE_TIMEOUT_MS: '5000', STAN_ACK_WAIT_SECONDS: '5' })).toThrow(/WRITE_TIMEOUT_MS: must be below STAN_ACK_WAIT_SECONDS/)
    expect(() => loadConfig({ WRITE_TIMEOUT_MS: '15001' })).toThrow(/WRITE_TIMEOUT_MS: must be from 100 to 15000/)
  })
})
