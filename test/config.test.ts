import { describe, expect, it } from 'vitest'
import { ConfigError, loadConfig } from '../src/config.js'

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

  it('When BROKER is unset, then NATS Streaming is used and the JetStream settings have their documented defaults', () => {
    const config = loadConfig({})
    expect(config).toMatchObject({
      BROKER: 'stan',
      JETSTREAM_STREAM: 'ORDERS',
      JETSTREAM_SUBJECT: 'orders',
      JETSTREAM_CONSUMER: 'order-service',
      JETSTREAM_REPLICAS: 1,
      JETSTREAM_ACK_WAIT_SECONDS: 30,
      JETSTREAM_MAX_ACK_PENDING: 16384,
      JETSTREAM_MAX_IN_FLIGHT: 4096,
      EMBEDDED_NATS_PORT: 4223,
    })
    expect(config.NATS_URL).toBeUndefined()
  })

  it('When NATS_URL lists servers, then they are split and trimmed; a bad entry is named', () => {
    const config = loadConfig({ BROKER: 'jetstream', NATS_URL: 'nats://a:4222, nats://b:4222 ,nats://10.0.0.3:4222', JETSTREAM_REPLICAS: '3' })
    expect(config.NATS_URL).toEqual(['nats://a:4222', 'nats://b:4222', 'nats://10.0.0.3:4222'])
    expect(config.JETSTREAM_REPLICAS).toBe(3)
    let error: unknown
    try {
      loadConfig({ BROKER: 'kafka', NATS_URL: 'nats://a:4222,http://b:80,', JETSTREAM_REPLICAS: '2' })
    } catch (caught) {
      error = caught
    }
    const problems = (error as ConfigError).problems.join('\n')
    expect(problems).toContain('BROKER')
    expect(problems).toContain('"http://b:80" is not a nats://host:port URL')
    expect(problems).toContain('"" is not a nats://host:port URL')
    expect(problems).not.toContain('nats://a:4222"')
    expect(problems).toContain('JETSTREAM_REPLICAS')
  })
})
