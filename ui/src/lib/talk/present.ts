// The Talk screen's logic: pure functions and a small event reducer, tested in present.test.ts.
// Figures (segments, time to first audio, percentiles) come from Rust (crates/talk): nothing
// here computes a latency or a percentile, it only lays them out.
import type {
  AgentPresence,
  DeviceInfo,
  DeviceList,
  NoticeLevel,
  Segment,
  SegmentKind,
  Service,
  Side,
  TalkCatalogView,
  TalkEvent,
  TalkReport,
  TalkRequest,
  TalkState,
  TalkExercise,
  TalkMode,
  TalkStarted,
  TalkSummary,
  TurnReport,
} from '../../generated/api';
import { niceStep } from '../stream-test/present';

// ---------------------------------------------------------------------------------------
// The catalogue's exercise.

/** An exercise of the talk catalogue (`greenroom_talk::Exercise`, `TalkExercise` here). */
export type CatalogExercise = TalkExercise;

export function catalogExercises(view: TalkCatalogView | null | undefined): CatalogExercise[] {
  return view?.catalog.exercises ?? [];
}

export function startedExercise(started: TalkStarted): CatalogExercise {
  return started.exercise;
}

/** `Title · Character` for the exercise picker. */
export function exerciseLabel(exercise: CatalogExercise, view: TalkCatalogView | null | undefined): string {
  const character = view?.catalog.characters.find((c) => c.id === exercise.character);
  return character ? `${exercise.title} · ${character.name}` : exercise.title;
}

/** The name of the character an exercise speaks with (`Marie` when unknown). */
export function characterName(view: TalkCatalogView | null | undefined, exerciseId: string | null | undefined): string {
  const exercise = catalogExercises(view).find((e) => e.id === exerciseId);
  return view?.catalog.characters.find((c) => c.id === exercise?.character)?.name ?? 'Marie';
}

// ---------------------------------------------------------------------------------------
// Setup.

export type Mode = 'voice' | 'push_to_talk';

/** Who answers: Greenroom's own chain (STT → LLM → TTS), or Marie's agent in a LiveKit room. */
export type Route = TalkMode;

export interface TalkSetup {
  exercise: string;
  /** '' = the system's default microphone (followed when it changes). */
  mic: string;
  /** '' = the system's default output. */
  speaker: string;
  mode: Mode;
  endOfSpeechMs: number;
  record: boolean;
  route: Route;
  /** LiveKit: the room to join ('' = a new one). Not remembered: rooms come and go. */
  room: string;
  /** LiveKit: the agent to dispatch by name ('' = automatic dispatch). */
  agentName: string;
}

export const EOS_MIN_MS = 200;
export const EOS_MAX_MS = 2000;
export const EOS_STEP_MS = 50;
export const EOS_DEFAULT_MS = 800;

export const DEFAULT_SETUP: TalkSetup = {
  exercise: '',
  mic: '',
  speaker: '',
  mode: 'voice',
  endOfSpeechMs: EOS_DEFAULT_MS,
  record: true,
  route: 'direct',
  room: '',
  agentName: '',
};

/**
 * How long Marie's agent may take to join when neither its `agent` event nor the request
 * says (Rust's default).
 */
export const AGENT_TIMEOUT_DEFAULT_MS = 10_000;

/** An end-of-speech delay on the slider's grid, inside its range. */
export function clampEndOfSpeech(ms: number): number {
  if (!Number.isFinite(ms)) return EOS_DEFAULT_MS;
  const stepped = Math.round(ms / EOS_STEP_MS) * EOS_STEP_MS;
  return Math.min(EOS_MAX_MS, Math.max(EOS_MIN_MS, stepped));
}

/** What `talk_start` is asked for a setup. */
export function requestFromSetup(setup: TalkSetup): TalkRequest {
  const request: TalkRequest = {
    exercise: setup.exercise || null,
    input: { kind: 'device', id: setup.mic || null },
    output: { kind: 'device', id: setup.speaker || null },
    push_to_talk: setup.mode === 'push_to_talk',
    end_of_speech_ms: clampEndOfSpeech(setup.endOfSpeechMs),
    record: setup.record,
    record_dir: null,
    speak_opening: null,
    wait_for_whole_reply: false,
    seed: null,
    max_turns: null,
    services: {},
    mode: setup.route,
  };
  if (setup.route === 'livekit') {
    // Rust refuses an empty room name: no name is a new room, as no agent name is automatic dispatch.
    const room = setup.room.trim();
    const agent = setup.agentName.trim();
    if (room) request.room = room;
    if (agent) request.agent = agent;
  }
  return request;
}

const SETUP_KEY = 'greenroom.talk.setup';

/** The setup the coach left last time (defaults for anything missing or malformed). */
export function loadSetup(storage: Pick<Storage, 'getItem'> | null | undefined): TalkSetup {
  let raw: unknown;
  try {
    raw = JSON.parse(storage?.getItem(SETUP_KEY) ?? 'null');
  } catch {
    raw = null;
  }
  const r = (typeof raw === 'object' && raw !== null ? raw : {}) as Partial<Record<keyof TalkSetup, unknown>>;
  const str = (v: unknown, d: string) => (typeof v === 'string' ? v : d);
  return {
    exercise: str(r.exercise, DEFAULT_SETUP.exercise),
    mic: str(r.mic, DEFAULT_SETUP.mic),
    speaker: str(r.speaker, DEFAULT_SETUP.speaker),
    mode: r.mode === 'push_to_talk' ? 'push_to_talk' : 'voice',
    endOfSpeechMs: typeof r.endOfSpeechMs === 'number' ? clampEndOfSpeech(r.endOfSpeechMs) : EOS_DEFAULT_MS,
    record: typeof r.record === 'boolean' ? r.record : DEFAULT_SETUP.record,
    route: r.route === 'livekit' ? 'livekit' : 'direct',
    room: DEFAULT_SETUP.room,
    agentName: str(r.agentName, DEFAULT_SETUP.agentName),
  };
}

export function saveSetup(storage: Pick<Storage, 'setItem'> | null | undefined, setup: TalkSetup): void {
  try {
    // The room is not kept: the next visit starts with a new room (or the one Rooms hands over).
    storage?.setItem(SETUP_KEY, JSON.stringify({ ...setup, room: undefined }));
  } catch {
    // Private mode or a full storage: the setup is simply not remembered.
  }
}

export interface DeviceOption {
  value: string;
  label: string;
}

/**
 * The options of a device picker: the system default first (value ''), then every device,
 * the default one marked. A chosen device that disappeared stays listed as missing, so
 * the picker never silently changes what the coach chose.
 */
export function deviceOptions(list: DeviceList | null, side: 'input' | 'output', chosen: string): DeviceOption[] {
  const devices: DeviceInfo[] = list ? (side === 'input' ? list.inputs : list.outputs) : [];
  if (list && devices.length === 0 && !chosen) return [{ value: '', label: side === 'input' ? 'No microphone found' : 'No speaker found' }];
  const defaultId = list ? (side === 'input' ? list.default_input : list.default_output) : null;
  const defaultName = devices.find((d) => d.id === defaultId)?.name;
  const options: DeviceOption[] = [
    { value: '', label: defaultName ? `System default (${defaultName})` : 'System default' },
    ...devices.map((d) => ({ value: d.id, label: d.id === defaultId ? `${d.name} (default)` : d.name })),
  ];
  if (chosen && !devices.some((d) => d.id === chosen)) options.push({ value: chosen, label: `${chosen} (not connected)` });
  return options;
}

