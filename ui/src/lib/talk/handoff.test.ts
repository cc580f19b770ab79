import { describe, expect, it } from 'vitest';
import { handToTalk, takeTalkHandoff, withHandoff } from './handoff';
import { DEFAULT_SETUP } from './present';

describe('the hand-off to the Talk screen', () => {
  it('is taken once, the latest winning', () => {
    expect(takeTalkHandoff()).toBeNull();
    handToTalk({ route: 'livekit', room: 'a' });
    handToTalk({ route: 'livekit', room: 'flutter-42' });
    expect(takeTalkHandoff()).toEqual({ route: 'livekit', room: 'flutter-42' });
    expect(takeTalkHandoff()).toBeNull();
  });

  it('sets the route and the room, and keeps the rest of the setup', () => {
    const setup = { ...DEFAULT_SETUP, exercise: 'entretien', mode: 'push_to_talk' as const, agentName: 'marie', room: 'old' };
    expect(withHandoff(setup, { route: 'livekit', room: ' flutter-42 ' })).toEqual({ ...setup, route: 'livekit', room: 'flutter-42' });
    expect(withHandoff(setup, { route: 'direct', room: 'ignored' })).toEqual({ ...setup, route: 'direct' });
  });
});
