// The stream tests screen's logic: pure functions, tested in present.test.ts.
// The thresholds and the figures come from Rust (`metric_catalogue`, `LiveFigures`):
// nothing here holds a threshold or computes a percentile.
import type { Band, IceTransport, LatencyPath, LatencySample, Metric, MetricId, Rating, StreamTestRequest, Suite } from '../../generated/api';

/** The metric `id` of a catalogue (`undefined` while the catalogue is not loaded). */
export function metricById(catalogue: readonly Metric[] | null | undefined, id: MetricId): Metric | undefined {
  return catalogue?.find((m) => m.id === id);
}

/** Whether `value` falls in `band` of a metric going in `direction` (the Rust rule). */
function within(metric: Metric, band: Band, value: number): boolean {
  if (metric.direction === 'lower_is_better') return band.inclusive ? value <= band.up_to : value < band.up_to;
  return band.inclusive ? value >= band.up_to : value > band.up_to;
}

/**
 * The rating of `value` by the catalogue's rule: the first band (best first) it falls in,
 * `problem` past every band; `null` for a metric without bands, or none at all.
 */
export function rate(metric: Metric | undefined, value: number): Rating | null {
  if (!metric || metric.bands.length === 0) return null;
  return metric.bands.find((b) => within(metric, b, value))?.rating ?? 'problem';
}

/** A metric's bands in a line, e.g. `excellent < 100 ms · good ≤ 300 · acceptable ≤ 500 · problem`. */
export function bandsLegend(metric: Metric | undefined): string {
  if (!metric || metric.bands.length === 0) return '';
  const lower = metric.direction === 'lower_is_better';
  const unit = metric.unit === 'milliseconds' ? ' ms' : metric.unit === 'per_second' ? ' /s' : '';
  const value = (v: number) => (metric.unit === 'share' ? `${Number((v * 100).toPrecision(6))} %` : `${Number(v.toPrecision(6))}`);
  const parts = metric.bands.map((b, i) => {
    const op = lower ? (b.inclusive ? '≤' : '<') : b.inclusive ? '≥' : '>';
    return `${b.rating} ${op} ${value(b.up_to)}${i === 0 ? unit : ''}`;
  });
  return [...parts, 'problem'].join(' · ');
}

/** The badge class a rating is drawn with. */
export function ratingClass(rating: Rating | null | undefined): string {
  switch (rating) {
    case 'excellent':
    case 'good':
      return 'ok';
    case 'acceptable':
      return 'warn';
    case 'problem':
      return 'fail';
    default:
      return '';
  }
}

/** The latency of the last sample on `path`, or null before the first. */
export function lastLatency(samples: readonly LatencySample[], path: LatencyPath): number | null {
  for (let i = samples.length - 1; i >= 0; i--) if (samples[i]!.path === path) return samples[i]!.latency_ms;
  return null;
}

export interface PlotPoint {
  x: number;
  y: number;
  path: LatencyPath;
  ms: number;
  atMs: number;
}

export interface Plot {
  points: PlotPoint[];
  /** Y axis ticks: position and label (ms). */
  yTicks: Array<{ y: number; label: string }>;
  /** X axis ticks: position and label (seconds into the run). */
  xTicks: Array<{ x: number; label: string }>;
  /** Rating bands that fall inside the plotted range: top and bottom in pixels. */
  bands: Array<{ rating: Rating; top: number; bottom: number }>;
  maxMs: number;
}

/** A "nice" step (1, 2 or 5 × 10ⁿ) for about `count` ticks over `span`. */
export function niceStep(span: number, count: number): number {
  const raw = Math.max(span, 1e-9) / Math.max(count, 1);
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw);
  return step ?? 10 * magnitude;
}

/**
 * Latency over time in a `width` × `height` box: x is the time into the run, y the latency
 * from 0 to a nice ceiling above the highest sample (at least `minCeilingMs`, so a quiet
 * loopback run does not look alarming). The rating bands are `latency`'s (the catalogue's
 * latency metric, lower is better): none while it is not known.
 */