/** Whether an STT URL is the sandbox's local one (127.0.0.1:8002), which understands English only. */
export function isSandboxStt(url: string): boolean {
  try {
    const u = new URL(url);
    return (u.hostname === '127.0.0.1' || u.hostname === 'localhost') && u.port === '8002';
  } catch {
    return false;
  }
}

/** The folder holding `path` (`/home/me/.greenroom` → `/home/me`); the path itself at a root. */
export function parentFolder(path: string): string {
  const trimmed = path.replace(/[\\/]+$/, '');
  const cut = Math.max(trimmed.lastIndexOf('/'), trimmed.lastIndexOf('\\'));
  if (cut < 0) return path;
  if (cut === 0) return trimmed.slice(0, 1);
  const parent = trimmed.slice(0, cut);
  return /^[A-Za-z]:$/.test(parent) ? `${parent}\\` : parent;
}

// ---------------------------------------------------------------------------------------
// States.

export type StateTone = 'idle' | 'listening' | 'learner' | 'busy' | 'speaking' | 'ended';

/** The word a state is shown with; `speaking` names the character. */
export function stateWord(state: TalkState, character = 'Marie'): string {
  switch (state) {
    case 'idle':
      return 'Ready';
    case 'listening':
      return 'Listening';
    case 'learner_speaking':
      return 'Learner speaking';
    case 'end_of_speech':
      return 'End of speech';
    case 'transcribing':
      return 'Transcribing';
    case 'thinking':
      return 'Thinking';
    case 'speaking':
      return `${character} speaking`;
    case 'ended':
      return 'Ended';
  }
}

/**
 * What the coach can do or is waiting for, in a line under the state word. Through LiveKit
 * the services are the agent's, out of sight: the waits say so.
 */
export function stateHint(state: TalkState, mode: Mode, character = 'Marie', route: Route = 'direct'): string {
  if (route === 'livekit') {
    switch (state) {
      case 'end_of_speech':
      case 'transcribing':
        return `The turn is over here; ${character}’s agent decides when it ends.`;
      case 'thinking':
        return `${character}’s agent is preparing the reply (its speech-to-text, LLM and speech are out of sight).`;
      default:
        break;
    }
  }
  switch (state) {
    case 'idle':
      return 'Pick an exercise and press Start (or Enter).';
    case 'listening':
      return mode === 'push_to_talk' ? 'Hold Space (or the Hold to talk button) and speak.' : 'Speak when you are ready.';
    case 'learner_speaking':
      return mode === 'push_to_talk' ? 'Release Space when you are done.' : 'Pause to end your turn.';
    case 'end_of_speech':
      return 'The turn is over; sending it to speech-to-text.';
    case 'transcribing':
      return 'Waiting for the speech-to-text service.';
    case 'thinking':
      return 'Waiting for the conversation service.';
    case 'speaking':
      return `Esc or Interrupt stops ${character}.`;
    case 'ended':
      return 'The talk is over. Press Start (or Enter) for another one.';
  }
}

export function stateTone(state: TalkState): StateTone {
  switch (state) {
    case 'listening':
      return 'listening';
    case 'learner_speaking':
      return 'learner';
    case 'end_of_speech':
    case 'transcribing':
    case 'thinking':
      return 'busy';
    case 'speaking':
      return 'speaking';
    case 'ended':
      return 'ended';
    default:
      return 'idle';
  }
}

/** States that wait on a service: drawn with an indeterminate progress bar. */
export function isWaiting(state: TalkState): boolean {
  return stateTone(state) === 'busy';
}

/**
 * Why a talk ended, short enough for the state box: its first sentence (a missing agent's
 * explanation goes on with its reasons, shown in full by the agent panel), cut at `max`.
 */
export function endedReason(because: string, max = 140): string {
  const sentence = because.match(/^.*?[.!?](?=\s|$)/s)?.[0] ?? because;
  const short = sentence.length < because.length ? sentence : because;
  return short.length > max ? `${short.slice(0, max - 1).trimEnd()}…` : short;
}

/** Elapsed time in a state once it passed a second (`1.4 s`, `12 s`); '' before. */
export function elapsedLabel(elapsedMs: number): string {
  if (!Number.isFinite(elapsedMs) || elapsedMs < 1000) return '';
  const s = elapsedMs / 1000;
  return s < 10 ? `${s.toFixed(1)} s` : `${Math.floor(s)} s`;
}

// ---------------------------------------------------------------------------------------
// Segments.

/** Every kind, in chain order (overhead last), as `SegmentKind::ALL` in crates/talk/src/segments.rs. */
export const SEGMENT_KINDS: readonly SegmentKind[] = [
  'end_of_utterance',
  'stt',
  'llm_first_token',
  'llm_first_sentence',
  'tts_first_byte',
  'tts_rest',
  'agent_end_of_turn',
  'agent_reply',
  'transport',
  'playback_start',
  'unobserved',
  'overhead',
];

/** The kinds a turn can have on each route (the legend before any turn came). */
export const ROUTE_SEGMENT_KINDS: Record<Route, readonly SegmentKind[]> = {
  direct: ['end_of_utterance', 'stt', 'llm_first_token', 'llm_first_sentence', 'tts_first_byte', 'tts_rest', 'playback_start', 'overhead'],
  livekit: ['agent_end_of_turn', 'agent_reply', 'transport', 'playback_start', 'unobserved'],
};

/** The labels of `SegmentKind::label` in Rust. */
export const SEGMENT_LABELS: Record<SegmentKind, string> = {
  end_of_utterance: 'end of speech',
  stt: 'speech-to-text',
  llm_first_token: 'LLM first token',
  llm_first_sentence: 'LLM first sentence',
  tts_first_byte: 'TTS first byte',
  tts_rest: 'TTS first clip',
  playback_start: 'playback start',
  agent_end_of_turn: 'agent: end of turn + STT',
  agent_reply: 'agent: LLM + TTS',
  transport: 'transport: agent → Greenroom',
  unobserved: 'not observable',
  overhead: 'Greenroom',
};

export const SEGMENT_COLOURS: Record<SegmentKind, string> = {
  end_of_utterance: '#5cc8ff',
  stt: '#2fbf84',
  llm_first_token: '#e5b53b',
  llm_first_sentence: '#f3d98b',
  tts_first_byte: '#b48cff',
  tts_rest: '#dccbff',
  playback_start: '#ff8fab',
  // Through an agent: teal (its ear), orange (its voice), periwinkle (the wire), then the
  // same pink playback as the direct chain; what nobody saw is hatched grey.
  agent_end_of_turn: '#3cc7c0',
  agent_reply: '#f29a4b',
  transport: '#8fa2ff',
  unobserved: '#56625c',
  overhead: '#7d8f86',
};

