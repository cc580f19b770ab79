// Dev-only harness (see talk-harness.html): the real App with a backend that answers from
// fixtures and replays a made-up talk. Nothing here ships: the build only takes index.html.
import { mount } from 'svelte';
import '../src/app.css';
import App from '../src/App.svelte';
import type { Backend, ConnectionState } from '../src/lib/backend';
import { BackendError } from '../src/lib/backend/backend';
import type { AgentPresence, CommandArgs, CommandName, CommandResults, EventEnvelope, LivekitReport, Segment, SegmentKind, TalkEvent, TalkReport, TalkSnapshot, TalkState, TurnReport } from '../src/generated/api';

const params = new URLSearchParams(window.location.search);
/**
 * `direct` (the default), `livekit` (Marie's agent joins and talks), `livekit-left` (it leaves
 * after the first turn and comes back) or `livekit-missing` (it never comes).
 */
const SCENARIO = params.get('scenario') ?? 'direct';
const LIVEKIT = SCENARIO.startsWith('livekit');
const SPEED = Number(params.get('speed') ?? '1') || 1;
const UNTIL = params.has('until') ? Number(params.get('until')) : Infinity;
/**
 * `?attach=<session ms>`: the talk was started elsewhere (the CLI, or before a reload) and the
 * screen opens that far into it: talk_current tells what came before, the rest streams.
 */
const ATTACH = params.has('attach') ? Number(params.get('attach')) || 0 : null;
/** LiveKit: how long the session lets Marie's agent take (`?agent_timeout=<s>`; the events say it). */
const AGENT_TIMEOUT_MS = (Number(params.get('agent_timeout') ?? '10') || 10) * 1000;
const AGENT_TIMEOUT_S = AGENT_TIMEOUT_MS / 1000;
const SESSION = '20261202-101500-042';

const seg = (...ms: number[]): Segment[] =>
  (['end_of_utterance', 'stt', 'llm_first_token', 'llm_first_sentence', 'tts_first_byte', 'tts_rest', 'playback_start', 'overhead'] as const).map((kind, i) => ({ kind, ms: ms[i] ?? 0 }));

function turn(index: number, started: number, learner: string, marie: string, segments: Segment[], over: Partial<TurnReport> = {}): TurnReport {
  const total = segments.reduce((s, x) => s + x.ms, 0);
  return {
    index, started_ms: started, learner_text: learner, marie_text: marie, utterance_ms: 2100, stt_confidence: 0.92,
    interrupted: false, barge_in_stop_ms: null, error: null, marks: [], segments, time_to_first_audio_ms: total,
    llm_total_ms: 900, overhead_ms: segments.find((s) => s.kind === 'overhead')?.ms ?? 0, playback_ms: 2400, ...over,
  };
}

const OPENING = 'Bonjour ! Je suis Marie, votre coach. De quoi aimeriez-vous parler aujourd’hui ?';
const TURNS: TurnReport[] = [
  turn(0, 3000, 'Bonjour Marie, je voudrais préparer un entretien d’embauche.', 'Excellente idée ! Pour quel poste vous présentez-vous ? Parlez-moi un peu de votre parcours.', seg(800, 310, 240, 120, 160, 30, 22, 4.2)),
  turn(1, 11000, 'Pour un poste de chef de projet dans une agence.', 'Très bien. Qu’est-ce qui vous attire dans ce poste, et', seg(800, 280, 520, 210, 340, 45, 25, 6.8), { interrupted: true, barge_in_stop_ms: 95 }),
  turn(2, 18000, '', '', [{ kind: 'end_of_utterance', ms: 800 }, { kind: 'overhead', ms: 2.1 }], {
    time_to_first_audio_ms: null, llm_total_ms: null, playback_ms: null,
    error: { service: 'stt', url: 'http://127.0.0.1:8002/transcribe', tag: 'timeout', message: 'the speech-to-text service at http://127.0.0.1:8002/transcribe took longer than 15000 ms; the turn was abandoned' },
  }),
  turn(3, 23000, 'J’aime coordonner les équipes et tenir les délais.', 'C’est un vrai atout. Pouvez-vous me donner un exemple précis où vous l’avez fait ?', seg(800, 295, 260, 140, 150, 28, 20, 3.9)),
];
const SUMMARY = { turns: 4, completed: 2, interrupted: 1, failed: 1, time_to_first_audio_p50_ms: TURNS[0]!.time_to_first_audio_ms, time_to_first_audio_p95_ms: TURNS[1]!.time_to_first_audio_ms, overhead_p50_ms: 4.2, overhead_max_ms: 6.8 };

