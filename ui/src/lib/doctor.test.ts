import { describe, expect, it } from 'vitest';
import type { CheckResult } from '../generated/api';
import { installSteps, summaryLine } from './doctor';

const missing: CheckResult = {
  id: 'redis-server',
  name: 'Redis',
  purpose: 'cache',
  status: 'fail',
  detail: 'not found',
  install: { debian: 'sudo apt install redis-server', windows: 'winget install Memurai.MemuraiDeveloper' },
};

describe('doctor presentation', () => {
  it('puts the current platform first', () => {
    expect(installSteps(missing, 'windows').map((s) => s.platform)).toEqual(['Windows 11', 'Debian']);
    expect(installSteps(missing, 'linux')[0]!.step).toBe('sudo apt install redis-server');
    expect(installSteps({ ...missing, status: 'ok', install: null }, 'linux')).toEqual([]);
  });
  it('summarises counts in words', () => {
    expect(summaryLine({ ok: 6, warn: 1, fail: 0 })).toBe('6 OK · 1 warning');
    expect(summaryLine({ ok: 3, warn: 2, fail: 3 })).toBe('3 OK · 2 warnings · 3 missing');
  });
});
