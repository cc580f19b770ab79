// Another screen readies the Talk screen for a talk (Rooms › Talk here): it leaves a
// hand-off here and switches to Talk, which takes it when it opens. Nothing starts by itself:
// the coach presses Start. Tested in handoff.test.ts.
import type { Route, TalkSetup } from './present';

/** What the Talk screen is handed: the route, and the room to join through LiveKit. */
export interface TalkHandoff {
  route: Route;
  /** '' = a new room. */
  room: string;
}

let pending: TalkHandoff | null = null;

/** Leaves a hand-off for the Talk screen (the latest one wins). */
export function handToTalk(handoff: TalkHandoff): void {
  pending = { ...handoff };
}

/** The hand-off left for the Talk screen, once: taking it clears it. */
export function takeTalkHandoff(): TalkHandoff | null {
  const taken = pending;
  pending = null;
  return taken;
}

/** The setup with a hand-off applied: the route and room change, the rest stays the coach's. */
export function withHandoff(setup: TalkSetup, handoff: TalkHandoff): TalkSetup {
  return { ...setup, route: handoff.route, room: handoff.route === 'livekit' ? handoff.room.trim() : setup.room };
}