/** The session as it would stream: [session ms, event]. */
function timeline(): Array<[number, TalkEvent]> {
  if (SCENARIO === 'livekit') return agentTimeline();
  if (SCENARIO === 'livekit-left') return leftTimeline();
  if (SCENARIO === 'livekit-missing') return missingTimeline();
  return directTimeline();
}

function directTimeline(): Array<[number, TalkEvent]> {
  const out: Array<[number, TalkEvent]> = [];
  const state = (at: number, s: TalkState, t: number | null = null) => out.push([at, { type: 'state', state: s, turn: t, at_ms: at }]);
  const levels = (side: 'learner' | 'marie', from: number, to: number) => {
    for (let at = from; at < to; at += 67) {
      const rms = -34 + 14 * Math.sin(at / 180) * Math.sin(at / 530) - 6 * Math.random();
      out.push([at, { type: 'level', side, rms_dbfs: rms, peak_dbfs: rms + 9, at_ms: at }]);
    }
  };
  const stream = (t: number, from: number, text: string) => {
    const words = text.split(' ');
    words.forEach((_, i) => out.push([from + i * 70, { type: 'text', turn: t, side: 'marie', text: words.slice(0, i + 1).join(' '), is_final: false }]));
    return from + words.length * 70;
  };
  state(0, 'speaking');
  out.push([5, { type: 'text', turn: null, side: 'marie', text: OPENING, is_final: true }]);
  levels('marie', 300, 2500);
  state(2600, 'listening');
  // Turn 1.
  state(3000, 'learner_speaking');
  levels('learner', 3000, 5200);
  state(6000, 'end_of_speech');
  state(6010, 'transcribing', 0);
  out.push([6320, { type: 'text', turn: 0, side: 'learner', text: TURNS[0]!.learner_text, is_final: true }]);
  state(6330, 'thinking', 0);
  let end = stream(0, 6570, TURNS[0]!.marie_text);
  state(6900, 'speaking', 0);
  levels('marie', 6900, 9800);
  out.push([end + 10, { type: 'text', turn: 0, side: 'marie', text: TURNS[0]!.marie_text, is_final: true }]);
  out.push([9900, { type: 'turn', turn: TURNS[0]! }]);
  state(9900, 'listening');
  // Turn 2, interrupted.
  out.push([10400, { type: 'notice', level: 'warning', message: 'the default microphone changed: now “USB headset”', service: null }]);
  state(11000, 'learner_speaking');
  levels('learner', 11000, 12600);
  state(13400, 'end_of_speech');
  state(13410, 'transcribing', 1);
  out.push([13690, { type: 'text', turn: 1, side: 'learner', text: TURNS[1]!.learner_text, is_final: true }]);
  state(13700, 'thinking', 1);
  stream(1, 14220, TURNS[1]!.marie_text);
  state(14650, 'speaking', 1);
  levels('marie', 14650, 16000);
  state(16000, 'learner_speaking');
  out.push([16100, { type: 'turn', turn: TURNS[1]! }]);
  levels('learner', 16000, 17200);
  // Turn 3: speech-to-text times out.
  state(18000, 'end_of_speech');
  state(18010, 'transcribing', 2);
  out.push([21000, { type: 'notice', level: 'error', message: TURNS[2]!.error!.message, service: 'stt' }]);
  out.push([21010, { type: 'turn', turn: TURNS[2]! }]);
  state(21010, 'listening');
  out.push([22400, { type: 'notice', level: 'info', message: 'nothing was understood in that utterance; Marie waits for the next one', service: null }]);
  // Turn 4.
  state(23000, 'learner_speaking');
  levels('learner', 23000, 25000);
  state(25800, 'end_of_speech');
  state(25810, 'transcribing', 3);
  out.push([26100, { type: 'text', turn: 3, side: 'learner', text: TURNS[3]!.learner_text, is_final: true }]);
  state(26110, 'thinking', 3);
  end = stream(3, 26370, TURNS[3]!.marie_text);
  state(26700, 'speaking', 3);
  levels('marie', 26700, 29500);
  out.push([end + 10, { type: 'text', turn: 3, side: 'marie', text: TURNS[3]!.marie_text, is_final: true }]);
  out.push([29600, { type: 'turn', turn: TURNS[3]! }]);
  state(29600, 'listening');
  state(31000, 'ended');
  out.push([31005, { type: 'ended', because: 'stopped', summary: SUMMARY }]);
  return out.sort((a, b) => a[0] - b[0]);
}

