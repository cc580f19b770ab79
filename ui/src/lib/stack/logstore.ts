// The log viewer's store: a bounded, merged list of lines with filters. Pure; tested.
import type { LogLevel, LogLine } from '../../generated/api';

export const MAX_LINES = 5000;

export interface LogFilter {
  /** Case-insensitive text to find; empty matches everything. */
  query: string;
  /** Only this service, or every one. */
  service: string | null;
  muted: Set<string>;
  levels: Set<LogLevel>;
}

export function emptyFilter(): LogFilter {
  return { query: '', service: null, muted: new Set(), levels: new Set(['error', 'warn', 'info', 'debug']) };
}

export class LogStore {
  lines: LogLine[] = [];

  /** Appends, keeping the newest {@link MAX_LINES}. */
  append(lines: LogLine[]): void {
    this.lines.push(...lines);
    if (this.lines.length > MAX_LINES) this.lines.splice(0, this.lines.length - MAX_LINES);
  }

  /** Replaces every line (a relayed stack's recent lines, read again), keeping the newest {@link MAX_LINES}. */
  replace(lines: LogLine[]): void {
    this.lines = lines.slice(-MAX_LINES);
  }

  visible(filter: LogFilter): LogLine[] {
    return filterLines(this.lines, filter);
  }
}

/** The lines a filter lets through, in order. */
export function filterLines(lines: LogLine[], filter: LogFilter): LogLine[] {
  const q = filter.query.toLowerCase();
  return lines.filter(
    (l) =>
      (filter.service === null || l.service === filter.service) &&
      !filter.muted.has(l.service) &&
      filter.levels.has(l.level) &&
      (q === '' || l.text.toLowerCase().includes(q)),
  );
}

/** A copy of `set` with `value` added, or removed when it was there. */
export function toggled<T>(set: ReadonlySet<T>, value: T): Set<T> {
  const next = new Set(set);
  if (next.has(value)) next.delete(value);
  else next.add(value);
  return next;
}

/** The text cut around each case-insensitive match of `query`, for highlighting. */
export function highlight(text: string, query: string): Array<{ text: string; match: boolean }> {
  if (!query) return [{ text, match: false }];
  const lower = text.toLowerCase();
  const q = query.toLowerCase();
  const parts: Array<{ text: string; match: boolean }> = [];
  let from = 0;
  for (let at = lower.indexOf(q); at >= 0; at = lower.indexOf(q, from)) {
    if (at > from) parts.push({ text: text.slice(from, at), match: false });
    parts.push({ text: text.slice(at, at + q.length), match: true });
    from = at + q.length;
  }
  if (from < text.length) parts.push({ text: text.slice(from), match: false });
  return parts;
}