export function latencyPlot(samples: readonly LatencySample[], width: number, height: number, latency?: Metric, minCeilingMs = 50): Plot {
  const maxSample = samples.reduce((m, s) => Math.max(m, s.latency_ms), 0);
  const yStep = niceStep(Math.max(maxSample, minCeilingMs), 4);
  const maxMs = Math.ceil(Math.max(maxSample, minCeilingMs) / yStep) * yStep;
  const lastAt = samples.reduce((m, s) => Math.max(m, s.at_ms), 0);
  const spanMs = Math.max(lastAt, 1000);
  const x = (atMs: number) => (atMs / spanMs) * width;
  const y = (ms: number) => height - (Math.min(ms, maxMs) / maxMs) * height;
  const yTicks = [];
  for (let v = 0; v <= maxMs + 1e-9; v += yStep) yTicks.push({ y: y(v), label: `${Number(v.toPrecision(6))}` });
  const xStep = niceStep(spanMs / 1000, 6);
  const xTicks = [];
  for (let s = 0; s * 1000 <= spanMs + 1e-9; s += xStep) xTicks.push({ x: x(s * 1000), label: `${Number(s.toPrecision(6))} s` });
  const bands: Plot['bands'] = [];
  if (latency && latency.bands.length && latency.direction === 'lower_is_better') {
    let from = 0;
    for (const band of [...latency.bands, { up_to: Infinity, inclusive: false, rating: 'problem' as Rating }]) {
      if (from < maxMs && band.up_to > from) bands.push({ rating: band.rating, top: y(Math.min(band.up_to, maxMs)), bottom: y(from) });
      from = Math.max(from, band.up_to);
    }
  }
  return {
    points: samples.map((s) => ({ x: x(s.at_ms), y: y(s.latency_ms), path: s.path, ms: s.latency_ms, atMs: s.at_ms })),
    yTicks,
    xTicks,
    bands,
    maxMs,
  };
}

/** The form as the screen holds it: text from inputs, parsed on submit. */
export interface StreamForm {
  suite: Suite;
  durationSeconds: string;
  packets: string;
  intervalMs: string;
  publishers: string;
  subscribers: string;
  lossPercent: string;
  latencyMs: string;
  jitterMs: string;
  /** Drop all UDP both ways (a firewall): the run has to go over ICE-TCP. */
  blockUdp: boolean;
  transport: IceTransport;
  room: string;
}

export const DEFAULT_FORM: StreamForm = {
  suite: 'latency',
  durationSeconds: '',
  packets: '',
  intervalMs: '',
  publishers: '2',
  subscribers: '2',
  lossPercent: '0',
  latencyMs: '0',
  jitterMs: '0',
  blockUdp: false,
  transport: 'auto',
  room: '',
};

/** Which fields each suite reads (the others are hidden). */
export const SUITE_FIELDS: Record<Suite, ReadonlyArray<'durationSeconds' | 'packets' | 'intervalMs' | 'publishers' | 'subscribers'>> = {
  basic: ['durationSeconds'],
  stress: ['packets', 'intervalMs'],
  latency: ['packets'],
  load: ['publishers', 'subscribers', 'durationSeconds', 'intervalMs'],
};

/** What the suite does with its defaults, in a line. */
export const SUITE_HELP: Record<Suite, string> = {
  basic: 'French phrases (espeak-ng) every 2–4 s for a duration (default 30 s).',
  stress: 'N packets with an audio marker each, at an interval (default 50 × 500 ms).',
  latency: 'N short packets every 200 ms (default 20).',
  load: 'P publishers × S subscribers, a packet every interval for a duration (default 20 s, 500 ms).',
};

export type FormResult = { ok: true; request: StreamTestRequest } | { ok: false; field: keyof StreamForm; message: string };

function parseNumber(text: string, field: keyof StreamForm, what: string, min: number, max: number, integer: boolean): number | null | { field: keyof StreamForm; message: string } {
  const t = text.trim();
  if (t === '') return null;
  const n = Number(t);
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < min || n > max) {
    return { field, message: `${what} must be ${integer ? 'a whole number' : 'a number'} from ${min} to ${max}, not “${t}”` };
  }
  return n;
}