/** Kinds drawn hatched: time nobody can attribute. */
export const HATCHED_SEGMENTS: ReadonlySet<SegmentKind> = new Set<SegmentKind>(['unobserved']);

/** A segment kind's CSS background (a hatch for the unattributable). */
export function segmentBackground(kind: SegmentKind): string {
  const colour = SEGMENT_COLOURS[kind];
  return HATCHED_SEGMENTS.has(kind) ? `repeating-linear-gradient(135deg, ${colour} 0 3px, #2b3430 3px 6px)` : colour;
}

/**
 * The kinds a legend lists: those the turns have, in chain order; before any turn, the
 * route's.
 */
export function legendKinds(turns: ReadonlyArray<Pick<TurnReport, 'segments'>>, route: Route = 'direct'): SegmentKind[] {
  const seen = new Set(turns.flatMap((t) => t.segments.map((s) => s.kind)));
  return seen.size ? SEGMENT_KINDS.filter((k) => seen.has(k)) : [...ROUTE_SEGMENT_KINDS[route]];
}

/** Milliseconds: one decimal under 10, whole above (`0.4 ms`, `904 ms`, `1 545 ms` as `1545 ms`). */
export function ms(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  return value < 10 ? `${value.toFixed(1)} ms` : `${Math.round(value)} ms`;
}

/** A turn's length as the strip shows it: its time to first audio, else what its segments cover. */
export function turnSpanMs(turn: Pick<TurnReport, 'segments' | 'time_to_first_audio_ms'>): number {
  return turn.time_to_first_audio_ms ?? turn.segments.reduce((s, x) => s + x.ms, 0);
}

export interface StripPiece {
  kind: SegmentKind;
  ms: number;
  /** Position and width as fractions (0..1) of the scale. */
  left: number;
  width: number;
  colour: string;
  /** Drawn hatched (see `HATCHED_SEGMENTS`). */
  hatched: boolean;
  /** `speech-to-text: 302 ms` (the hover text). */
  title: string;
}

/** A turn's segments laid end to end on a scale of `scaleMs` (the longest turn, so turns compare). */
export function stripPieces(segments: readonly Segment[], scaleMs: number): StripPiece[] {
  const scale = scaleMs > 0 ? scaleMs : 1;
  let at = 0;
  return segments.map((s) => {
    const piece = {
      kind: s.kind,
      ms: s.ms,
      left: at / scale,
      width: Math.max(0, s.ms) / scale,
      colour: SEGMENT_COLOURS[s.kind],
      hatched: HATCHED_SEGMENTS.has(s.kind),
      title: `${SEGMENT_LABELS[s.kind]}: ${ms(s.ms)}`,
    };
    at += Math.max(0, s.ms);
    return piece;
  });
}

/** The common scale of the strips: the longest turn (1 s at least, so short turns look short). */
export function stripScale(turns: ReadonlyArray<Pick<TurnReport, 'segments' | 'time_to_first_audio_ms'>>): number {
  return turns.reduce((m, t) => Math.max(m, turnSpanMs(t)), 1000);
}

/** The hover text of a whole turn: every segment and the total. */
export function turnTitle(turn: Pick<TurnReport, 'index' | 'segments' | 'time_to_first_audio_ms'>): string {
  const lines = turn.segments.map((s) => `${SEGMENT_LABELS[s.kind]}: ${ms(s.ms)}`);
  lines.push(turn.time_to_first_audio_ms === null ? 'no audio was heard' : `time to first audio: ${ms(turn.time_to_first_audio_ms)}`);
  return `Turn ${turn.index + 1}\n${lines.join('\n')}`;
}

/** Why a turn has no time to first audio, in a word; '' when it has one. */
export function turnOutcome(turn: Pick<TurnReport, 'time_to_first_audio_ms' | 'interrupted' | 'error'>): string {
  if (turn.error) return `${serviceName(turn.error.service)} failed`;
  if (turn.time_to_first_audio_ms !== null) return turn.interrupted ? 'interrupted' : '';
  return turn.interrupted ? 'interrupted before audio' : 'no audio';
}

export function serviceName(service: Service | null | undefined): string {
  switch (service) {
    case 'stt':
      return 'Speech-to-text';
    case 'llm':
      return 'Conversation (LLM)';
    case 'tts':
      return 'Text-to-speech';
    case 'agent':
      return 'LiveKit agent';
    default:
      return 'Greenroom';
  }
}

export interface HistoryColumn {
  turn: number;
  /** Centre of the column. */
  x: number;
  width: number;
  total: number | null;
  /** Stacked pieces, bottom first. */
  pieces: Array<{ kind: SegmentKind; ms: number; y: number; height: number; colour: string; hatched: boolean }>;
  outcome: string;
}

export interface HistoryPlot {
  columns: HistoryColumn[];
  yTicks: Array<{ y: number; label: string }>;
  maxMs: number;
  /** Where the summary's p50 falls, when it is known. */
  p50: { y: number; ms: number } | null;
}

/**
 * Time to first audio per turn as stacked columns (one slot per turn, oldest left) in a
 * `width` × `height` box, with the summary's p50 (from Rust) as a line.
 */
export function historyPlot(turns: readonly TurnReport[], p50Ms: number | null, width: number, height: number): HistoryPlot {
  const highest = turns.reduce((m, t) => Math.max(m, t.time_to_first_audio_ms ?? 0), p50Ms ?? 0);
  const step = niceStep(Math.max(highest, 500), 4);
  const maxMs = Math.ceil(Math.max(highest, 500) / step) * step;
  const y = (v: number) => height - (Math.min(v, maxMs) / maxMs) * height;
  const slots = Math.max(turns.length, 1);
  const slot = width / slots;
  const columnWidth = Math.min(36, slot * 0.7);
  const columns = turns.map((t, i) => {
    let base = 0;
    const pieces =
      t.time_to_first_audio_ms === null
        ? []
        : t.segments.map((s) => {
            const top = base + Math.max(0, s.ms);
            const piece = { kind: s.kind, ms: s.ms, y: y(top), height: y(base) - y(top), colour: SEGMENT_COLOURS[s.kind], hatched: HATCHED_SEGMENTS.has(s.kind) };
            base = top;
            return piece;
          });
    return { turn: t.index, x: slot * (i + 0.5), width: columnWidth, total: t.time_to_first_audio_ms, pieces, outcome: turnOutcome(t) };
  });
  const yTicks = [];
  for (let v = 0; v <= maxMs + 1e-9; v += step) yTicks.push({ y: y(v), label: `${Number(v.toPrecision(6))}` });
  return { columns, yTicks, maxMs, p50: p50Ms === null ? null : { y: y(p50Ms), ms: p50Ms } };
}

// ---------------------------------------------------------------------------------------
// Levels.

export const LEVEL_FLOOR_DBFS = -60;
/** How long a level holds before the meter falls back (levels only come while there is sound). */
export const LEVEL_HOLD_MS = 400;
/** The rolling history's span. */
export const HISTORY_WINDOW_MS = 5000;

/** A dBFS level as a fraction of the meter (0 at the floor, 1 at full scale). */
export function levelFraction(dbfs: number | null | undefined, floor = LEVEL_FLOOR_DBFS): number {
  if (dbfs === null || dbfs === undefined || !Number.isFinite(dbfs)) return 0;
  return Math.min(1, Math.max(0, (dbfs - floor) / -floor));
}