// ---------------------------------------------------------------------------------------
// LiveKit: Marie's agent in a room.

/** The room joined: the request's (Rooms › Talk here), else a new one. */
let ROOM = `greenroom-talk-${SESSION}`;
const AGENT_ID = 'agent-AJ_x7Ks2nQe';
const LK_URL = 'ws://127.0.0.1:7880';
const agentSeg = (...parts: Array<[SegmentKind, number]>): Segment[] => parts.map(([kind, ms]) => ({ kind, ms }));
const LK_TURNS: TurnReport[] = [
  turn(0, 8000, 'Bonjour Marie, je voudrais préparer un entretien d’embauche.', 'Excellente idée ! Pour quel poste vous présentez-vous ?', agentSeg(['agent_end_of_turn', 640], ['agent_reply', 690], ['transport', 48], ['playback_start', 21]), { overhead_ms: 0 }),
  turn(1, 15500, 'Pour un poste de chef de projet dans une agence.', 'Très bien. Qu’est-ce qui vous attire dans ce poste ?', agentSeg(['agent_end_of_turn', 710], ['agent_reply', 880], ['transport', 55], ['playback_start', 19]), { overhead_ms: 0 }),
  // The agent never said it was thinking: the time before it spoke is nobody's we can see.
  turn(2, 22500, 'J’aime coordonner les équipes.', 'C’est un vrai atout. Avez-vous un exemple ?', agentSeg(['transport', 0], ['playback_start', 22], ['unobserved', 1390]), { overhead_ms: 0 }),
];
const LK_SUMMARY = { turns: 3, completed: 3, interrupted: 0, failed: 0, time_to_first_audio_p50_ms: 1399, time_to_first_audio_p95_ms: 1654, overhead_p50_ms: null, overhead_max_ms: null };