/** The request for a form, or the first field that is wrong and why (the backend checks again). */
export function requestFromForm(form: StreamForm): FormResult {
  const used = new Set(SUITE_FIELDS[form.suite]);
  const specs: Array<[keyof StreamForm, string, number, number, boolean]> = [
    ['durationSeconds', 'Duration', 1, 3600, false],
    ['packets', 'Packets', 1, 100000, true],
    ['intervalMs', 'Interval', 20, 60000, true],
    ['publishers', 'Publishers', 1, 400, true],
    ['subscribers', 'Subscribers', 1, 400, true],
    ['lossPercent', 'Loss', 0, 100, false],
    ['latencyMs', 'Added latency', 0, 10000, true],
    ['jitterMs', 'Jitter', 0, 10000, true],
  ];
  const values: Partial<Record<keyof StreamForm, number | null>> = {};
  for (const [field, what, min, max, integer] of specs) {
    const always = field === 'lossPercent' || field === 'latencyMs' || field === 'jitterMs';
    if (!always && !used.has(field as never)) {
      values[field] = null;
      continue;
    }
    const parsed = parseNumber(String(form[field]), field, what, min, max, integer);
    if (parsed !== null && typeof parsed === 'object') return { ok: false, ...parsed };
    values[field] = parsed;
  }
  if (form.blockUdp && form.transport === 'udp') {
    return { ok: false, field: 'transport', message: 'UDP is blocked: choose auto or TCP, or unblock UDP' };
  }
  if (form.suite === 'load' && (values.publishers ?? 2) * (values.subscribers ?? 2) > 400) {
    return { ok: false, field: 'subscribers', message: 'Publishers × subscribers must be at most 400' };
  }
  return {
    ok: true,
    request: {
      suite: form.suite,
      duration_seconds: values.durationSeconds ?? null,
      packets: values.packets ?? null,
      interval_ms: values.intervalMs ?? null,
      publishers: values.publishers ?? null,
      subscribers: values.subscribers ?? null,
      loss: (values.lossPercent ?? 0) / 100,
      latency_ms: values.latencyMs ?? 0,
      jitter_ms: values.jitterMs ?? 0,
      block_udp: form.blockUdp,
      transport: form.transport,
      room: form.room.trim() || null,
      config_file: null,
    },
  };
}

/** The transports a run's participants settled on, in a word: `udp`, `tcp`, `udp + tcp`. */
export function transportSummary(transports: ReadonlyArray<string>): string {
  const distinct = [...new Set(transports.filter((t) => t !== ''))].sort().reverse();
  return distinct.length ? distinct.join(' + ') : '—';
}

/** Milliseconds with one decimal under 100, whole above. */
export function ms(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  return value < 100 ? `${value.toFixed(1)} ms` : `${Math.round(value)} ms`;
}

/** Two latencies with one unit: `1.9 / 3.7 ms`. */
export function msPair(a: number | null | undefined, b: number | null | undefined): string {
  const bare = (v: number | null | undefined) => ms(v).replace(/ ms$/, '');
  return a === null || a === undefined ? '—' : `${bare(a)} / ${bare(b)} ms`;
}

export function percent(share: number | null | undefined): string {
  if (share === null || share === undefined || !Number.isFinite(share)) return '—';
  return `${(share * 100).toFixed(share < 0.1 ? 2 : 1)} %`;
}

/** Points of a small trend line (oldest left) of `values` in a `width` × `height` box. */
export function trendPoints(values: ReadonlyArray<number | null>, width: number, height: number): Array<{ x: number; y: number; value: number }> {
  const present = values.map((v, i) => ({ v, i })).filter((p): p is { v: number; i: number } => p.v !== null && Number.isFinite(p.v));
  const max = present.reduce((m, p) => Math.max(m, p.v), 0) || 1;
  const n = Math.max(values.length - 1, 1);
  return present.map((p) => ({ x: (p.i / n) * width, y: height - (p.v / max) * height, value: p.v }));
}
