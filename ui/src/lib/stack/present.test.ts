import { describe, expect, it } from 'vitest';
import type { ServiceStatus, StackView } from '../../generated/api';
import { colourFor, formatBytes, formatUptime, scoreTone, serviceTone, sparklinePoints, stateTone, withStatus, withSummary } from './present';

function svc(id: string, state: ServiceStatus['state'], critical = false): ServiceStatus {
  return {
    id, kind: 'process', state, critical, group: 'principal', pid: null, ports: [], restarts: 0, started_at_ms: null,
    ready_after_ms: null, last_exit_code: null, last_probe: null, latencies_ms: [], breaker: 'closed', message: '',
    attached: false, cpu_percent: null, memory_bytes: null, container: null,
  };
}

describe('stack presentation', () => {
  it('maps states to tones', () => {
    expect(['running', 'unhealthy', 'failed', 'starting', 'stopped'].map((s) => stateTone(s as ServiceStatus['state']))).toEqual(['ok', 'warn', 'fail', 'busy', 'idle']);
    expect([95, 70, 10].map(scoreTone)).toEqual(['ok', 'warn', 'fail']);
  });
  it('formats uptime and bytes', () => {
    expect(formatUptime(3_400)).toBe('3 s');
    expect(formatUptime(245_000)).toBe('4 min 05 s');
    expect(formatUptime(7_620_000)).toBe('2 h 07 min');
    expect(formatUptime(100_800_000)).toBe('1 d 4 h');
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(5 * 1024 * 1024)).toBe('5.0 MiB');
    expect(formatBytes(300 * 1024 * 1024)).toBe('300 MiB');
  });
  it('draws sparklines within their box', () => {
    expect(sparklinePoints([], 100, 20)).toBe('');
    expect(sparklinePoints([5], 100, 20)).toBe('50.0,19.0');
    const pts = sparklinePoints([1, 3, 2], 100, 20).split(' ');
    expect(pts).toEqual(['0.0,19.0', '50.0,1.0', '100.0,10.0']);
  });
  it('merges a status event into the view', () => {
    const view: StackView = {
      source: { kind: 'sandbox', files: [], description: 'd' },
      status: { name: 's', services: [svc('a', 'stopped', true), svc('b', 'stopped')], summary: { score: 0, architecture: 'degraded', healthy: 0, total: 2, started: false }, machine: null },
      notes: [],
      attached_to: null,
      also_running: [],
    };
    const next = withStatus(view, svc('a', 'running', true));
    expect(next.status.services.map((s) => s.state)).toEqual(['running', 'stopped']);
    expect(view.status.services[0]!.state).toBe('stopped');
    const summed = withSummary(next, { score: 70, architecture: 'degraded', healthy: 1, total: 2, started: true });
    expect(summed.status.summary.score).toBe(70);
    expect(summed.status.services).toBe(next.status.services);
  });
  it('gives each service a stable colour', () => {
    const ids = ['a', 'b'];
    expect(colourFor('b', ids)).toBe(colourFor('b', ids));
    expect(colourFor('a', ids)).not.toBe(colourFor('b', ids));
  });
});

describe('completed services', () => {
  it('a server (with ports) that exited is not shown green', () => {
    const job = svc('migrate', 'completed');
    const server = { ...svc('livekit', 'completed'), ports: ['7880'] };
    expect(serviceTone(server)).toBe('idle');
    expect(serviceTone(job)).toBe('ok');
  });
});