function agentTimeline(): Array<[number, TalkEvent]> {
  const out: Array<[number, TalkEvent]> = [];
  const state = (at: number, s: TalkState, t: number | null = null) => out.push([at, { type: 'state', state: s, turn: t, at_ms: at }]);
  const agent = (at: number, presence: AgentPresence, st: string | null, detail: string | null = null) =>
    out.push([at, { type: 'agent', presence, identity: presence === 'waiting' ? null : AGENT_ID, state: st, detail, timeout_ms: presence === 'joined' ? null : AGENT_TIMEOUT_MS, at_ms: at }]);
  const levels = (side: 'learner' | 'marie', from: number, to: number) => {
    for (let at = from; at < to; at += 67) {
      const rms = -32 + 12 * Math.sin(at / 170) * Math.sin(at / 610) - 6 * Math.random();
      out.push([at, { type: 'level', side, rms_dbfs: rms, peak_dbfs: rms + 8, at_ms: at }]);
    }
  };
  out.push([0, { type: 'notice', level: 'info', message: `joining room ${ROOM} at ${LK_URL} (token: token service at http://127.0.0.1:8004; agent dispatch: automatic)`, service: null }]);
  out.push([412, { type: 'room', url: LK_URL, room: ROOM, identity: `coach-${SESSION}`, token_source: 'token service at http://127.0.0.1:8004', dispatch: 'automatic', join_ms: 387.4, at_ms: 412 }]);
  agent(415, 'waiting', null, `waiting up to ${AGENT_TIMEOUT_S} s for Marie’s agent (automatic dispatch)`);
  agent(3300, 'joined', null);
  agent(3350, 'joined', 'initializing');
  agent(4100, 'joined', 'listening');
  // The opening.
  agent(4300, 'joined', 'speaking');
  state(4320, 'speaking');
  out.push([4400, { type: 'text', turn: null, side: 'marie', text: OPENING, is_final: true }]);
  levels('marie', 4350, 7200);
  agent(7300, 'joined', 'listening');
  state(7310, 'listening');
  const turnAt = (t: number, start: number, speakFor: number, thinkAfter: number | null, replyAfter: number) => {
    const tr = LK_TURNS[t]!;
    state(start, 'learner_speaking', t);
    levels('learner', start, start + speakFor);
    const end = start + speakFor;
    state(end + 300, 'end_of_speech', t);
    if (thinkAfter !== null) {
      agent(end + thinkAfter, 'joined', 'thinking');
      state(end + thinkAfter + 5, 'thinking', t);
    }
    out.push([end + (thinkAfter ?? 600) + 40, { type: 'text', turn: t, side: 'learner', text: tr.learner_text, is_final: true }]);
    const speak = end + replyAfter;
    agent(speak, 'joined', 'speaking');
    state(speak + 50, 'speaking', t);
    out.push([speak + 60, { type: 'text', turn: t, side: 'marie', text: tr.marie_text, is_final: true }]);
    levels('marie', speak + 50, speak + 2600);
    agent(speak + 2700, 'joined', 'listening');
    out.push([speak + 2710, { type: 'turn', turn: tr }]);
    state(speak + 2710, 'listening');
  };
  turnAt(0, 8000, 1900, 640, 1330);
  turnAt(1, 15500, 1700, 710, 1590);
  turnAt(2, 22500, 1500, null, 1390);
  state(29500, 'ended');
  out.push([29505, { type: 'ended', because: 'stopped', summary: LK_SUMMARY }]);
  return out.sort((a, b) => a[0] - b[0]);
}

/** The agent leaves after the first turn (its process crashed) and comes back 4 s later. */
function leftTimeline(): Array<[number, TalkEvent]> {
  const kept = agentTimeline().filter(([at]) => at < 12_000);
  const left = `Marie’s agent (agent-AJ_x7Ks2nQe) left the room: its process may have stopped. A supervisor restarts a crashed agent, but LiveKit sends a new worker only to new rooms: start a new talk to go on. Waiting ${AGENT_TIMEOUT_S} s in case it comes back`;
  kept.push([12_500, { type: 'agent', presence: 'left', identity: AGENT_ID, state: null, detail: left, timeout_ms: AGENT_TIMEOUT_MS, at_ms: 12_500 }]);
  kept.push([12_501, { type: 'notice', level: 'error', message: left, service: 'agent' }]);
  kept.push([12_502, { type: 'state', state: 'idle', turn: null, at_ms: 12_502 }]);
  kept.push([16_500, { type: 'agent', presence: 'joined', identity: AGENT_ID, state: null, detail: 'back after 4.0 s', timeout_ms: null, at_ms: 16_500 }]);
  kept.push([16_600, { type: 'agent', presence: 'joined', identity: AGENT_ID, state: 'listening', detail: null, timeout_ms: null, at_ms: 16_600 }]);
  kept.push([16_610, { type: 'state', state: 'listening', turn: null, at_ms: 16_610 }]);
  kept.push([24_000, { type: 'state', state: 'ended', turn: null, at_ms: 24_000 }]);
  kept.push([24_005, { type: 'ended', because: 'stopped', summary: { ...LK_SUMMARY, turns: 1, completed: 1, time_to_first_audio_p95_ms: 1399 } }]);
  return kept;
}

const missingDetail = () =>
  `Marie’s agent did not join room ${ROOM} within ${AGENT_TIMEOUT_S} s. Why it may not have: ` +
  '(1) the token dispatches the agent named "marie-coach": no worker registered under that name took the job (an agent with an explicit agent_name joins only rooms that ask for it by that exact name; check the agent’s WorkerOptions(agent_name=…), or leave the name empty for automatic dispatch) ' +
  '(2) the stack’s livekit-agent service is stopped: start it (Stack › livekit-agent) ' +
  '(3) the server may have refused the worker (wrong API key or secret in the agent’s LIVEKIT_API_KEY / LIVEKIT_API_SECRET): its log says so';

