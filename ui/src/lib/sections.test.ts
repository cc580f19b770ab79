import { describe, expect, it } from 'vitest';
import { SECTIONS, hashFor, sectionForShortcut, sectionFromHash } from './sections';

describe('sections', () => {
  it('has the six capabilities, with unique ids', () => {
    expect(SECTIONS.map((s) => s.title)).toEqual(['Stack', 'Talk', 'Exercises', 'Tests', 'Rooms', 'Settings']);
    expect(new Set(SECTIONS.map((s) => s.id)).size).toBe(SECTIONS.length);
  });
  it('reads hashes, falling back to the default', () => {
    expect(sectionFromHash('#/rooms')).toBe('rooms');
    expect(sectionFromHash('#settings')).toBe('settings');
    expect(sectionFromHash('#/settings/doctor')).toBe('settings');
    expect(sectionFromHash('')).toBe('stack');
    expect(sectionFromHash('#/nope')).toBe('stack');
    for (const s of SECTIONS) expect(sectionFromHash(hashFor(s.id))).toBe(s.id);
  });
  it('maps Alt+digit to sections and ignores other keys', () => {
    const key = (k: string, mods: Partial<{ altKey: boolean; ctrlKey: boolean; metaKey: boolean }> = {}) =>
      sectionForShortcut({ altKey: true, ctrlKey: false, metaKey: false, key: k, ...mods });
    expect(key('1')).toBe('stack');
    expect(key('6')).toBe('settings');
    expect(key('7')).toBeNull();
    expect(key('a')).toBeNull();
    expect(key('1', { altKey: false })).toBeNull();
    expect(key('1', { ctrlKey: true })).toBeNull();
  });
});