export interface LevelReading {
  rms_dbfs: number;
  peak_dbfs: number;
  /** Session time of the reading. */
  at_ms: number;
  /** The page's clock when it arrived (for the hold). */
  received: number;
}

/** The reading a meter shows at `now` (page clock): the last one while it holds, else none. */
export function liveLevel(reading: LevelReading | null, now: number): LevelReading | null {
  return reading && now - reading.received <= LEVEL_HOLD_MS ? reading : null;
}

export interface LevelSample {
  at_ms: number;
  rms_dbfs: number;
}

export interface HistoryBar {
  x: number;
  width: number;
  height: number;
}

/**
 * The last `windowMs` of a side's levels as bars in a `width` × `height` box: `nowMs` (session
 * time) is the right edge; a bar is as wide as the time to the next reading, 1/15 s at most.
 */
export function historyBars(samples: readonly LevelSample[], nowMs: number, width: number, height: number, windowMs = HISTORY_WINDOW_MS): HistoryBar[] {
  const from = nowMs - windowMs;
  const px = width / windowMs;
  const frame = 1000 / 15;
  const bars: HistoryBar[] = [];
  samples.forEach((s, i) => {
    if (s.at_ms < from || s.at_ms > nowMs) return;
    const next = samples[i + 1]?.at_ms ?? s.at_ms + frame;
    const span = Math.min(frame, Math.max(0, next - s.at_ms)) || frame;
    const h = levelFraction(s.rms_dbfs) * height;
    if (h <= 0) return;
    bars.push({ x: (s.at_ms - from) * px, width: Math.max(1, span * px - 1), height: h });
  });
  return bars;
}

// ---------------------------------------------------------------------------------------
// The session as the screen holds it, built from `talk://<session>` events.

export interface InlineError {
  service: Service | null;
  message: string;
}

export interface TranscriptEntry {
  /** `opening` or `turn-<index>`. */
  key: string;
  /** null: Marie's opening line. */
  turn: number | null;
  /** The learner's words once transcribed (null before). */
  learner: string | null;
  /** Marie's reply so far. */
  marie: string;
  marieFinal: boolean;
  interrupted: boolean;
  errors: InlineError[];
  report: TurnReport | null;
}

/** `agent`: LiveKit mode's room and agent events. */
export type LogType = 'state' | 'text' | 'turn' | 'notice' | 'agent';
export const LOG_TYPES: readonly LogType[] = ['state', 'text', 'turn', 'notice', 'agent'];
export const LOG_CAP = 500;

export interface LogEntry {
  id: number;
  type: LogType;
  /** Wall clock (Unix ms) of the event's envelope. */
  clock: number;
  level: NoticeLevel | null;
  text: string;
  /** For merging a streaming reply into one line: `marie:<turn>` while partial. */
  partialOf: string | null;
}

export interface TalkNotice {
  id: number;
  /** The page's clock when it arrived (toasts fade by it). */
  received: number;
  level: NoticeLevel;
  message: string;
  service: Service | null;
  clock: number;
}

/** LiveKit mode's own events: the room joined, and where Marie's agent is. */
export type LinkEvent = Extract<TalkEvent, { type: 'room' | 'agent' }>;

/** LiveKit mode: the room we joined (the `room` event). */
export interface RoomJoin {
  url: string;
  room: string;
  identity: string;
  /** `token service at …`, `minted with the stack's keys (…)`: see `tokenSourceShort`. */
  tokenSource: string;
  /** Token → joined and ready; null when unknown. */
  joinMs: number | null;
  /** `automatic`, or `explicit: <agent name>` (see `dispatchLabel`). */
  dispatch: string;
  /** Session time it was joined at; null when unknown. */
  atMs: number | null;
}

/** One step of the agent's timeline: where it was and, when in the room, its `lk.agent.state`. */
export interface AgentStep {
  presence: AgentPresence;
  /** `lk.agent.state` (initializing, listening, thinking, speaking…); null when it said none. */
  state: string | null;
  /** Session time it began. */
  at_ms: number;
}

/** LiveKit mode: Marie's agent as the `agent` events tell it. */
export interface AgentView {
  /** null: no `agent` event yet. */
  presence: AgentPresence | null;
  identity: string | null;
  /** Its current `lk.agent.state` while in the room. */
  state: string | null;
  /** Why it may be missing, what happened to it (waiting, left, missing, back). */
  detail: string | null;
  /** Session time the presence became what it is (the waiting count runs from it). */
  sinceMs: number;
  /**
   * How long it may take to come, as its latest `waiting`, `left` or `missing` event said;
   * null when the presence's event said none (see `agentTimeout`).
   */
  timeoutMs: number | null;
  /** Every change of presence or state, in order. */
  steps: AgentStep[];
}

export interface TalkView {
  session: string | null;
  /** How the session runs; null until the start answer, an event or the report says. */
  mode: Route | null;
  running: boolean;
  state: TalkState;
  /** A `state` event came (else the state is talk_current's, or idle). */
  stateSeen: boolean;
  stateTurn: number | null;
  /** The page's clock when the state was entered. */
  stateSince: number;
  transcript: TranscriptEntry[];
  levels: Record<Side, LevelReading | null>;
  history: Record<Side, LevelSample[]>;
  /** The latest session time a level arrived at, and the page's clock then. */
  clock: { at_ms: number; received: number } | null;
  log: LogEntry[];
  notices: TalkNotice[];
  summary: TalkSummary | null;
  endedBecause: string | null;
  report: TalkReport | null;
  /** LiveKit mode: the room joined, and Marie's agent. */
  room: RoomJoin | null;
  agent: AgentView;
  /**
   * The `room` and `agent` events applied so far, in order (to fold in a snapshot's
   * `link_events` without doing any twice).
   */
  linkEvents: LinkEvent[];
  /** How long the agent may take to join when its events do not say (the request's, else Rust's default). */
  agentTimeoutMs: number;
  /** Session time the talk ended at, once known. */
  endedAtMs: number | null;
  nextId: number;
}

export function emptyAgent(): AgentView {
  return { presence: null, identity: null, state: null, detail: null, sinceMs: 0, timeoutMs: null, steps: [] };
}

export function emptyView(session: string | null = null, now = 0): TalkView {
  return {
    session,
    mode: null,
    running: session !== null,
    state: 'idle',
    stateSeen: false,
    stateTurn: null,
    stateSince: now,
    transcript: [],
    levels: { learner: null, marie: null },
    history: { learner: [], marie: [] },
    clock: null,
    log: [],
    notices: [],
    summary: null,
    endedBecause: null,
    report: null,
    room: null,
    agent: emptyAgent(),
    linkEvents: [],
    agentTimeoutMs: AGENT_TIMEOUT_DEFAULT_MS,
    endedAtMs: null,
    nextId: 1,
  };
}

function entryKey(turn: number | null): string {
  return turn === null ? 'opening' : `turn-${turn}`;
}