function missingTimeline(): Array<[number, TalkEvent]> {
  const out: Array<[number, TalkEvent]> = [];
  const gone = 385 + AGENT_TIMEOUT_MS;
  out.push([0, { type: 'notice', level: 'info', message: `joining room ${ROOM} at ${LK_URL} (token: minted; agent dispatch: explicit: marie-coach)`, service: null }]);
  out.push([380, { type: 'room', url: LK_URL, room: ROOM, identity: `coach-${SESSION}`, token_source: 'minted with the stack’s keys (explicit dispatch rides in the token’s room configuration, which the token service cannot carry)', dispatch: 'explicit: marie-coach', join_ms: 356.2, at_ms: 380 }]);
  out.push([385, { type: 'agent', presence: 'waiting', identity: null, state: null, detail: `waiting up to ${AGENT_TIMEOUT_S} s for Marie’s agent (explicit: marie-coach dispatch)`, timeout_ms: AGENT_TIMEOUT_MS, at_ms: 385 }]);
  for (let at = 400; at < gone; at += 67) out.push([at, { type: 'level', side: 'learner', rms_dbfs: -58 + 4 * Math.random(), peak_dbfs: -50, at_ms: at }]);
  out.push([gone, { type: 'agent', presence: 'missing', identity: null, state: null, detail: missingDetail(), timeout_ms: AGENT_TIMEOUT_MS, at_ms: gone }]);
  out.push([gone + 1, { type: 'notice', level: 'error', message: missingDetail(), service: 'agent' }]);
  out.push([gone + 15, { type: 'state', state: 'ended', turn: null, at_ms: gone + 15 }]);
  out.push([gone + 20, { type: 'ended', because: missingDetail(), summary: { turns: 0, completed: 0, interrupted: 0, failed: 0, time_to_first_audio_p50_ms: null, time_to_first_audio_p95_ms: null, overhead_p50_ms: null, overhead_max_ms: null } }]);
  return out;
}

const NO_SUMMARY = { turns: 0, completed: 0, interrupted: 0, failed: 0, time_to_first_audio_p50_ms: null, time_to_first_audio_p95_ms: null, overhead_p50_ms: null, overhead_max_ms: null };

/** What talk_current reports once the replay is over (built then: the room may be the request's). */
function report(): TalkReport {
  const base = { schema: 'greenroom.talk/1', exercise: 'conversation_libre', character: 'marie', endpoints: null, started_unix_ms: Date.now(), record_dir: `/home/coach/.local/share/greenroom/talk/${SESSION}` };
  if (!LIVEKIT) return { ...base, mode: 'direct', duration_ms: 31000, opening: OPENING, turns: TURNS, summary: SUMMARY, livekit: null, ended_because: 'stopped' };
  const events = timeline();
  const ended = events.find(([, e]) => e.type === 'ended')?.[1];
  const came = SCENARIO !== 'livekit-missing';
  const livekit: LivekitReport = {
    url: LK_URL, room: ROOM, identity: `coach-${SESSION}`,
    token_source: events.flatMap(([, e]) => (e.type === 'room' ? [e.token_source] : []))[0] ?? 'given',
    dispatch: came ? 'automatic' : 'explicit: marie-coach',
    join_ms: came ? 387.4 : 356.2, joined_at_ms: came ? 412 : 380,
    agent_joined_at_ms: came ? 3300 : null, agent_identity: came ? AGENT_ID : null, opening_first_audio_at_ms: came ? 4350 : null,
    agent_states: events.flatMap(([, e]) => (e.type === 'agent' && e.state ? [{ state: e.state, at_ms: e.at_ms }] : [])),
  };
  return {
    ...base, mode: 'livekit', duration_ms: events.at(-1)![0], opening: came ? OPENING : null,
    turns: events.flatMap(([, e]) => (e.type === 'turn' ? [e.turn] : [])),
    summary: ended?.type === 'ended' ? ended.summary : NO_SUMMARY, livekit,
    ended_because: ended?.type === 'ended' ? ended.because : 'stopped',
  };
}

