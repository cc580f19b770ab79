import { describe, expect, it } from 'vitest';
import type { EventEnvelope } from '../../generated/api';
import { BackendError } from './backend';
import { HttpBackend, reconnectDelay, type HttpEnvironment } from './http';

class FakeSocket {
  static last: FakeSocket | null = null;
  onopen: (() => void) | null = null;
  onmessage: ((m: { data: string }) => void) | null = null;
  onclose: (() => void) | null = null;
  constructor(readonly url: string) {
    FakeSocket.last = this;
  }
}

function env(respond: (body: unknown) => { status: number; body: string }): {
  env: HttpEnvironment;
  timers: Array<() => void>;
  sent: unknown[];
} {
  const timers: Array<() => void> = [];
  const sent: unknown[] = [];
  const fetch = (async (_url: string, init: RequestInit) => {
    const body = JSON.parse(String(init.body));
    sent.push(body);
    const r = respond(body);
    return new Response(r.body, { status: r.status });
  }) as unknown as typeof globalThis.fetch;
  return {
    env: {
      fetch,
      WebSocket: FakeSocket as unknown as HttpEnvironment['WebSocket'],
      origin: 'http://127.0.0.1:7870',
      setTimeout: (fn) => timers.push(fn),
    },
    timers,
    sent,
  };
}

describe('HttpBackend', () => {
  it('sends {command, args} and returns the result', async () => {
    const e = env(() => ({ status: 200, body: '{"version":"0.1.0","platform":"linux","home":"/h"}' }));
    const backend = new HttpBackend(e.env);
    const info = await backend.call('app_info', {});
    expect(info.version).toBe('0.1.0');
    expect(e.sent).toEqual([{ command: 'app_info', args: {} }]);
  });

  it('turns an error answer into a BackendError with its code', async () => {
    const e = env(() => ({ status: 400, body: '{"code":"invalid_input","message":"livekit_url: bad"}' }));
    const backend = new HttpBackend(e.env);
    const err = await backend.call('update_settings', { patch: { livekit_url: 'x' } }).catch((x: unknown) => x);
    expect(err).toBeInstanceOf(BackendError);
    expect((err as BackendError).code).toBe('invalid_input');
    expect((err as BackendError).message).toBe('livekit_url: bad');
  });

  it('reports an answer that is not JSON', async () => {
    const e = env(() => ({ status: 502, body: '<html>proxy</html>' }));
    const err = await new HttpBackend(e.env).call('app_info', {}).catch((x: unknown) => x);
    expect((err as BackendError).message).toContain('not JSON');
  });

  it('delivers events and reconnects with backoff', () => {
    const e = env(() => ({ status: 200, body: '{}' }));
    const backend = new HttpBackend(e.env);
    const states: string[] = [];
    backend.onConnection((s) => states.push(s));
    const seen: EventEnvelope[] = [];
    backend.subscribe((ev) => seen.push(ev));

    const first = FakeSocket.last!;
    expect(first.url).toBe('ws://127.0.0.1:7870/api/events');
    first.onopen!();
    first.onmessage!({ data: '{"topic":"doctor://finished","seq":1,"at_ms":5,"event":{"kind":"doctor_finished","summary":{"ok":1,"warn":0,"fail":0}}}' });
    first.onmessage!({ data: 'not json' });
    expect(seen.map((x) => x.topic)).toEqual(['doctor://finished']);

    first.onclose!();
    expect(states).toEqual(['connecting', 'connected', 'disconnected']);
    expect(e.timers).toHaveLength(1);
    e.timers[0]!();
    expect(FakeSocket.last).not.toBe(first);
    expect(states.at(-1)).toBe('connecting');
  });
});

describe('reconnectDelay', () => {
  it('doubles from 250 ms and stops at 5 s', () => {
    expect([0, 1, 2, 3, 4, 5, 10].map(reconnectDelay)).toEqual([250, 500, 1000, 2000, 4000, 5000, 5000]);
  });
});