/** The transcript entry of a turn (null: the opening), created in order when missing. */
export function ensureEntry(view: TalkView, turn: number | null): TranscriptEntry {
  const key = entryKey(turn);
  const found = view.transcript.find((e) => e.key === key);
  if (found) return found;
  const entry: TranscriptEntry = { key, turn, learner: null, marie: '', marieFinal: false, interrupted: false, errors: [], report: null };
  const at = turn === null ? 0 : view.transcript.findIndex((e) => e.turn !== null && e.turn > turn);
  view.transcript.splice(at < 0 ? view.transcript.length : at, 0, entry);
  return view.transcript.find((e) => e.key === key)!;
}

/**
 * Adds a log line. A streaming reply is one line: a line with the `partialOf` of the last
 * one replaces it; `closes` (the final text) ends the merging.
 */
function pushLog(view: TalkView, entry: Omit<LogEntry, 'id'>, closes = false): void {
  if (entry.partialOf) {
    // The reply's line is among the last few (state changes come in between).
    for (let i = view.log.length - 1; i >= Math.max(0, view.log.length - 20); i--) {
      const line = view.log[i]!;
      if (line.partialOf !== entry.partialOf) continue;
      line.text = entry.text;
      line.clock = entry.clock;
      if (closes) line.partialOf = null;
      return;
    }
  }
  view.log.push({ ...entry, id: view.nextId++, partialOf: closes ? null : entry.partialOf });
  if (view.log.length > LOG_CAP) view.log.splice(0, view.log.length - LOG_CAP);
}

const quote = (text: string) => `“${text}”`;
const turnName = (turn: number | null) => (turn === null ? 'opening' : `turn ${turn + 1}`);

function applyTurn(view: TalkView, turn: TurnReport): TranscriptEntry {
  const entry = ensureEntry(view, turn.index);
  entry.report = turn;
  entry.learner = turn.learner_text || entry.learner || '';
  entry.marie = turn.marie_text || entry.marie;
  entry.marieFinal = true;
  entry.interrupted = turn.interrupted;
  if (turn.error) entry.errors = [{ service: turn.error.service, message: turn.error.message }];
  return entry;
}

/**
 * Applies one event to the view, in place. `clock` is the envelope's wall time (Unix ms),
 * `now` the page's monotonic clock (for the state's elapsed time and the meters' hold).
 */
export function applyTalkEvent(view: TalkView, event: TalkEvent, clock: number, now: number): void {
  switch (event.type) {
    case 'state': {
      if (event.state !== view.state || event.turn !== view.stateTurn) view.stateSince = now;
      view.state = event.state;
      view.stateSeen = true;
      view.stateTurn = event.turn;
      tickClock(view, event.at_ms, now);
      if (event.state === 'ended') {
        view.running = false;
        view.endedAtMs = event.at_ms;
      }
      const turn = event.turn === null ? '' : ` (${turnName(event.turn)})`;
      pushLog(view, { type: 'state', clock, level: null, text: `${event.state}${turn} at ${(event.at_ms / 1000).toFixed(2)} s`, partialOf: null });
      return;
    }
    case 'level': {
      const reading = { rms_dbfs: event.rms_dbfs, peak_dbfs: event.peak_dbfs, at_ms: event.at_ms, received: now };
      view.levels[event.side] = reading;
      const list = view.history[event.side];
      list.push({ at_ms: event.at_ms, rms_dbfs: event.rms_dbfs });
      const keepFrom = event.at_ms - HISTORY_WINDOW_MS - 1000;
      const drop = list.findIndex((s) => s.at_ms >= keepFrom);
      if (drop > 0) list.splice(0, drop);
      tickClock(view, event.at_ms, now);
      return;
    }
    case 'text': {
      const entry = ensureEntry(view, event.turn);
      if (event.side === 'learner') {
        if (!entry.report) {
          // A new transcript for a turn still open: an earlier attempt was dropped because the
          // learner went on speaking; what Marie had started answering is no longer current.
          if (entry.learner !== null && entry.learner !== event.text) {
            entry.marie = '';
            entry.marieFinal = false;
            entry.errors = [];
          }
          entry.learner = event.text;
        }
        pushLog(view, { type: 'text', clock, level: null, text: `learner (${turnName(event.turn)}): ${quote(event.text)}`, partialOf: null });
      } else {
        if (!entry.report) {
          entry.marie = event.text;
          entry.marieFinal = event.is_final;
        }
        const key = `marie:${entryKey(event.turn)}`;
        pushLog(view, {
          type: 'text',
          clock,
          level: null,
          text: `marie (${turnName(event.turn)}): ${quote(event.text)}${event.is_final ? ' (final)' : ' …'}`,
          partialOf: key,
        }, event.is_final);
      }
      return;
    }
    case 'turn': {
      const t = event.turn;
      applyTurn(view, t);
      const parts = [`${turnName(t.index)}: ${t.time_to_first_audio_ms === null ? 'no audio' : `${ms(t.time_to_first_audio_ms)} to first audio`}`];
      if (t.interrupted) parts.push('interrupted');
      if (t.error) parts.push(`${t.error.service} ${t.error.tag}: ${t.error.message}`);
      pushLog(view, { type: 'turn', clock, level: t.error ? 'error' : null, text: parts.join(' · '), partialOf: null });
      return;
    }
    case 'notice': {
      view.notices.push({ id: view.nextId++, received: now, level: event.level, message: event.message, service: event.service, clock });
      if (view.notices.length > 50) view.notices.splice(0, view.notices.length - 50);
      if (event.level === 'error' && event.service !== null) {
        // A service failed during a turn (or the opening): say it where it happened.
        const target =
          view.stateTurn !== null
            ? ensureEntry(view, view.stateTurn)
            : view.state === 'speaking' && view.transcript.every((e) => e.turn === null)
              ? ensureEntry(view, null)
              : null;
        if (target && !target.report?.error) target.errors.push({ service: event.service, message: event.message });
      }
      const service = event.service ? ` (${event.service})` : '';
      pushLog(view, { type: 'notice', clock, level: event.level, text: `${event.level}${service}: ${event.message}`, partialOf: null });
      return;
    }
    case 'room':
    case 'agent':
      applyLinkEvent(view, event, clock, now, true);
      return;
    case 'ended': {
      view.running = false;
      if (view.state !== 'ended') view.stateSince = now;
      view.state = 'ended';
      view.stateSeen = true;
      view.stateTurn = null;
      view.summary = event.summary;
      view.endedBecause = event.because;
      const p50 = event.summary.time_to_first_audio_p50_ms;
      pushLog(view, {
        type: 'state',
        clock,
        level: null,
        text: `ended (${event.because}): ${event.summary.turns} turn${event.summary.turns === 1 ? '' : 's'}${p50 === null ? '' : `, p50 ${ms(p50)}`}`,
        partialOf: null,
      });
      return;
    }
  }
}

