// The streaming tests screen's logic: pure functions, tested in present.test.ts.
import type { IceTransport, LatencyPath, LatencySample, Rating, StreamTestRequest, Suite } from '../../generated/api';

/** The team's latency thresholds (ms): below 100 excellent, 100–300 good, 300–500 acceptable. */
export const LATENCY_BANDS: ReadonlyArray<{ upTo: number; rating: Rating }> = [
  { upTo: 100, rating: 'excellent' },
  { upTo: 300, rating: 'good' },
  { upTo: 500, rating: 'acceptable' },
];

export function rateLatency(ms: number): Rating {
  return LATENCY_BANDS.find((b) => ms < b.upTo)?.rating ?? 'problem';
}

/** The team's loss thresholds, on a share 0..1: below 1 % excellent, up to 5 % acceptable. */
export function rateLoss(share: number): Rating {
  const percent = share * 100;
  if (percent < 1) return 'excellent';
  if (percent <= 5) return 'acceptable';
  return 'problem';
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

/** Nearest-rank percentile of `values` (0 for none), as the Rust report computes it. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export interface PathStats {
  count: number;
  p50: number;
  p95: number;
  last: number | null;
}

/** Live figures per path from the samples so far. */
export function liveStats(samples: readonly LatencySample[], path: LatencyPath): PathStats {
  const values = samples.filter((s) => s.path === path).map((s) => s.latency_ms);
  return {
    count: values.length,
    p50: percentile(values, 50),
    p95: percentile(values, 95),
    last: values.length ? values[values.length - 1]! : null,
  };
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
 * loopback run does not look alarming).
 */
export function latencyPlot(samples: readonly LatencySample[], width: number, height: number, minCeilingMs = 50): Plot {
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
  let from = 0;
  for (const band of [...LATENCY_BANDS, { upTo: Infinity, rating: 'problem' as Rating }]) {
    if (from < maxMs) bands.push({ rating: band.rating, top: y(Math.min(band.upTo, maxMs)), bottom: y(from) });
    from = band.upTo;
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
