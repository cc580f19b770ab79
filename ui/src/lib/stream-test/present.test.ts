import { describe, expect, it } from 'vitest';
import type { LatencySample, Metric } from '../../generated/api';
import { DEFAULT_FORM, bandsLegend, lastLatency, latencyPlot, metricById, ms, msPair, niceStep, percent, rate, ratingClass, requestFromForm, transportSummary, trendPoints } from './present';

const sample = (at_ms: number, latency_ms: number, path: 'data' | 'audio' = 'data'): LatencySample => ({ path, at_ms, latency_ms });

// A catalogue as `metric_catalogue` sends it (the team's bands, written in Rust).
const CATALOGUE: Metric[] = [
  {
    id: 'latency',
    label: 'Latency',
    unit: 'milliseconds',
    direction: 'lower_is_better',
    bands: [
      { up_to: 100, inclusive: false, rating: 'excellent' },
      { up_to: 300, inclusive: true, rating: 'good' },
      { up_to: 500, inclusive: true, rating: 'acceptable' },
    ],
  },
  {
    id: 'packet_loss',
    label: 'Packet loss',
    unit: 'share',
    direction: 'lower_is_better',
    bands: [
      { up_to: 0.01, inclusive: false, rating: 'excellent' },
      { up_to: 0.05, inclusive: true, rating: 'acceptable' },
    ],
  },
  { id: 'jitter', label: 'Jitter', unit: 'milliseconds', direction: 'lower_is_better', bands: [] },
  {
    id: 'throughput',
    label: 'Throughput',
    unit: 'per_second',
    direction: 'higher_is_better',
    bands: [
      { up_to: 10, inclusive: true, rating: 'excellent' },
      { up_to: 5, inclusive: false, rating: 'good' },
    ],
  },
];
const LATENCY = metricById(CATALOGUE, 'latency')!;

describe('ratings follow the catalogue from Rust', () => {
  it('finds a metric by id, or none', () => {
    expect(metricById(CATALOGUE, 'packet_loss')?.label).toBe('Packet loss');
    expect(metricById(CATALOGUE, 'join_time')).toBeUndefined();
    expect(metricById(null, 'latency')).toBeUndefined();
  });
  it('latency: first band it falls in, inclusive bands include their bound', () => {
    expect([50, 99.9, 100, 299, 300, 300.1, 499, 500, 500.1, 2000].map((v) => rate(LATENCY, v))).toEqual([
      'excellent', 'excellent', 'good', 'good', 'good', 'acceptable', 'acceptable', 'acceptable', 'problem', 'problem',
    ]);
  });
  it('loss', () => {
    const loss = metricById(CATALOGUE, 'packet_loss');
    expect([0, 0.0099, 0.01, 0.03, 0.05, 0.051].map((v) => rate(loss, v))).toEqual(['excellent', 'excellent', 'acceptable', 'acceptable', 'acceptable', 'problem']);
  });
  it('higher is better mirrors the bands', () => {
    const throughput = metricById(CATALOGUE, 'throughput');
    expect([12, 10, 7, 5, 1].map((v) => rate(throughput, v))).toEqual(['excellent', 'excellent', 'good', 'problem', 'problem']);
  });
  it('a metric without bands, or no metric yet, is not rated', () => {
    expect(rate(metricById(CATALOGUE, 'jitter'), 1e9)).toBeNull();
    expect(rate(undefined, 50)).toBeNull();
  });
  it('legends', () => {
    expect(bandsLegend(LATENCY)).toBe('excellent < 100 ms · good ≤ 300 · acceptable ≤ 500 · problem');
    expect(bandsLegend(metricById(CATALOGUE, 'packet_loss'))).toBe('excellent < 1 % · acceptable ≤ 5 % · problem');
    expect(bandsLegend(metricById(CATALOGUE, 'throughput'))).toBe('excellent ≥ 10 /s · good > 5 · problem');
    expect(bandsLegend(metricById(CATALOGUE, 'jitter'))).toBe('');
    expect(bandsLegend(undefined)).toBe('');
  });
  it('classes', () => {
    expect(['excellent', 'good', 'acceptable', 'problem', null].map((r) => ratingClass(r as never))).toEqual(['ok', 'ok', 'warn', 'fail', '']);
  });
});

describe('the last latency per path', () => {
  it('is the last sample of that path', () => {
    const s = [sample(0, 2), sample(200, 4), sample(220, 45, 'audio'), sample(400, 3)];
    expect(lastLatency(s, 'data')).toBe(3);
    expect(lastLatency(s, 'audio')).toBe(45);
    expect(lastLatency([], 'data')).toBeNull();
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
    const plot = latencyPlot([sample(0, 10), sample(5000, 120), sample(10000, 40)], 600, 200, LATENCY);
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
    expect(latencyPlot([sample(100, 1.5)], 100, 100, LATENCY).maxMs).toBe(60);
    const empty = latencyPlot([], 100, 100);
    expect(empty.points).toEqual([]);
    expect(empty.yTicks.length).toBeGreaterThan(1);
  });
  it('a slow sample raises the ceiling and brings every band into view', () => {
    const plot = latencyPlot([sample(0, 10), sample(100, 900)], 100, 100, LATENCY);
    expect(plot.maxMs).toBe(1000);
    expect(plot.points[1]!.y).toBeCloseTo(10);
    expect(plot.bands.map((b) => b.rating)).toEqual(['excellent', 'good', 'acceptable', 'problem']);
    // The bands are the catalogue's: 100, 300 and 500 ms on a 0–1000 ms axis 100 px high.
    expect(plot.bands.map((b) => [b.bottom, b.top])).toEqual([[100, 90], [90, 70], [70, 50], [50, 0]]);
  });
  it('draws no band before the catalogue is known', () => {
    expect(latencyPlot([sample(0, 10), sample(100, 900)], 100, 100).bands).toEqual([]);
  });
});

describe('the form', () => {
  it('sends only what the suite reads, loss as a share', () => {
    const r = requestFromForm({ ...DEFAULT_FORM, suite: 'stress', packets: '30', intervalMs: '100', publishers: '9', lossPercent: '5', room: '  ' });
    expect(r).toEqual({
      ok: true,
      request: { suite: 'stress', duration_seconds: null, packets: 30, interval_ms: 100, publishers: null, subscribers: null, loss: 0.05, latency_ms: 0, jitter_ms: 0, block_udp: false, transport: 'auto', room: null, config_file: null },
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