/** A LiveKit `room` or `agent` event; `log`: say it in the event log. */
function applyLinkEvent(view: TalkView, event: LinkEvent, clock: number, now: number, log: boolean): void {
  view.mode = 'livekit';
  view.linkEvents.push(event);
  tickClock(view, event.at_ms, now);
  if (event.type === 'room') {
    view.room = { url: event.url, room: event.room, identity: event.identity, tokenSource: event.token_source, joinMs: event.join_ms, dispatch: event.dispatch, atMs: event.at_ms };
    if (log) {
      pushLog(view, {
        type: 'agent',
        clock,
        level: null,
        text: `joined room ${event.room} at ${event.url} as ${event.identity} in ${ms(event.join_ms)} (token: ${event.token_source}; dispatch: ${event.dispatch}) at ${(event.at_ms / 1000).toFixed(2)} s`,
        partialOf: null,
      });
    }
    return;
  }
  const agent = view.agent;
  const changed = agent.presence !== event.presence;
  if (changed) agent.sinceMs = event.at_ms;
  // Each presence says its own timeout (none once joined); a repeat without one keeps it.
  if (changed || event.timeout_ms !== null) agent.timeoutMs = event.timeout_ms;
  agent.presence = event.presence;
  agent.identity = event.identity ?? (event.presence === 'missing' ? null : agent.identity);
  agent.state = event.presence === 'joined' ? event.state : null;
  // A state change says no detail: the presence's own (`back after 2.1 s`) stays.
  if (changed || event.detail !== null) agent.detail = event.detail;
  const last = agent.steps.at(-1);
  if (!last || last.presence !== agent.presence || last.state !== agent.state) {
    agent.steps.push({ presence: agent.presence, state: agent.state, at_ms: event.at_ms });
  }
  if (!log) return;
  const who = event.identity ? ` (${event.identity})` : '';
  const what =
    event.presence === 'joined' && !changed
      ? `agent${who}: ${event.state ?? 'no state'}`
      : `agent ${event.presence}${who}${event.state ? `, ${event.state}` : ''}`;
  pushLog(view, {
    type: 'agent',
    clock,
    level: event.presence === 'missing' ? 'error' : event.presence === 'left' ? 'warning' : null,
    text: `${what}${event.detail ? `: ${event.detail}` : ''} at ${(event.at_ms / 1000).toFixed(2)} s`,
    partialOf: null,
  });
}

const isLinkEvent = (event: TalkEvent): event is LinkEvent => event.type === 'room' || event.type === 'agent';

/** What tells two link events apart (the same event from the snapshot and live has the same key). */
function linkKey(event: LinkEvent): string {
  return event.type === 'room'
    ? `room|${event.at_ms}|${event.room}|${event.identity}`
    : `agent|${event.at_ms}|${event.presence}|${event.identity ?? ''}|${event.state ?? ''}|${event.detail ?? ''}`;
}

/**
 * Folds in the room and agent events a screen that opened mid-talk missed (the snapshot's
 * `link_events`, in order), as if they had arrived live; `clock` and `now` as for
 * `applyTalkEvent` (the moment the screen learns of them). Those already applied are not
 * applied again. When some came live before the snapshot answered, the snapshot's go first
 * (the live ones it lacks came after it) and the room and the agent are rebuilt in that
 * order; the lines already in the event log stay, once.
 */
export function applyLinkEventsSoFar(view: TalkView, events: readonly TalkEvent[], clock: number, now: number): void {
  const fromSnapshot = events.filter(isLinkEvent);
  const applied = view.linkEvents;
  const seen = new Set(applied.map(linkKey));
  const missed = fromSnapshot.filter((e) => !seen.has(linkKey(e)));
  if (!missed.length) return;
  if (!applied.length) {
    for (const e of missed) applyLinkEvent(view, e, clock, now, true);
    return;
  }
  const inSnapshot = new Set(fromSnapshot.map(linkKey));
  const ordered = [...fromSnapshot, ...applied.filter((e) => !inSnapshot.has(linkKey(e)))];
  view.room = null;
  view.agent = emptyAgent();
  view.linkEvents = [];
  for (const e of ordered) applyLinkEvent(view, e, clock, now, !seen.has(linkKey(e)));
}

/** The session time moves on: `sessionNow` counts from the latest event that said it. */
function tickClock(view: TalkView, atMs: number, now: number): void {
  if (!view.clock || atMs >= view.clock.at_ms) view.clock = { at_ms: atMs, received: now };
}

/**
 * Whether an event is a session's very first (Marie starts speaking the opening, or the
 * microphone opens; through LiveKit, the room is joined): a screen that sees another one
 * first joined the session midway.
 */
export function opensSession(event: TalkEvent): boolean {
  if (event.type === 'room') return true;
  return event.type === 'state' && event.at_ms < 1000 && (event.state === 'speaking' || event.state === 'listening') && event.turn === null;
}

/** Fills the view from a finished session's report (the turns an attached screen missed). */
export function applyReport(view: TalkView, report: TalkReport): void {
  view.report = report;
  view.summary = report.summary;
  view.endedBecause = report.ended_because;
  view.running = false;
  view.state = 'ended';
  view.stateTurn = null;
  view.endedAtMs ??= report.duration_ms;
  view.mode = report.livekit || report.mode === 'livekit' ? 'livekit' : 'direct';
  if (report.livekit) applyLivekitReport(view, report.livekit, report.ended_because);
  if (report.opening !== null) {
    const opening = ensureEntry(view, null);
    opening.marie = opening.marie || report.opening;
    opening.marieFinal = true;
  }
  for (const t of report.turns) applyTurn(view, t);
}

/** Fills in the turns a screen that opened mid-talk missed (the snapshot's `turns`). */
export function applyTurnsSoFar(view: TalkView, turns: readonly TurnReport[]): void {
  for (const t of turns) applyTurn(view, t);
}

/** The turns that have a report, in order (for the latency strip and the history plot). */
export function reportedTurns(view: Pick<TalkView, 'transcript'>): TurnReport[] {
  return view.transcript.flatMap((e) => (e.report ? [e.report] : []));
}

/** The session time now (page clock `now`), estimated from the latest level. */
export function sessionNow(view: Pick<TalkView, 'clock'>, now: number): number {
  return view.clock ? view.clock.at_ms + (now - view.clock.received) : 0;
}

/** The log lines that pass the filters: the chosen types and a case-insensitive text. */
export function filterLog(log: readonly LogEntry[], types: ReadonlySet<LogType>, text: string): LogEntry[] {
  const q = text.trim().toLowerCase();
  return log.filter((l) => types.has(l.type) && (q === '' || l.text.toLowerCase().includes(q)));
}

// ---------------------------------------------------------------------------------------
// LiveKit: the room and Marie's agent.

/** Fills the room and the agent from a LiveKit report (what a screen that missed the events lacks). */
function applyLivekitReport(view: TalkView, lk: NonNullable<TalkReport['livekit']>, endedBecause: string): void {
  view.room ??= { url: lk.url, room: lk.room, identity: lk.identity, tokenSource: lk.token_source, joinMs: lk.join_ms, dispatch: lk.dispatch, atMs: lk.joined_at_ms };
  const agent = view.agent;
  agent.identity ??= lk.agent_identity;
  if (agent.steps.length) return;
  if (lk.joined_at_ms !== null) agent.steps.push({ presence: 'waiting', state: null, at_ms: lk.joined_at_ms });
  if (lk.agent_joined_at_ms !== null) agent.steps.push({ presence: 'joined', state: null, at_ms: lk.agent_joined_at_ms });
  for (const s of lk.agent_states) agent.steps.push({ presence: 'joined', state: s.state, at_ms: s.at_ms });
  if (lk.agent_identity === null && lk.joined_at_ms !== null) {
    // It never came: the session ended on it (`missing` ends the talk).
    agent.steps.push({ presence: 'missing', state: null, at_ms: view.endedAtMs ?? lk.joined_at_ms });
    agent.detail ??= endedBecause;
  }
  const last = agent.steps.at(-1);
  agent.presence ??= last?.presence ?? null;
  agent.state ??= last?.presence === 'joined' ? last.state : null;
}

