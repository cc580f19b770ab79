// How the Stack screen presents services: pure functions, tested in present.test.ts.
import type { ServiceState, ServiceStatus, StackSummary, StackView } from '../../generated/api';

export type Tone = 'ok' | 'warn' | 'fail' | 'idle' | 'busy';

export const STATE_LABEL: Record<ServiceState, string> = {
  stopped: 'Stopped',
  starting: 'Starting',
  running: 'Healthy',
  unhealthy: 'Unhealthy',
  backing_off: 'Restarting',
  stopping: 'Stopping',
  completed: 'Done',
  failed: 'Failed',
  disabled: 'Disabled',
};

/** The tone of a service: a server (with ports) that exited is idle, not green. */
export function serviceTone(s: ServiceStatus): Tone {
  return s.state === 'completed' && s.ports.length > 0 ? 'idle' : stateTone(s.state);
}

export function stateTone(state: ServiceState): Tone {
  switch (state) {
    case 'running':
    case 'completed':
      return 'ok';
    case 'unhealthy':
    case 'backing_off':
      return 'warn';
    case 'failed':
      return 'fail';
    case 'starting':
    case 'stopping':
      return 'busy';
    default:
      return 'idle';
  }
}

/** Green at 90+, amber from 60, red below. */
export function scoreTone(score: number): Tone {
  if (score >= 90) return 'ok';
  if (score >= 60) return 'warn';
  return 'fail';
}

/** `3 s`, `4 min 05 s`, `2 h 07 min`, `3 d 4 h`. */
export function formatUptime(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, '0')} s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h} h ${String(m % 60).padStart(2, '0')} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value < 10 && unit > 0 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

/** SVG polyline points for values in a w×h box (min at the bottom, max at the top). */
export function sparklinePoints(values: number[], width: number, height: number): string {
  if (values.length === 0) return '';
  const max = Math.max(...values);
  const min = Math.min(...values);
  const span = max - min || 1;
  const step = values.length > 1 ? width / (values.length - 1) : 0;
  return values
    .map((v, i) => {
      const x = values.length > 1 ? i * step : width / 2;
      const y = height - 1 - ((v - min) / span) * (height - 2);
      return `${x.toFixed(1)},${y.toFixed(1)}`;
    })
    .join(' ');
}

/** The view with one service's status replaced (or added), keeping the order. The score
 *  and the counts come from the backend's `stack://summary` events ({@link withSummary}). */
export function withStatus(view: StackView, status: ServiceStatus): StackView {
  const services = view.status.services.some((s) => s.id === status.id)
    ? view.status.services.map((s) => (s.id === status.id ? status : s))
    : [...view.status.services, status];
  return { ...view, status: { ...view.status, services } };
}

export function withSummary(view: StackView, summary: StackSummary): StackView {
  return { ...view, status: { ...view.status, summary } };
}

/** A stable colour per service, for tiles and merged logs. */
export const SERVICE_COLOURS = ['#5cc8ff', '#f7a35c', '#b48cff', '#7ee081', '#ff7eb6', '#f4d35e', '#63e6be', '#ff8f70'];

export function colourFor(id: string, ids: string[]): string {
  const index = ids.indexOf(id);
  return SERVICE_COLOURS[(index < 0 ? 0 : index) % SERVICE_COLOURS.length]!;
}
