import { describe, expect, it } from 'vitest';
import { BackendError, toBackendError } from './backend';

describe('toBackendError', () => {
  it('keeps a known code and the message', () => {
    const e = toBackendError({ code: 'unavailable', message: 'docker is not running' });
    expect(e).toBeInstanceOf(BackendError);
    expect([e.code, e.message]).toEqual(['unavailable', 'docker is not running']);
  });
  it('maps unknown codes, strings and junk to internal', () => {
    expect(toBackendError({ code: 'weird', message: 'm' }).code).toBe('internal');
    expect(toBackendError('boom').message).toBe('boom');
    expect(toBackendError(42).code).toBe('internal');
  });
});