/**
 * How the agent is dispatched, for the coach: `automatic dispatch`, or `explicit dispatch of
 * “marie-coach”` (from Rust's `automatic` / `explicit: <name>`).
 */
export function dispatchLabel(dispatch: string): string {
  const name = dispatch.match(/^explicit:\s*(.*)$/s)?.[1]?.trim();
  if (name !== undefined) return name ? `explicit dispatch of “${name}”` : 'explicit dispatch';
  return dispatch.trim() === 'automatic' || !dispatch.trim() ? 'automatic dispatch' : dispatch;
}

/** The dispatch a setup asks for, as Rust says it (`automatic`, or `explicit: <name>`). */
export function setupDispatch(agentName: string): string {
  const name = agentName.trim();
  return name ? `explicit: ${name}` : 'automatic';
}

/**
 * How long the agent may take to come: what its latest `waiting`/`left`/`missing` event said,
 * else the request's (else Rust's default).
 */
export function agentTimeout(view: { agent: Pick<AgentView, 'timeoutMs'>; agentTimeoutMs: number }): number {
  const said = view.agent.timeoutMs;
  if (said !== null && said > 0) return said;
  return view.agentTimeoutMs > 0 ? view.agentTimeoutMs : AGENT_TIMEOUT_DEFAULT_MS;
}