/** The Rooms screen's server: a room the Flutter app opened, with Marie's agent in it. */
const ROOMS = [
  { name: 'flutter-entretien-7f3a', sid: 'RM_flutter7f3a', num_participants: 2, num_publishers: 2, metadata: 'entretien', created_at_ms: Date.now() - 95_000 },
  { name: 'stream-test-1203', sid: 'RM_stream1203', num_participants: 0, num_publishers: 0, metadata: '', created_at_ms: Date.now() - 600_000 },
];
const PARTICIPANTS = [
  { identity: 'learner-42', name: 'Learner', sid: 'PA_learner42', state: 'active', kind: 'standard', tracks: [{ sid: 'TR_mic', name: 'microphone', kind: 'audio', muted: false }], agent_state: null, attributes: {} },
  { identity: AGENT_ID, name: 'Marie', sid: 'PA_agent', state: 'active', kind: 'agent', tracks: [{ sid: 'TR_voice', name: 'marie-voice', kind: 'audio', muted: false }], agent_state: 'listening', attributes: { 'lk.agent.state': 'listening' } },
];

class HarnessBackend implements Backend {
  readonly kind = 'http' as const;
  private handlers = new Set<(e: EventEnvelope) => void>();
  private seq = 0;
  private ended = false;
  private started = false;
  /** What the session said so far (talk_current's snapshot is made of it). */
  private said: TalkEvent[] = [];

  constructor() {
    if (ATTACH === null) return;
    // Started elsewhere: it runs already when the screen opens.
    this.started = true;
    this.replay(ATTACH);
  }

  subscribe(handler: (e: EventEnvelope) => void) {
    this.handlers.add(handler);
    return () => void this.handlers.delete(handler);
  }

  onConnection(handler: (s: ConnectionState) => void) {
    handler('connected');
    return () => {};
  }

  /** Streams the session from `from` (session ms); what came before is only in the snapshot. */
  private replay(from = 0) {
    const t0 = performance.now();
    for (const [at, event] of timeline()) {
      if (at > UNTIL) break;
      if (at < from) {
        this.said.push(event);
        if (event.type === 'ended') this.ended = true;
        continue;
      }
      setTimeout(() => {
        if (event.type === 'ended') this.ended = true;
        this.said.push(event);
        const envelope: EventEnvelope = { topic: `talk://${SESSION}`, seq: ++this.seq, at_ms: Date.now(), event: { kind: 'talk', session: SESSION, event } };
        for (const h of this.handlers) h(envelope);
      }, Math.max(0, (at - from) / SPEED - (performance.now() - t0)));
    }
  }

  /** What talk_current answers: the session so far, as crates/api keeps it. */
  private snapshot(): TalkSnapshot | null {
    if (!this.started) return null;
    const state = [...this.said].reverse().find((e) => e.type === 'state');
    return {
      session: SESSION, running: !this.ended, state: state?.type === 'state' ? state.state : 'idle', exercise: 'conversation_libre',
      turns: this.said.flatMap((e) => (e.type === 'turn' ? [e.turn] : [])),
      report: this.ended ? report() : null,
      mode: LIVEKIT ? 'livekit' : 'direct',
      link_events: this.said.filter((e) => e.type === 'room' || e.type === 'agent'),
    };
  }

