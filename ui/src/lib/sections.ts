// The app's sections, in navigation order. `ready` is false until a section has content;
// the frame then says so plainly instead of showing an empty page.

export type SectionId = 'stack' | 'talk' | 'exercises' | 'tests' | 'rooms' | 'settings';

export interface Section {
  id: SectionId;
  title: string;
  /** One line: what the section is for. */
  purpose: string;
  ready: boolean;
}

export const SECTIONS: readonly Section[] = [
  { id: 'stack', title: 'Stack', purpose: 'Launch, watch and repair the whole Eloquence stack.', ready: true },
  { id: 'talk', title: 'Talk', purpose: 'Talk to Marie with your microphone and see each turn’s latency.', ready: true },
  { id: 'exercises', title: 'Exercises', purpose: 'How complete every exercise of the Flutter app is, live as the code changes.', ready: true },
  { id: 'tests', title: 'Tests', purpose: 'Stream test suites through the real LiveKit server: live latency, reports and trends.', ready: true },
  { id: 'rooms', title: 'Rooms', purpose: 'LiveKit rooms, participants and their tracks; stream tests.', ready: true },
  { id: 'settings', title: 'Settings', purpose: 'Where Greenroom works, how it reaches LiveKit, your API keys, and this machine.', ready: true },
];

export const DEFAULT_SECTION: SectionId = 'stack';

/** The section named by a location hash such as `#/rooms`; the default for anything else. */
export function sectionFromHash(hash: string): SectionId {
  const id = hash.replace(/^#\/?/, '').split(/[/?]/)[0] ?? '';
  return SECTIONS.find((s) => s.id === id)?.id ?? DEFAULT_SECTION;
}

export function hashFor(id: SectionId): string {
  return `#/${id}`;
}

/** Alt+1 … Alt+6 switch sections; returns the section for a key event, or null. */
export function sectionForShortcut(e: { altKey: boolean; ctrlKey: boolean; metaKey: boolean; key: string }): SectionId | null {
  if (!e.altKey || e.ctrlKey || e.metaKey) return null;
  const index = Number.parseInt(e.key, 10) - 1;
  return Number.isInteger(index) ? (SECTIONS[index]?.id ?? null) : null;
}
