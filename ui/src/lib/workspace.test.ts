import { describe, expect, it } from 'vitest';
import type { Backend } from './backend/backend';
import { BackendError } from './backend/backend';
import { folderName, looksAbsolute, saveSettings, verdictTone } from './workspace';

function backendAnswering(answers: ((args: unknown) => unknown)[]): Backend & { calls: unknown[] } {
  const calls: unknown[] = [];
  return {
    kind: 'http',
    calls,
    async call(_command: string, args: unknown) {
      calls.push(args);
      const next = answers.shift();
      if (!next) throw new Error('unexpected call');
      return next(args);
    },
    subscribe: () => () => {},
    onConnection: () => () => {},
  } as unknown as Backend & { calls: unknown[] };
}

describe('workspace', () => {
  it('names folders and recognises absolute paths on both platforms', () => {
    expect(folderName('/home/ana/eloquence/')).toBe('eloquence');
    expect(folderName('C:\\Users\\ana\\eloquence')).toBe('eloquence');
    expect(looksAbsolute('/home/ana')).toBe(true);
    expect(looksAbsolute('C:\\Users')).toBe(true);
    expect(looksAbsolute('\\\\server\\share')).toBe(true);
    expect(looksAbsolute('eloquence')).toBe(false);
    expect(verdictTone('checkout')).toBe('ok');
    expect(verdictTone('partial')).toBe('warn');
    expect(verdictTone('missing')).toBe('fail');
  });

  it('asks about the running stack on a conflict and sends the answer', async () => {
    const saved = { workspace: '/w' };
    const backend = backendAnswering([
      () => {
        throw new BackendError('conflict', 'the sandbox still runs 2 service(s)');
      },
      () => saved,
    ]);
    const asked: string[] = [];
    const result = await saveSettings(backend, { workspace: '/w' }, async (m) => {
      asked.push(m);
      return 'keep';
    });
    expect(result).toBe(saved);
    expect(asked).toEqual(['the sandbox still runs 2 service(s)']);
    expect(backend.calls).toEqual([{ patch: { workspace: '/w' } }, { patch: { workspace: '/w', running_stack: 'keep' } }]);
  });

  it('saves nothing when the person cancels, and passes other errors on', async () => {
    const backend = backendAnswering([
      () => {
        throw new BackendError('conflict', 'runs');
      },
    ]);
    expect(await saveSettings(backend, { workspace: '/w' }, async () => null)).toBeNull();
    expect(backend.calls).toHaveLength(1);
    const failing = backendAnswering([
      () => {
        throw new BackendError('invalid_input', 'workspace: /nope does not exist');
      },
    ]);
    await expect(saveSettings(failing, { workspace: '/nope' }, async () => 'stop')).rejects.toThrow('/nope does not exist');
  });
});
