import { describe, expect, it } from 'vitest';
import type { LogLine } from '../../generated/api';
import { LogStore, MAX_LINES, emptyFilter, highlight, toggled } from './logstore';

const line = (service: string, text: string, level: LogLine['level'] = 'info'): LogLine => ({ service, text, level, at_ms: 0 });

describe('LogStore', () => {
  it('replaces its lines with a relayed stack\'s recent ones, newest kept', () => {
    const store = new LogStore();
    store.append([line('a', 'old')]);
    store.replace(Array.from({ length: MAX_LINES + 5 }, (_, i) => line('b', String(i))));
    expect(store.lines.length).toBe(MAX_LINES);
    expect(store.lines[0]?.text).toBe('5');
    expect(store.lines.some((l) => l.text === 'old')).toBe(false);
  });

  it('filters by service, mute, level and text', () => {
    const store = new LogStore();
    store.append([line('redis', 'Ready to accept'), line('api', 'ERROR boom', 'error'), line('api', 'GET /health')]);
    const f = emptyFilter();
    expect(store.visible(f)).toHaveLength(3);
    expect(store.visible({ ...f, service: 'api' })).toHaveLength(2);
    expect(store.visible({ ...f, muted: new Set(['api']) }).map((l) => l.service)).toEqual(['redis']);
    expect(store.visible({ ...f, levels: new Set(['error']) }).map((l) => l.text)).toEqual(['ERROR boom']);
    expect(store.visible({ ...f, query: 'HEALTH' }).map((l) => l.text)).toEqual(['GET /health']);
  });
  it('keeps only the newest lines', () => {
    const store = new LogStore();
    store.append(Array.from({ length: MAX_LINES + 10 }, (_, i) => line('a', String(i))));
    expect(store.lines).toHaveLength(MAX_LINES);
    expect(store.lines[0]!.text).toBe('10');
  });
});

describe('highlight', () => {
  it('cuts around every case-insensitive match', () => {
    expect(highlight('Ready ready', 'READY')).toEqual([
      { text: 'Ready', match: true },
      { text: ' ', match: false },
      { text: 'ready', match: true },
    ]);
    expect(highlight('abc', '')).toEqual([{ text: 'abc', match: false }]);
    expect(highlight('abc', 'x')).toEqual([{ text: 'abc', match: false }]);
  });
});

describe('toggled', () => {
  it('adds and removes without touching the original', () => {
    const start = new Set(['a']);
    expect([...toggled(start, 'b')]).toEqual(['a', 'b']);
    expect([...toggled(start, 'a')]).toEqual([]);
    expect([...start]).toEqual(['a']);
  });
});