/** The token's origin in a few words: `token service`, `minted with the stack's keys`, `given`. */
export function tokenSourceShort(source: string): string {
  return source.replace(/\s*\(.*$/s, '').replace(/\s+at\s+\S+.*$/s, '').trim() || source;
}

/**
 * A missing agent's explanation cut for reading: the sentence that says what happened, then
 * each numbered reason (`… Why it may not have: (1) … (2) …`).
 */
export function detailParts(detail: string): { head: string; reasons: string[] } {
  const parts = detail.split(/\s*\(\d+\)\s+/);
  const head = parts.shift()!.trim();
  return { head, reasons: parts.map((r) => r.trim()).filter(Boolean) };
}

export type AgentTone = 'idle' | 'waiting' | 'ok' | 'warn' | 'fail';

export interface AgentBadge {
  /** `none` before any agent event. */
  presence: AgentPresence | 'none';
  tone: AgentTone;
  label: string;
  /** Counting to the timeout (0..1) while the agent is awaited; null otherwise. */
  progress: number | null;
  /** Awaited longer than the timeout and no verdict came: the count stops, no spinner. */
  overdue: boolean;
}

/**
 * The agent's presence as a badge at `nowMs` (session time, see `sessionNow`): while it is
 * awaited, the seconds count up to the timeout (the one its event said, else
 * `ctx.timeoutMs`, else Rust's default), then stop; once the talk is over nothing is awaited
 * any more.
 */
export function agentBadge(
  agent: Pick<AgentView, 'presence' | 'identity' | 'sinceMs' | 'timeoutMs'>,
  ctx: { running: boolean; nowMs: number; timeoutMs: number; character?: string },
): AgentBadge {
  const who = `${ctx.character ?? 'Marie'}’s agent`;
  const timeout = agentTimeout({ agent, agentTimeoutMs: ctx.timeoutMs });
  const waited = Math.max(0, ctx.nowMs - agent.sinceMs);
  const count = () => {
    const overdue = waited > timeout;
    const seconds = `${Math.floor(waited / 1000)} s`;
    return { progress: Math.min(1, waited / timeout), overdue, seconds: overdue ? `${seconds}; the timeout was ${Math.round(timeout / 1000)} s` : seconds };
  };
  switch (agent.presence) {
    case null:
      return ctx.running
        ? { presence: 'none', tone: 'waiting', label: 'joining the room…', progress: null, overdue: false }
        : { presence: 'none', tone: 'idle', label: 'not in a room', progress: null, overdue: false };
    case 'waiting': {
      if (!ctx.running) return { presence: 'waiting', tone: 'fail', label: `${who} never joined`, progress: null, overdue: false };
      const c = count();
      return { presence: 'waiting', tone: c.overdue ? 'warn' : 'waiting', label: `waiting for ${who}… (${c.seconds})`, progress: c.progress, overdue: c.overdue };
    }
    case 'joined':
      // Once the talk is over it is history: no longer green.
      return { presence: 'joined', tone: ctx.running ? 'ok' : 'idle', label: agent.identity ? `joined (${agent.identity})` : 'joined', progress: null, overdue: false };
    case 'left': {
      if (!ctx.running) return { presence: 'left', tone: 'fail', label: agent.identity ? `left (${agent.identity})` : 'left', progress: null, overdue: false };
      const c = count();
      return { presence: 'left', tone: 'fail', label: `left; waiting for it to come back… (${c.seconds})`, progress: c.progress, overdue: c.overdue };
    }
    case 'missing':
      return { presence: 'missing', tone: 'fail', label: 'missing', progress: null, overdue: false };
  }
}

/** The agent states the timeline colours; any other is drawn neutral. */
export const AGENT_STATE_COLOURS: Record<string, string> = {
  initializing: '#6f8796',
  listening: '#2fbf84',
  thinking: '#e5b53b',
  speaking: '#b48cff',
};

/** What a step of the agent's timeline is called: its state in the room, else its presence. */
export function agentStepLabel(step: Pick<AgentStep, 'presence' | 'state'>): string {
  return step.presence === 'joined' ? (step.state ?? 'joined') : step.presence;
}

/** A step's colour and whether it is hatched (the agent out of the room, or not there yet). */
export function agentStepLook(step: Pick<AgentStep, 'presence' | 'state'>): { colour: string; hatched: boolean } {
  switch (step.presence) {
    case 'waiting':
      return { colour: '#56625c', hatched: true };
    case 'left':
    case 'missing':
      return { colour: '#a33b3b', hatched: true };
    case 'joined':
      return { colour: (step.state && AGENT_STATE_COLOURS[step.state]) || '#93a89d', hatched: false };
  }
}

export interface AgentBlock {
  label: string;
  colour: string;
  hatched: boolean;
  /** Position and width as fractions (0..1) of the strip. */
  left: number;
  width: number;
  fromMs: number;
  toMs: number;
  /** `thinking: 1.2 s (from 12.3 s)`. */
  title: string;
}

export interface AgentStrip {
  blocks: AgentBlock[];
  fromMs: number;
  toMs: number;
  /** Session seconds along the strip. */
  ticks: Array<{ left: number; label: string }>;
}

const seconds = (value: number) => `${(value / 1000).toFixed(1)} s`;

/**
 * The agent's steps as blocks on a time axis from `startMs` (the room's join, else the first
 * step) to `endMs` (session time): the whole talk, or its last `windowMs` when longer. Each
 * step lasts until the next one.
 */
export function agentStrip(steps: readonly AgentStep[], endMs: number, windowMs = Number.POSITIVE_INFINITY, startMs: number | null = null): AgentStrip {
  if (!steps.length) return { blocks: [], fromMs: 0, toMs: 0, ticks: [] };
  const last = steps.at(-1)!.at_ms;
  const toMs = Math.max(endMs, last);
  const first = Math.min(startMs ?? steps[0]!.at_ms, steps[0]!.at_ms);
  const fromMs = Math.max(first, toMs - windowMs);
  const span = Math.max(toMs - fromMs, 1);
  const blocks: AgentBlock[] = [];
  steps.forEach((step, i) => {
    const start = step.at_ms;
    const end = steps[i + 1]?.at_ms ?? toMs;
    const from = Math.max(start, fromMs);
    const to = Math.min(end, toMs);
    if (to <= from) return;
    const label = agentStepLabel(step);
    blocks.push({
      label,
      ...agentStepLook(step),
      left: (from - fromMs) / span,
      width: (to - from) / span,
      fromMs: start,
      toMs: end,
      title: `${label}: ${seconds(end - start)} (from ${seconds(start)})`,
    });
  });
  const step = niceStep(span, 5);
  const ticks = [];
  for (let t = Math.ceil(fromMs / step) * step; t <= toMs + 1e-9; t += step) {
    ticks.push({ left: (t - fromMs) / span, label: `${Number((t / 1000).toPrecision(6))} s` });
  }
  return { blocks, fromMs, toMs, ticks };
}

/** The session time the agent's strip starts at: the room's join, once known. */
export function agentStripStart(view: Pick<TalkView, 'room'>): number | null {
  return view.room?.atMs ?? null;
}

/** The session time the agent's strip ends at: now while the talk runs, its end after. */
export function agentStripEnd(view: Pick<TalkView, 'running' | 'clock' | 'endedAtMs' | 'agent'>, now: number): number {
  const last = view.agent.steps.at(-1)?.at_ms ?? 0;
  if (view.running) return Math.max(sessionNow(view, now), last);
  return Math.max(view.endedAtMs ?? last, last);
}

/**
 * LiveKit mode: what the big state box says while the talk waits on the room or the agent
 * (the talk's own state stays idle then); null when the talk's state says it.
 */
export function agentStage(
  view: Pick<TalkView, 'mode' | 'running' | 'state' | 'room' | 'agent'>,
  character = 'Marie',
): { word: string; hint: string; waiting: boolean } | null {
  if (view.mode !== 'livekit' || !view.running || view.state !== 'idle') return null;
  if (!view.room) return { word: 'Joining the room', hint: 'Getting a token and joining the LiveKit room…', waiting: true };
  switch (view.agent.presence) {
    case null:
    case 'waiting':
      return { word: 'Awaiting agent', hint: `${character}’s agent has not joined room ${view.room.room} yet.`, waiting: true };
    case 'joined':
      return { word: 'Agent joined', hint: `${character}’s agent is getting ready; it speaks first.`, waiting: true };
    case 'left':
      return { word: 'Agent left', hint: `${character}’s agent left the room; waiting for it to come back.`, waiting: true };
    case 'missing':
      return { word: 'No agent', hint: `${character}’s agent did not come: the talk ends.`, waiting: false };
  }
}

// ---------------------------------------------------------------------------------------
// Keyboard.

/** What the focused element is, for the keyboard shortcuts. */
export type FocusKind = 'text' | 'select' | 'slider' | 'checkbox' | 'button' | 'other';

export function focusKind(el: { tagName?: string; type?: string; isContentEditable?: boolean; role?: string | null } | null | undefined): FocusKind {
  if (!el?.tagName) return 'other';
  const tag = el.tagName.toLowerCase();
  // A checkbox drawn as a button keeps its Space; the segmented control's radios are
  // buttons (Enter picks one), so that Space stays the push-to-talk key after a click there.
  if (el.role === 'checkbox' || el.role === 'switch') return 'checkbox';
  if (el.isContentEditable || tag === 'textarea') return 'text';
  if (tag === 'select') return 'select';
  if (tag === 'button' || tag === 'summary') return 'button';
  if (tag === 'input') {
    const type = (el.type ?? 'text').toLowerCase();
    if (type === 'range') return 'slider';
    if (type === 'checkbox' || type === 'radio') return 'checkbox';
    if (type === 'button' || type === 'submit' || type === 'reset') return 'button';
    return 'text';
  }
  return 'other';
}

export type KeyIntent = 'start' | 'stop' | 'interrupt' | 'hold' | 'release' | null;

export interface KeyContext {
  running: boolean;
  /** A start or a stop is on its way. */
  busy: boolean;
  pushToTalk: boolean;
  state: TalkState;
  /** The push-to-talk key is held (a `hold` was sent). */
  holding: boolean;
}

/**
 * What a key does on the Talk screen: Enter starts when idle, Escape interrupts the
 * character while they speak and stops otherwise, Space is the push-to-talk key (held
 * down, released up; repeats ignored). Keys in a text field, a select or a slider keep
 * their own meaning; Space on a button is the push-to-talk key while talking, so a
 * focused Stop button is not pressed by mistake.
 */
export function keyIntent(
  e: { key: string; type: 'keydown' | 'keyup'; repeat: boolean; altKey: boolean; ctrlKey: boolean; metaKey: boolean; shiftKey?: boolean },
  focus: FocusKind,
  ctx: KeyContext,
): KeyIntent {
  if (e.altKey || e.ctrlKey || e.metaKey) return null;
  const space = e.key === ' ' || e.key === 'Spacebar';
  if (space) {
    if (e.type === 'keyup') return ctx.holding ? 'release' : null;
    if (e.repeat || !ctx.running || !ctx.pushToTalk || ctx.holding) return null;
    return focus === 'text' || focus === 'select' || focus === 'slider' || focus === 'checkbox' ? null : 'hold';
  }
  if (e.type !== 'keydown' || e.repeat) return null;
  if (e.key === 'Enter') {
    if (ctx.running || ctx.busy) return null;
    return focus === 'text' || focus === 'button' ? null : 'start';
  }
  if (e.key === 'Escape') {
    if (!ctx.running || ctx.busy) return null;
    return ctx.state === 'speaking' ? 'interrupt' : 'stop';
  }
  return null;
}

/** `2 Dec 2026, 05:24` for the sessions list. */
export function when(unixMs: number): string {
  return unixMs ? new Date(unixMs).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' }) : '—';
}

/** How long a notice stays as a toast (every one stays in the event log, errors in the transcript too). */
export const TOAST_MS: Record<NoticeLevel, number> = { info: 8000, warning: 15000, error: 30000 };

/** The notices shown as toasts at `now` (page clock): not dismissed, not faded, the newest `max`. */
export function visibleNotices(notices: readonly TalkNotice[], dismissed: ReadonlySet<number>, now: number, max = 4): TalkNotice[] {
  return notices.filter((n) => !dismissed.has(n.id) && now - n.received < TOAST_MS[n.level]).slice(-max);
}