  async call<C extends CommandName>(command: C, args: CommandArgs[C]): Promise<CommandResults[C]> {
    const answer = (v: unknown) => v as CommandResults[C];
    const endpoint = (service: 'stt' | 'llm' | 'tts', url: string) => ({ service, url, model: '', key_set: false, origin: 'the local ports' });
    const endpoints = { stt: endpoint('stt', 'http://127.0.0.1:8002/transcribe'), stt_shape: 'vosk', llm: { ...endpoint('llm', 'https://api.mistral.ai/v1/chat/completions'), key_set: true }, tts: endpoint('tts', 'http://127.0.0.1:5002/v1/audio/speech') };
    switch (command) {
      case 'app_info':
        return answer({ version: '0.1.0', platform: 'linux', home: '/home/coach/.local/share/greenroom' });
      case 'talk_catalog':
        return answer({
          catalog: {
            characters: [{ id: 'marie', name: 'Marie', role: 'Coach', voice: 'nova', system_prompt: '' }],
            exercises: [{ id: 'conversation_libre', title: 'Conversation libre', character: 'marie', description: 'Parlez naturellement avec Marie sur un sujet de votre choix.', opening: OPENING, instructions: '', duration_minutes: 5, focus: ['fluency', 'confidence'] }],
          },
          file: null, editable_file: '/home/coach/.local/share/greenroom/talk-catalog.toml', problem: params.has('problem') ? 'talk-catalog.toml:12: unknown character "mari"' : null,
          local_stt_note: 'The local speech-to-text understands English only (Whisper tiny.en): for French, run the team’s Vosk service.',
        });
      case 'talk_devices':
        return answer(params.has('nomic')
          ? { host: 'PulseAudio', inputs: [], outputs: [{ id: 'pulse:out', name: 'Built-in speakers' }], default_input: null, default_output: 'pulse:out' }
          : { host: 'PulseAudio', inputs: [{ id: 'pulse:in', name: 'Built-in microphone' }, { id: 'pulse:usb', name: 'USB headset' }], outputs: [{ id: 'pulse:out', name: 'Built-in speakers' }, { id: 'pulse:usb-out', name: 'USB headset' }], default_input: 'pulse:usb', default_output: 'pulse:usb-out' });
      case 'talk_endpoints':
        return answer(endpoints);
      case 'talk_current':
        return answer(this.snapshot());
      case 'talk_sessions': {
        const r = report();
        return answer(this.ended ? [{ session: SESSION, dir: r.record_dir, exercise: 'conversation_libre', started_unix_ms: r.started_unix_ms, turns: r.summary.turns, time_to_first_audio_p50_ms: r.summary.time_to_first_audio_p50_ms }] : []);
      }
      case 'talk_start':
        if (this.started) throw new BackendError('invalid_input', 'the harness replays one session; reload the page');
        this.started = true;
        setTimeout(() => this.replay(), 0);
        {
          const request = (args as CommandArgs['talk_start']).request;
          const mode = LIVEKIT ? 'livekit' : (request.mode ?? 'direct');
          console.info('talk_start', JSON.stringify(request));
          if (request.room) ROOM = request.room;
          return answer({
            session: SESSION, exercise: { id: 'conversation_libre', title: 'Conversation libre', character: 'marie' }, character: { id: 'marie', name: 'Marie' }, endpoints, record_dir: `/home/coach/.local/share/greenroom/talk/${SESSION}`,
            mode, room: mode === 'livekit' ? (request.room ?? ROOM) : null,
          });
        }
      case 'talk_control':
        return answer(null);
      case 'livekit_info':
        return answer({ url: LK_URL, api_key: 'devkey', origin: 'the stack’s defaults' });
      case 'rooms_list':
        return answer(ROOMS);
      case 'room_participants':
        return answer((args as CommandArgs['room_participants']).room === ROOMS[0]!.name ? PARTICIPANTS : []);
      case 'talk_export':
        return answer(`${(args as CommandArgs['talk_export']).destination}/greenroom-talk-${SESSION}`);
      default:
        throw new BackendError('unavailable', `the harness does not answer ${command}`);
    }
  }
}

const backend = new HarnessBackend();
mount(App, { target: document.getElementById('app')!, props: { backend } });
// ?autostart presses Start once it can (as a coach would), else starts from here.
if (params.has('autostart')) {
  const began = performance.now();
  const press = () => {
    // The LiveKit scenarios take that route, as the coach would pick it.
    if (LIVEKIT) document.querySelector<HTMLButtonElement>('[data-testid="talk-route"] [data-route="livekit"]')?.click();
    const start = document.querySelector<HTMLButtonElement>('[data-testid="talk-start"]');
    if (start && !start.disabled) start.click();
    else if (performance.now() - began < 3000) setTimeout(press, 50);
    else void backend.call('talk_start', { request: {} as CommandArgs['talk_start']['request'] });
  };
  setTimeout(press, 100);
}
