import { describe, expect, it } from 'vitest';
import type { LatencySample } from '../../generated/api';
import { DEFAULT_FORM, latencyPlot, liveStats, ms, msPair, niceStep, percent, percentile, rateLatency, rateLoss, ratingClass, requestFromForm, transportSummary, trendPoints } from './present';

const sample = (at_ms: number, latency_ms: number, path: 'data' | 'audio' = 'data'): LatencySample => ({ path, at_ms, latency_ms });

describe('ratings follow the team thresholds', () => {
  it('latency', () => {
    expect([50, 99.9, 100, 299, 300, 499, 500, 2000].map(rateLatency)).toEqual(['excellent', 'excellent', 'good', 'good', 'acceptable', 'acceptable', 'problem', 'problem']);
  });
  it('loss', () => {
    expect([0, 0.0099, 0.01, 0.05, 0.051].map(rateLoss)).toEqual(['excellent', 'excellent', 'acceptable', 'acceptable', 'problem']);
  });
  it('classes', () => {
    expect(['excellent', 'good', 'acceptable', 'problem', null].map((r) => ratingClass(r as never))).toEqual(['ok', 'ok', 'warn', 'fail', '']);
  });
});

describe('percentiles are nearest-rank, like the Rust report', () => {
  it('picks ranks', () => {
    const values = Array.from({ length: 20 }, (_, i) => i + 1);
    expect(percentile(values, 50)).toBe(10);
    expect(percentile(values, 95)).toBe(19);
    expect(percentile(values, 99)).toBe(20);
    expect(percentile([], 50)).toBe(0);
    expect(percentile([7], 95)).toBe(7);
  });
  it('live stats per path', () => {
    const s = [sample(0, 2), sample(200, 4), sample(220, 45, 'audio'), sample(400, 3)];
    expect(liveStats(s, 'data')).toEqual({ count: 3, p50: 3, p95: 4, last: 3 });
    expect(liveStats(s, 'audio')).toEqual({ count: 1, p50: 45, p95: 45, last: 45 });
  });
});

describe('the latency plot', () => {
  it('nice steps are 1, 2 or 5 times a power of ten', () => {
    expect(niceStep(50, 4)).toBe(20);
    expect(niceStep(730, 4)).toBe(200);
    expect(niceStep(4, 6)).toBe(1);
    expect(niceStep(0.3, 3)).toBeCloseTo(0.1);
  });
  it('maps time to x and latency to y, with a ceiling above the highest sample', () => {
    const plot = latencyPlot([sample(0, 10), sample(5000, 120), sample(10000, 40)], 600, 200);
    expect(plot.maxMs).toBe(150);
    expect(plot.points.map((p) => Math.round(p.x))).toEqual([0, 300, 600]);
    expect(plot.points[1]!.y).toBeCloseTo(200 - (120 / 150) * 200);
    expect(plot.yTicks.map((t) => t.label)).toEqual(['0', '50', '100', '150']);
    expect(plot.xTicks[0]!.label).toBe('0 s');
    expect(plot.xTicks.at(-1)!.label).toBe('10 s');
    // Below 100 ms excellent, 100–150 good; the bands above the ceiling are left out.
    expect(plot.bands.map((b) => b.rating)).toEqual(['excellent', 'good']);
    expect(plot.bands[1]!.top).toBe(0);
  });
  it('a quiet run keeps a 50 ms ceiling and an empty run draws no point', () => {
    expect(latencyPlot([sample(100, 1.5)], 100, 100).maxMs).toBe(60);
    const empty = latencyPlot([], 100, 100);
    expect(empty.points).toEqual([]);
    expect(empty.yTicks.length).toBeGreaterThan(1);
  });
  it('a slow sample raises the ceiling and brings every band into view', () => {
    const plot = latencyPlot([sample(0, 10), sample(100, 900)], 100, 100);
    expect(plot.maxMs).toBe(1000);
    expect(plot.points[1]!.y).toBeCloseTo(10);
    expect(plot.bands.map((b) => b.rating)).toEqual(['excellent', 'good', 'acceptable', 'problem']);
  });
});

describe('the form', () => {
  it('sends only what the suite reads, loss as a share', () => {
    const r = requestFromForm({ ...DEFAULT_FORM, suite: 'stress', packets: '30', intervalMs: '100', publishers: '9', lossPercent: '5', room: '  ' });
    expect(r).toEqual({
      ok: true,
      request: { suite: 'stress', duration_seconds: null, packets: 30, interval_ms: 100, publishers: null, subscribers: null, loss: 0.05, latency_ms: 0, jitter_ms: 0, block_udp: false, transport: 'auto', room: null },
    });
  });
  it('sends the firewall and the transport, and refuses UDP only with UDP blocked', () => {
    const r = requestFromForm({ ...DEFAULT_FORM, blockUdp: true });
    expect(r).toMatchObject({ ok: true, request: { block_udp: true, transport: 'auto' } });
    expect(requestFromForm({ ...DEFAULT_FORM, transport: 'tcp' })).toMatchObject({ ok: true, request: { block_udp: false, transport: 'tcp' } });
    expect(requestFromForm({ ...DEFAULT_FORM, blockUdp: true, transport: 'udp' })).toMatchObject({ ok: false, field: 'transport' });
  });
  it('names the wrong field', () => {
    expect(requestFromForm({ ...DEFAULT_FORM, packets: '0' })).toMatchObject({ ok: false, field: 'packets' });
    expect(requestFromForm({ ...DEFAULT_FORM, packets: '2.5' })).toMatchObject({ ok: false, field: 'packets' });
    expect(requestFromForm({ ...DEFAULT_FORM, lossPercent: '120' })).toMatchObject({ ok: false, field: 'lossPercent' });
    expect(requestFromForm({ ...DEFAULT_FORM, suite: 'stress', intervalMs: '5' })).toMatchObject({ ok: false, field: 'intervalMs' });
    expect(requestFromForm({ ...DEFAULT_FORM, suite: 'load', publishers: '30', subscribers: '30' })).toMatchObject({ ok: false, field: 'subscribers' });
  });
  it('ignores fields the suite does not read, even when wrong', () => {
    expect(requestFromForm({ ...DEFAULT_FORM, suite: 'latency', intervalMs: 'x' }).ok).toBe(true);
  });
});

describe('transports', () => {
  it('says which transports a run used, once each', () => {
    expect(transportSummary(['udp', 'udp'])).toBe('udp');
    expect(transportSummary(['tcp', 'udp', 'tcp'])).toBe('udp + tcp');
    expect(transportSummary([])).toBe('—');
    expect(transportSummary(['', ''])).toBe('—');
  });
});

describe('formatting and trends', () => {
  it('ms and percent', () => {
    expect([ms(1.234), ms(123.4), ms(null), ms(Number.NaN)]).toEqual(['1.2 ms', '123 ms', '—', '—']);
    expect([msPair(1.94, 3.71), msPair(43.8, 120.2), msPair(null, null)]).toEqual(['1.9 / 3.7 ms', '43.8 / 120 ms', '—']);
    expect([percent(0), percent(0.0123), percent(0.25), percent(null)]).toEqual(['0.00 %', '1.23 %', '25.0 %', '—']);
  });
  it('trend points skip missing values and keep their place', () => {
    const pts = trendPoints([2, null, 4], 100, 10);
    expect(pts).toEqual([
      { x: 0, y: 5, value: 2 },
      { x: 100, y: 0, value: 4 },
    ]);
  });
});
