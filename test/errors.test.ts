import { describe, expect, it } from 'vitest'
import { ConfigError, isAddressInUse, PortInUseError, ServiceError } from '../src/errors.js'

/** The service's errors: callers and logs branch on a stable code, never on the message. */
describe('the service errors', () => {
  it('Should carry a stable code, its class name and the cause it wraps', () => {
    const cause = new Error('socket hang up')
    const error = new ServiceError('gate_thread_failed', 'the gate thread failed', { cause })
    expect(error).toBeInstanceOf(Error)
    expect(error).toMatchObject({ name: 'ServiceError', code: 'gate_thread_failed', message: 'the gate thread failed', cause })
  })

  it('When the configuration is invalid, then the error is a ServiceError with code invalid_config naming every problem', () => {
    const error = new ConfigError(['HTTP_PORT: must be a whole number', 'ADMIN_TOKEN: too short'])
    expect(error).toBeInstanceOf(ServiceError)
    expect(error).toMatchObject({ name: 'ConfigError', code: 'invalid_config' })
    expect(error.message.split('\n')).toEqual(['Invalid configuration:', '  - HTTP_PORT: must be a whole number', '  - ADMIN_TOKEN: too short'])
  })

  it('When a port is taken, then the error is one line naming the port, the setting and the way out', () => {
    const cause = Object.assign(new Error('listen EADDRINUSE'), { code: 'EADDRINUSE' })
    expect(isAddressInUse(cause)).toBe(true)
    const error = new PortInUseError('EMBEDDED_POSTGRES_PORT', '127.0.0.1', 5433, { cause })
    expect(error).toMatchObject({ name: 'PortInUseError', code: 'port_in_use', setting: 'EMBEDDED_POSTGRES_PORT', port: 5433, cause })
    expect(error.message).not.toContain('\n')
    expect(error.message).toMatch(/^Port 5433 on 127\.0\.0\.1 \(EMBEDDED_POSTGRES_PORT\).*DATABASE_URL/)
  })
})
