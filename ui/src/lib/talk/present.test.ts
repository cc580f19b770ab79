import { describe, expect, it } from 'vitest';
import type { DeviceList, LivekitReport, Segment, TalkCatalogView, TalkEvent, TalkReport, TalkSummary, TurnReport } from '../../generated/api';
import {
  AGENT_TIMEOUT_DEFAULT_MS,
  DEFAULT_SETUP,
  HATCHED_SEGMENTS,
  LOG_CAP,
  SEGMENT_KINDS,
  SEGMENT_LABELS,
  agentBadge,
  agentStage,
  agentStepLabel,
  agentStrip,
  agentStripEnd,
  agentStripStart,
  agentTimeout,
  applyLinkEventsSoFar,
  applyReport,
  applyTurnsSoFar,
  applyTalkEvent,
  catalogExercises,
  characterName,
  clampEndOfSpeech,
  detailParts,
  deviceOptions,
  dispatchLabel,
  elapsedLabel,
  emptyView,
  endedReason,
  exerciseLabel,
  filterLog,
  focusKind,
  historyBars,
  historyPlot,
  isSandboxStt,
  isWaiting,
  keyIntent,
  legendKinds,
  levelFraction,
  liveLevel,
  loadSetup,
  ms,
  opensSession,
  parentFolder,
  reportedTurns,
  requestFromSetup,
  saveSetup,
  segmentBackground,
  serviceName,
  sessionNow,
  setupDispatch,
  stateHint,
  stateTone,
  stateWord,
  stripPieces,
  stripScale,
  tokenSourceShort,
  turnOutcome,
  turnTitle,
  visibleNotices,
  type KeyContext,
  type LogType,
} from './present';

// A turn through Marie's LiveKit agent: the chain of crates/talk/src/segments.rs, 1290 ms.
const AGENT_SEGMENTS: Segment[] = [
  { kind: 'agent_end_of_turn', ms: 700 },
  { kind: 'agent_reply', ms: 450 },
  { kind: 'transport', ms: 80 },
  { kind: 'playback_start', ms: 20 },
  { kind: 'unobserved', ms: 40 },
];

// A complete turn as crates/talk reports it: contiguous segments summing to 1545 ms.
const SEGMENTS: Segment[] = [
  { kind: 'end_of_utterance', ms: 800 },
  { kind: 'stt', ms: 300 },
  { kind: 'llm_first_token', ms: 200 },
  { kind: 'llm_first_sentence', ms: 100 },
  { kind: 'tts_first_byte', ms: 100 },
  { kind: 'tts_rest', ms: 20 },
  { kind: 'playback_start', ms: 20 },
  { kind: 'overhead', ms: 5 },
];

function turn(index: number, over: Partial<TurnReport> = {}): TurnReport {
  return {
    index,
    started_ms: 1000 * index,
    learner_text: `bonjour ${index}`,
    marie_text: `Bonjour ! Réponse ${index}.`,
    utterance_ms: 1200,
    stt_confidence: 0.9,
    interrupted: false,
    barge_in_stop_ms: null,
    error: null,
    marks: [],
    segments: SEGMENTS,
    time_to_first_audio_ms: 1545,
    llm_total_ms: 800,
    overhead_ms: 5,
    playback_ms: 2000,
    ...over,
  };
}

const SUMMARY: TalkSummary = {
  turns: 2,
  completed: 1,
  interrupted: 0,
  failed: 1,
  time_to_first_audio_p50_ms: 1545,
  time_to_first_audio_p95_ms: 1545,
  overhead_p50_ms: 5,
  overhead_max_ms: 5,
};

const CATALOG = {
  catalog: {
    characters: [
      { id: 'marie', name: 'Marie', role: 'Coach', voice: 'nova', system_prompt: '' },
      { id: 'recruteur', name: 'Claire', role: 'Recruteuse', voice: 'alloy', system_prompt: '' },
    ],
    exercises: [
      { id: 'conversation_libre', title: 'Conversation libre', character: 'marie', description: 'Parlez.', opening: 'Bonjour !', instructions: '', duration_minutes: 5, focus: [] },
      { id: 'entretien', title: "Simulation d'entretien", character: 'recruteur', description: 'Entretien.', opening: 'Asseyez-vous.', instructions: '', duration_minutes: 10, focus: [] },
    ],
  },
  file: null,
  editable_file: '/h/talk-catalog.toml',
  problem: null,
  local_stt_note: 'English only',
} as unknown as TalkCatalogView;

describe('setup', () => {
  it('labels exercises with their character', () => {
    const [libre, entretien] = catalogExercises(CATALOG);
    expect(exerciseLabel(libre!, CATALOG)).toBe('Conversation libre · Marie');
    expect(exerciseLabel(entretien!, CATALOG)).toBe("Simulation d'entretien · Claire");
    expect(characterName(CATALOG, 'entretien')).toBe('Claire');
    expect(characterName(CATALOG, 'nope')).toBe('Marie');
    expect(catalogExercises(null)).toEqual([]);
  });

  it('builds the talk_start request from the setup', () => {
    const r = requestFromSetup({ ...DEFAULT_SETUP, exercise: 'entretien', mic: 'alsa:pulse', speaker: '', mode: 'push_to_talk', endOfSpeechMs: 1234, record: false });
    expect(r.exercise).toBe('entretien');
    expect(r.input).toEqual({ kind: 'device', id: 'alsa:pulse' });
    expect(r.output).toEqual({ kind: 'device', id: null });
    expect(r.push_to_talk).toBe(true);
    expect(r.end_of_speech_ms).toBe(1250);
    expect(r.record).toBe(false);
    expect(requestFromSetup(DEFAULT_SETUP)).toMatchObject({ exercise: null, push_to_talk: false, end_of_speech_ms: 800, record: true, mode: 'direct' });
  });

  it('asks for LiveKit with the room and the agent, leaving out what is empty', () => {
    const livekit = requestFromSetup({ ...DEFAULT_SETUP, route: 'livekit', room: '  flutter-room-42 ', agentName: ' marie-agent ' });
    expect(livekit).toMatchObject({ mode: 'livekit', room: 'flutter-room-42', agent: 'marie-agent' });
    // Empty: a new room and automatic dispatch (Rust refuses an empty room name).
    const fresh = requestFromSetup({ ...DEFAULT_SETUP, route: 'livekit', room: '   ', agentName: '' });
    expect(fresh.mode).toBe('livekit');
    expect('room' in fresh || 'agent' in fresh || 'agent_timeout_ms' in fresh).toBe(false);
    // Direct ignores what the LiveKit fields still hold.
    const direct = requestFromSetup({ ...DEFAULT_SETUP, route: 'direct', room: 'r', agentName: 'a' });
    expect(direct.mode).toBe('direct');
    expect('room' in direct || 'agent' in direct).toBe(false);
  });

  it('keeps the end-of-speech delay on the slider grid (200–2000 ms, step 50)', () => {
    expect([0, 199, 200, 824, 826, 2000, 5000, Number.NaN].map(clampEndOfSpeech)).toEqual([200, 200, 200, 800, 850, 2000, 2000, 800]);
  });

  it('remembers the setup, and survives junk', () => {
    const store = new Map<string, string>();
    const storage = { getItem: (k: string) => store.get(k) ?? null, setItem: (k: string, v: string) => void store.set(k, v) };
    expect(loadSetup(storage)).toEqual(DEFAULT_SETUP);
    saveSetup(storage, { ...DEFAULT_SETUP, exercise: 'entretien', mode: 'push_to_talk', endOfSpeechMs: 600, record: false });
    expect(loadSetup(storage)).toMatchObject({ exercise: 'entretien', mode: 'push_to_talk', endOfSpeechMs: 600, record: false });
    store.set('greenroom.talk.setup', '{not json');
    expect(loadSetup(storage)).toEqual(DEFAULT_SETUP);
    store.set('greenroom.talk.setup', '{"mode":"shout","endOfSpeechMs":99999,"record":"yes"}');
    expect(loadSetup(storage)).toMatchObject({ mode: 'voice', endOfSpeechMs: 2000, record: true });
    expect(loadSetup(null)).toEqual(DEFAULT_SETUP);
  });

  it('remembers the route and the agent name, not the room', () => {
    const store = new Map<string, string>();
    const storage = { getItem: (k: string) => store.get(k) ?? null, setItem: (k: string, v: string) => void store.set(k, v) };
    saveSetup(storage, { ...DEFAULT_SETUP, route: 'livekit', room: 'yesterday', agentName: 'marie-agent' });
    expect(loadSetup(storage)).toMatchObject({ route: 'livekit', room: '', agentName: 'marie-agent' });
    store.set('greenroom.talk.setup', '{"route":"carrier-pigeon","agentName":7,"room":"x"}');
    expect(loadSetup(storage)).toMatchObject({ route: 'direct', room: '', agentName: '' });
  });

  it('lists devices with the default marked, and keeps a chosen device that went away', () => {
    const list: DeviceList = {
      host: 'PulseAudio',
      inputs: [
        { id: 'pulse:a', name: 'Built-in mic' },
        { id: 'pulse:b', name: 'USB headset' },
      ],
      outputs: [],
      default_input: 'pulse:b',
      default_output: null,
    };
    expect(deviceOptions(list, 'input', '')).toEqual([
      { value: '', label: 'System default (USB headset)' },
      { value: 'pulse:a', label: 'Built-in mic' },
      { value: 'pulse:b', label: 'USB headset (default)' },
    ]);
    expect(deviceOptions(list, 'output', 'pulse:gone')).toEqual([
      { value: '', label: 'System default' },
      { value: 'pulse:gone', label: 'pulse:gone (not connected)' },
    ]);
    expect(deviceOptions(null, 'input', '')).toEqual([{ value: '', label: 'System default' }]);
    expect(deviceOptions({ ...list, inputs: [] }, 'input', '')).toEqual([{ value: '', label: 'No microphone found' }]);
  });

  it('recognises the sandbox speech-to-text', () => {
    expect(isSandboxStt('http://127.0.0.1:8002/transcribe')).toBe(true);
    expect(isSandboxStt('http://localhost:8002/transcribe')).toBe(true);
    expect(isSandboxStt('http://127.0.0.1:8003/transcribe')).toBe(false);
    expect(isSandboxStt('https://api.openai.com/v1/audio/transcriptions')).toBe(false);
    expect(isSandboxStt('not a url')).toBe(false);
  });

  it('finds the folder above a path', () => {
    expect(parentFolder('/home/me/.local/share/greenroom')).toBe('/home/me/.local/share');
    expect(parentFolder('/home/me/greenroom/')).toBe('/home/me');
    expect(parentFolder('/greenroom')).toBe('/');
    expect(parentFolder('C:\\Users\\me\\Greenroom')).toBe('C:\\Users\\me');
    expect(parentFolder('C:\\Greenroom')).toBe('C:\\');
    expect(parentFolder('relative')).toBe('relative');
  });
});

describe('states', () => {
  it('has a word and a tone for every state', () => {
    expect(stateWord('speaking', 'Claire')).toBe('Claire speaking');
    expect(stateWord('learner_speaking')).toBe('Learner speaking');
    expect(stateTone('listening')).toBe('listening');
    expect(stateTone('learner_speaking')).toBe('learner');
    expect(['end_of_speech', 'transcribing', 'thinking'].every((s) => isWaiting(s as never))).toBe(true);
    expect(isWaiting('speaking')).toBe(false);
    expect(stateTone('ended')).toBe('ended');
    expect(stateTone('idle')).toBe('idle');
  });

  it('says where the wait is through LiveKit: in the agent, out of sight', () => {
    expect(stateHint('thinking', 'voice')).toBe('Waiting for the conversation service.');
    expect(stateHint('thinking', 'voice', 'Marie', 'livekit')).toContain('Marie’s agent is preparing the reply');
    expect(stateHint('end_of_speech', 'voice', 'Claire', 'livekit')).toContain('Claire’s agent decides');
    expect(stateHint('listening', 'push_to_talk', 'Marie', 'livekit')).toBe(stateHint('listening', 'push_to_talk'));
  });

  it('says why a talk ended in a sentence', () => {
    expect(endedReason('stopped')).toBe('stopped');
    expect(endedReason('Marie’s agent did not join room r within 10 s. Why it may not have: (1) no worker (2) refused')).toBe('Marie’s agent did not join room r within 10 s.');
    expect(endedReason('x'.repeat(300))).toHaveLength(140);
    expect(endedReason('the conversation service at http://127.0.0.1:8000/v1 failed')).toBe('the conversation service at http://127.0.0.1:8000/v1 failed');
  });

  it('shows elapsed time once a state lasts more than a second', () => {
    expect([0, 999, 1000, 1440, 9990, 12_345].map(elapsedLabel)).toEqual(['', '', '1.0 s', '1.4 s', '10.0 s', '12 s']);
  });
});

describe('latency strip and history', () => {
  it('has a label for every segment kind, as Rust names them', () => {
    expect(SEGMENT_KINDS.map((k) => SEGMENT_LABELS[k])).toEqual([
      'end of speech', 'speech-to-text', 'LLM first token', 'LLM first sentence', 'TTS first byte', 'TTS first clip',
      'agent: end of turn + STT', 'agent: LLM + TTS', 'transport: agent → Greenroom', 'playback start', 'not observable', 'Greenroom',
    ]);
  });

  it('gives every kind its own colour, the unobservable a neutral hatch', () => {
    const colours = SEGMENT_KINDS.map((k) => segmentBackground(k));
    expect(new Set(colours).size).toBe(SEGMENT_KINDS.length);
    expect([...HATCHED_SEGMENTS]).toEqual(['unobserved']);
    expect(segmentBackground('unobserved')).toMatch(/^repeating-linear-gradient/);
    expect(segmentBackground('stt')).toBe('#2fbf84');
    expect(stripPieces(AGENT_SEGMENTS, 1000).map((p) => p.hatched)).toEqual([false, false, false, false, true]);
    expect(historyPlot([turn(0, { segments: AGENT_SEGMENTS, time_to_first_audio_ms: 1290, overhead_ms: 0 })], null, 100, 100).columns[0]!.pieces.at(-1)).toMatchObject({ kind: 'unobserved', hatched: true });
  });

  it('lists in the legend the kinds the turns have, else the route’s', () => {
    expect(legendKinds([])).toEqual(['end_of_utterance', 'stt', 'llm_first_token', 'llm_first_sentence', 'tts_first_byte', 'tts_rest', 'playback_start', 'overhead']);
    expect(legendKinds([], 'livekit')).toEqual(['agent_end_of_turn', 'agent_reply', 'transport', 'playback_start', 'unobserved']);
    expect(legendKinds([turn(0, { segments: AGENT_SEGMENTS.slice(0, 2) })], 'direct')).toEqual(['agent_end_of_turn', 'agent_reply']);
    expect(legendKinds([turn(0), turn(1, { segments: AGENT_SEGMENTS })])).toEqual(SEGMENT_KINDS);
  });

  it('names the LiveKit agent when it fails a turn', () => {
    expect(serviceName('agent')).toBe('LiveKit agent');
    expect(turnOutcome(turn(0, { time_to_first_audio_ms: null, error: { service: 'agent', url: 'ws://lk', tag: 'agent_left', message: 'left' } }))).toBe('LiveKit agent failed');
  });

  it('lays segments end to end on a common scale', () => {
    const pieces = stripPieces(SEGMENTS, 3090);
    expect(pieces).toHaveLength(8);
    expect(pieces[0]).toMatchObject({ kind: 'end_of_utterance', left: 0, width: 800 / 3090, title: 'end of speech: 800 ms' });
    expect(pieces[1]!.left).toBeCloseTo(800 / 3090);
    const last = pieces.at(-1)!;
    expect(last.left + last.width).toBeCloseTo(1545 / 3090);
    expect(last.title).toBe('Greenroom: 5.0 ms');
    expect(stripScale([turn(0), turn(1, { time_to_first_audio_ms: 3090 })])).toBe(3090);
    expect(stripScale([])).toBe(1000);
    // A failed turn spans what its segments cover.
    expect(stripScale([turn(0, { time_to_first_audio_ms: null, segments: [{ kind: 'end_of_utterance', ms: 1500 }, { kind: 'overhead', ms: 1 }] })])).toBe(1501);
  });

  it('says each segment and the total on hover, and why a turn has no total', () => {
    expect(turnTitle(turn(2))).toContain('Turn 3\nend of speech: 800 ms\nspeech-to-text: 300 ms');
    expect(turnTitle(turn(2))).toContain('time to first audio: 1545 ms');
    expect(turnOutcome(turn(0))).toBe('');
    expect(turnOutcome(turn(0, { interrupted: true }))).toBe('interrupted');
    expect(turnOutcome(turn(0, { time_to_first_audio_ms: null, error: { service: 'stt', url: 'u', tag: 'down', message: 'refused' } }))).toBe('Speech-to-text failed');
    expect(turnOutcome(turn(0, { time_to_first_audio_ms: null }))).toBe('no audio');
    expect(ms(0.4)).toBe('0.4 ms');
    expect(ms(904.4)).toBe('904 ms');
    expect(ms(null)).toBe('—');
  });

  it('stacks each turn in a column with the p50 line', () => {
    const plot = historyPlot([turn(0), turn(1, { time_to_first_audio_ms: null, segments: [] })], 1545, 400, 100);
    expect(plot.maxMs).toBe(2000);
    expect(plot.columns).toHaveLength(2);
    const [first, failed] = plot.columns;
    expect(first!.x).toBe(100);
    expect(first!.pieces).toHaveLength(8);
    expect(first!.pieces[0]).toMatchObject({ kind: 'end_of_utterance', y: 60, height: 40 });
    const top = first!.pieces.at(-1)!;
    expect(top.y).toBeCloseTo(100 - (1545 / 2000) * 100);
    expect(failed!.pieces).toEqual([]);
    expect(failed!.outcome).toBe('no audio');
    expect(plot.p50).toEqual({ y: 100 - (1545 / 2000) * 100, ms: 1545 });
    expect(plot.yTicks.map((t) => t.label)).toEqual(['0', '500', '1000', '1500', '2000']);
    expect(historyPlot([], null, 400, 100).p50).toBeNull();
  });
});

describe('levels', () => {
  it('maps dBFS to the meter', () => {
    expect([-90, -60, -30, 0, 6, Number.NEGATIVE_INFINITY, null].map((d) => levelFraction(d))).toEqual([0, 0, 0.5, 1, 1, 0, 0]);
  });

  it('holds a level briefly, then falls back', () => {
    const r = { rms_dbfs: -20, peak_dbfs: -6, at_ms: 100, received: 1000 };
    expect(liveLevel(r, 1300)).toBe(r);
    expect(liveLevel(r, 1500)).toBeNull();
    expect(liveLevel(null, 0)).toBeNull();
  });

  it('draws the last five seconds as bars, newest right', () => {
    const samples = [
      { at_ms: 0, rms_dbfs: -30 },
      { at_ms: 4000, rms_dbfs: -30 },
      { at_ms: 9000, rms_dbfs: 0 },
      { at_ms: 9933, rms_dbfs: -60 },
    ];
    const bars = historyBars(samples, 10_000, 500, 40);
    // 0 ms is outside the window; -60 dBFS draws nothing.
    expect(bars).toHaveLength(1);
    expect(bars[0]!.x).toBeCloseTo(400);
    expect(bars[0]!.height).toBe(40);
    expect(historyBars(samples, 5000, 500, 40).map((b) => b.height)).toEqual([20, 20]);
  });
});

/** Feeds events to a fresh view, one page-clock ms apart. */
function run(events: TalkEvent[]) {
  const view = emptyView('s1', 0);
  events.forEach((e, i) => applyTalkEvent(view, e, 1_700_000_000_000 + i, i));
  return view;
}

describe('the session view built from events', () => {
  const opening: TalkEvent[] = [
    { type: 'state', state: 'speaking', turn: null, at_ms: 5 },
    { type: 'text', turn: null, side: 'marie', text: 'Bonjour, je suis Marie.', is_final: true },
    { type: 'state', state: 'listening', turn: null, at_ms: 3000 },
  ];

  it('puts the opening first, then each turn: learner line, then Marie growing to final', () => {
    const view = run([
      ...opening,
      { type: 'state', state: 'learner_speaking', turn: null, at_ms: 4000 },
      { type: 'level', side: 'learner', rms_dbfs: -20, peak_dbfs: -8, at_ms: 4100 },
      { type: 'state', state: 'transcribing', turn: 0, at_ms: 6000 },
      { type: 'text', turn: 0, side: 'learner', text: 'Bonjour Marie', is_final: true },
      { type: 'state', state: 'thinking', turn: 0, at_ms: 6300 },
      { type: 'text', turn: 0, side: 'marie', text: 'Bonjour', is_final: false },
      { type: 'text', turn: 0, side: 'marie', text: 'Bonjour ! Comment', is_final: false },
    ]);
    expect(view.transcript.map((e) => e.key)).toEqual(['opening', 'turn-0']);
    expect(view.transcript[0]).toMatchObject({ marie: 'Bonjour, je suis Marie.', marieFinal: true });
    expect(view.transcript[1]).toMatchObject({ learner: 'Bonjour Marie', marie: 'Bonjour ! Comment', marieFinal: false });
    expect(view.state).toBe('thinking');
    expect(view.stateTurn).toBe(0);
    expect(view.levels.learner?.rms_dbfs).toBe(-20);
    expect(view.history.learner).toHaveLength(1);
    // The streaming reply is one log line.
    const texts = view.log.filter((l) => l.type === 'text').map((l) => l.text);
    expect(texts).toEqual(['marie (opening): “Bonjour, je suis Marie.” (final)', 'learner (turn 1): “Bonjour Marie”', 'marie (turn 1): “Bonjour ! Comment” …']);

    applyTalkEvent(view, { type: 'state', state: 'speaking', turn: 0, at_ms: 6900 }, 0, 19);
    applyTalkEvent(view, { type: 'text', turn: 0, side: 'marie', text: 'Bonjour ! Comment allez-vous ?', is_final: true }, 0, 20);
    applyTalkEvent(view, { type: 'turn', turn: turn(0, { learner_text: 'Bonjour Marie', marie_text: 'Bonjour ! Comment allez-vous ?' }) }, 0, 21);
    expect(view.transcript[1]).toMatchObject({ marie: 'Bonjour ! Comment allez-vous ?', marieFinal: true });
    expect(reportedTurns(view).map((t) => t.index)).toEqual([0]);
    // One line per reply, even with a state change in between.
    expect(view.log.filter((l) => l.type === 'text').map((l) => l.text).at(-1)).toBe('marie (turn 1): “Bonjour ! Comment allez-vous ?” (final)');
    expect(view.log.filter((l) => l.type === 'text')).toHaveLength(3);
    expect(view.log.at(-1)!.text).toBe('turn 1: 1545 ms to first audio');
  });

  it('shows a service error inline in the turn, then the report’s', () => {
    const view = run([
      ...opening,
      { type: 'state', state: 'transcribing', turn: 0, at_ms: 6000 },
      { type: 'notice', level: 'error', message: 'speech-to-text at http://127.0.0.1:8002 is down', service: 'stt' },
    ]);
    expect(view.transcript[1]).toMatchObject({ key: 'turn-0', learner: null, errors: [{ service: 'stt', message: 'speech-to-text at http://127.0.0.1:8002 is down' }] });
    expect(view.notices).toHaveLength(1);
    applyTalkEvent(view, { type: 'turn', turn: turn(0, { learner_text: '', marie_text: '', time_to_first_audio_ms: null, error: { service: 'stt', url: 'u', tag: 'down', message: 'connection refused' } }) }, 0, 9);
    expect(view.transcript[1]!.errors).toEqual([{ service: 'stt', message: 'connection refused' }]);
    expect(view.log.at(-1)).toMatchObject({ type: 'turn', level: 'error' });
  });

  it('puts a failure of the opening under the opening', () => {
    const view = run([
      { type: 'state', state: 'speaking', turn: null, at_ms: 5 },
      { type: 'text', turn: null, side: 'marie', text: 'Bonjour.', is_final: true },
      { type: 'notice', level: 'error', message: 'text-to-speech is down', service: 'tts' },
      { type: 'notice', level: 'warning', message: 'the microphone was unplugged', service: null },
    ]);
    expect(view.transcript[0]!.errors).toEqual([{ service: 'tts', message: 'text-to-speech is down' }]);
    expect(view.notices.map((n) => n.level)).toEqual(['error', 'warning']);
  });

  it('shows notices as toasts: info fades first, then warnings, then errors, or when dismissed', () => {
    const n = (id: number, level: 'info' | 'warning' | 'error', received: number) => ({ id, level, received, message: `m${id}`, service: null, clock: 0 });
    const notices = [n(1, 'error', 0), n(2, 'info', 0), n(3, 'warning', 0), n(4, 'info', 9000)];
    expect(visibleNotices(notices, new Set(), 1000).map((x) => x.id)).toEqual([1, 2, 3, 4]);
    expect(visibleNotices(notices, new Set(), 10_000).map((x) => x.id)).toEqual([1, 3, 4]);
    expect(visibleNotices(notices, new Set(), 20_000).map((x) => x.id)).toEqual([1]);
    expect(visibleNotices(notices, new Set([1]), 20_000).map((x) => x.id)).toEqual([]);
    expect(visibleNotices(notices, new Set(), 31_000).map((x) => x.id)).toEqual([]);
    expect(visibleNotices(notices, new Set(), 1000, 2).map((x) => x.id)).toEqual([3, 4]);
  });

  it('marks an interrupted turn, and a new transcript of an open turn replaces a stale reply', () => {
    const view = run([
      ...opening,
      { type: 'text', turn: 0, side: 'learner', text: 'Je', is_final: true },
      { type: 'text', turn: 0, side: 'marie', text: 'Oui', is_final: false },
      { type: 'text', turn: 0, side: 'learner', text: 'Je voudrais parler', is_final: true },
    ]);
    expect(view.transcript[1]).toMatchObject({ learner: 'Je voudrais parler', marie: '', marieFinal: false });
    applyTalkEvent(view, { type: 'turn', turn: turn(0, { interrupted: true, learner_text: 'Je voudrais parler', marie_text: 'Bien sûr' }) }, 0, 9);
    expect(view.transcript[1]).toMatchObject({ interrupted: true, marie: 'Bien sûr' });
  });

  it('ends with the summary from Rust', () => {
    const view = run([...opening, { type: 'state', state: 'ended', turn: null, at_ms: 9000 }, { type: 'ended', because: 'stopped', summary: SUMMARY }]);
    expect(view.running).toBe(false);
    expect(view.state).toBe('ended');
    expect(view.summary).toBe(SUMMARY);
    expect(view.endedBecause).toBe('stopped');
    expect(view.log.at(-1)!.text).toBe('ended (stopped): 2 turns, p50 1545 ms');
  });

  it('knows a session’s first event from one seen midway', () => {
    expect(opensSession({ type: 'state', state: 'speaking', turn: null, at_ms: 3 })).toBe(true);
    expect(opensSession({ type: 'state', state: 'listening', turn: null, at_ms: 10 })).toBe(true);
    expect(opensSession({ type: 'state', state: 'listening', turn: null, at_ms: 40_000 })).toBe(false);
    expect(opensSession({ type: 'level', side: 'learner', rms_dbfs: -120, peak_dbfs: -120, at_ms: 5 })).toBe(false);
    // Through LiveKit the room comes first (the join may take over a second).
    expect(opensSession({ type: 'room', url: 'ws://127.0.0.1:7880', room: 'r', identity: 'coach-s1', token_source: 'given', dispatch: 'automatic', join_ms: 1800, at_ms: 1850 })).toBe(true);
    expect(opensSession({ type: 'agent', presence: 'joined', identity: 'a', state: 'listening', detail: null, timeout_ms: null, at_ms: 10 })).toBe(false);
    expect(run([]).stateSeen).toBe(false);
    expect(run(opening).stateSeen).toBe(true);
  });

  it('keeps turns in order whatever order they arrive in', () => {
    const view = run([{ type: 'turn', turn: turn(1) }, { type: 'turn', turn: turn(0) }, { type: 'text', turn: null, side: 'marie', text: 'Bonjour', is_final: true }]);
    expect(view.transcript.map((e) => e.key)).toEqual(['opening', 'turn-0', 'turn-1']);
  });

  it('fills in what an attached screen missed from the report', () => {
    const view = emptyView('s1', 0);
    const report: TalkReport = {
      schema: 'greenroom.talk/1', mode: 'direct', exercise: 'conversation_libre', character: 'marie', endpoints: null,
      started_unix_ms: 1, duration_ms: 9000, opening: 'Bonjour.', turns: [turn(0), turn(1)], summary: SUMMARY, record_dir: '/h/talk/s1', livekit: null, ended_because: 'stopped',
    };
    applyReport(view, report);
    expect(view.transcript.map((e) => [e.key, e.marie])).toEqual([['opening', 'Bonjour.'], ['turn-0', 'Bonjour ! Réponse 0.'], ['turn-1', 'Bonjour ! Réponse 1.']]);
    expect(view.running).toBe(false);
    expect(view.summary).toBe(SUMMARY);
    expect(view.mode).toBe('direct');
    expect(view.room).toBeNull();
    expect(view.agent.steps).toEqual([]);
  });

  it('fills in the turns so far for a screen that opens mid-talk, still running', () => {
    const view = emptyView('s1', 0);
    view.running = true;
    applyTurnsSoFar(view, [turn(0), turn(1)]);
    expect(view.transcript.map((e) => e.key)).toEqual(['turn-0', 'turn-1']);
    expect(view.running).toBe(true);
    applyTurnsSoFar(view, [turn(0), turn(1)]);
    expect(view.transcript).toHaveLength(2);
  });

  it('caps the log and filters it by type and text', () => {
    const events: TalkEvent[] = [];
    for (let i = 0; i < LOG_CAP + 20; i++) events.push({ type: 'state', state: i % 2 ? 'listening' : 'learner_speaking', turn: null, at_ms: i });
    events.push({ type: 'notice', level: 'info', message: 'Use headphones', service: null });
    const view = run(events);
    expect(view.log).toHaveLength(LOG_CAP);
    expect(view.log.at(-1)!.type).toBe('notice');
    const all = new Set<LogType>(['state', 'text', 'turn', 'notice', 'agent']);
    expect(filterLog(view.log, new Set<LogType>(['notice']), '')).toHaveLength(1);
    expect(filterLog(view.log, all, 'HEADPHONES')).toHaveLength(1);
    expect(filterLog(view.log, new Set<LogType>(['state']), 'headphones')).toHaveLength(0);
  });

  it('keeps about five seconds of level history and tells the session time', () => {
    const view = emptyView('s1', 0);
    for (let t = 0; t <= 10_000; t += 100) applyTalkEvent(view, { type: 'level', side: 'marie', rms_dbfs: -20, peak_dbfs: -10, at_ms: t }, 0, t + 50);
    expect(view.history.marie[0]!.at_ms).toBeGreaterThanOrEqual(4000);
    expect(view.history.learner).toEqual([]);
    expect(sessionNow(view, 10_050 + 200)).toBe(10_200);
    expect(sessionNow(emptyView(), 5)).toBe(0);
  });
});

describe('LiveKit: the room and Marie’s agent', () => {
  const ROOM: TalkEvent = { type: 'room', url: 'ws://127.0.0.1:7880', room: 'greenroom-talk-s1', identity: 'coach-s1', token_source: 'token service at http://127.0.0.1:8004', dispatch: 'automatic', join_ms: 412.6, at_ms: 90 };
  const agent = (
    presence: 'waiting' | 'joined' | 'left' | 'missing',
    at_ms: number,
    state: string | null = null,
    detail: string | null = null,
    identity: string | null = presence === 'joined' || presence === 'left' ? 'agent-AJ_1' : null,
    timeout_ms: number | null = null,
  ): TalkEvent => ({ type: 'agent', presence, identity, state, detail, timeout_ms, at_ms });
  /** Events with the page clock equal to the session time (`now` = at_ms, 0 for an event without). */
  function live(events: TalkEvent[], view = emptyView('s1', 0)) {
    for (const e of events) applyTalkEvent(view, e, 1_700_000_000_000, 'at_ms' in e ? e.at_ms : 0);
    return view;
  }

  it('holds the room joined and the agent’s presence, state and steps', () => {
    const view = live([
      ROOM,
      agent('waiting', 1900, null, 'waiting up to 10 s for Marie’s agent (automatic dispatch)'),
      agent('joined', 3200),
      agent('joined', 3300, 'initializing'),
      agent('joined', 3900, 'listening'),
      agent('joined', 3900, 'listening'),
      agent('joined', 8000, 'thinking'),
      agent('joined', 8900, 'speaking'),
    ]);
    expect(view.mode).toBe('livekit');
    expect(view.room).toEqual({ url: 'ws://127.0.0.1:7880', room: 'greenroom-talk-s1', identity: 'coach-s1', tokenSource: 'token service at http://127.0.0.1:8004', joinMs: 412.6, dispatch: 'automatic', atMs: 90 });
    expect(view.agent).toMatchObject({ presence: 'joined', identity: 'agent-AJ_1', state: 'speaking', sinceMs: 3200 });
    // The same state twice is one step.
    expect(view.agent.steps.map(agentStepLabel)).toEqual(['waiting', 'joined', 'initializing', 'listening', 'thinking', 'speaking']);
    expect(view.log.filter((l) => l.type === 'agent').map((l) => l.text)).toEqual([
      'joined room greenroom-talk-s1 at ws://127.0.0.1:7880 as coach-s1 in 413 ms (token: token service at http://127.0.0.1:8004; dispatch: automatic) at 0.09 s',
      'agent waiting: waiting up to 10 s for Marie’s agent (automatic dispatch) at 1.90 s',
      'agent joined (agent-AJ_1) at 3.20 s',
      'agent (agent-AJ_1): initializing at 3.30 s',
      'agent (agent-AJ_1): listening at 3.90 s',
      'agent (agent-AJ_1): listening at 3.90 s',
      'agent (agent-AJ_1): thinking at 8.00 s',
      'agent (agent-AJ_1): speaking at 8.90 s',
    ]);
    // Agent events move the session clock on, as levels do.
    expect(sessionNow(view, 9000)).toBe(9000);
  });

  it('keeps why the agent left, forgets its state, and says when it is back', () => {
    const view = live([ROOM, agent('joined', 100, 'listening'), agent('left', 5000, null, 'Marie’s agent (agent-AJ_1) left the room: its process may have stopped. Waiting 10 s for it to come back')]);
    expect(view.agent).toMatchObject({ presence: 'left', state: null, identity: 'agent-AJ_1', sinceMs: 5000 });
    expect(view.agent.detail).toContain('left the room');
    expect(view.log.at(-1)).toMatchObject({ type: 'agent', level: 'warning' });
    applyTalkEvent(view, agent('joined', 7000, null, 'back after 2.0 s', 'agent-AJ_2'), 0, 7000);
    expect(view.agent).toMatchObject({ presence: 'joined', identity: 'agent-AJ_2', detail: 'back after 2.0 s', state: null });
    // A state change says no detail: the presence's stays.
    applyTalkEvent(view, agent('joined', 7100, 'listening', null, 'agent-AJ_2'), 0, 7100);
    expect(view.agent).toMatchObject({ detail: 'back after 2.0 s', state: 'listening', sinceMs: 7000 });
    expect(view.agent.steps.map(agentStepLabel)).toEqual(['listening', 'left', 'joined', 'listening']);
  });

  it('counts the wait up to the timeout, then stops; never spins once over', () => {
    const ctx = { running: true, timeoutMs: 10_000, character: 'Marie' };
    const at = (presence: 'waiting' | 'joined' | 'left' | 'missing' | null, identity: string | null = null, sinceMs = 0) => ({ presence, identity, sinceMs, timeoutMs: null });
    const waiting = at('waiting', null, 1000);
    expect(agentBadge(waiting, { ...ctx, nowMs: 4500 })).toEqual({ presence: 'waiting', tone: 'waiting', label: 'waiting for Marie’s agent… (3 s)', progress: 0.35, overdue: false });
    expect(agentBadge(waiting, { ...ctx, nowMs: 13_000 })).toMatchObject({ tone: 'warn', progress: 1, overdue: true, label: 'waiting for Marie’s agent… (12 s; the timeout was 10 s)' });
    expect(agentBadge(waiting, { ...ctx, running: false, nowMs: 4500 })).toMatchObject({ tone: 'fail', progress: null, label: 'Marie’s agent never joined' });
    expect(agentBadge(at('joined', 'agent-AJ_1'), { ...ctx, nowMs: 1 })).toMatchObject({ presence: 'joined', tone: 'ok', label: 'joined (agent-AJ_1)', progress: null });
    expect(agentBadge(at('joined', 'agent-AJ_1'), { ...ctx, running: false, nowMs: 1 })).toMatchObject({ presence: 'joined', tone: 'idle' });
    expect(agentBadge(at('left', 'agent-AJ_1'), { ...ctx, nowMs: 2000 })).toMatchObject({ presence: 'left', tone: 'fail', progress: 0.2, label: 'left; waiting for it to come back… (2 s)' });
    expect(agentBadge(at('left', 'agent-AJ_1'), { ...ctx, running: false, nowMs: 2000 })).toMatchObject({ progress: null, label: 'left (agent-AJ_1)' });
    expect(agentBadge(at('missing'), { ...ctx, nowMs: 2000 })).toMatchObject({ presence: 'missing', tone: 'fail', progress: null, label: 'missing' });
    expect(agentBadge(at(null), { ...ctx, nowMs: 2000 })).toMatchObject({ presence: 'none', label: 'joining the room…', progress: null });
    expect(agentBadge(at(null), { ...ctx, running: false, nowMs: 2000 })).toMatchObject({ presence: 'none', tone: 'idle' });
    // A timeout of 0 is Rust's default.
    expect(agentBadge(waiting, { ...ctx, timeoutMs: 0, nowMs: 6000 }).progress).toBe(5000 / AGENT_TIMEOUT_DEFAULT_MS);
  });

  it('counts to the timeout the agent’s event says, the request’s only when it says none', () => {
    // The request asked for 10 s; the session says 20 s (its own figure wins).
    const view = live([ROOM, agent('waiting', 1000, null, 'waiting up to 20 s', null, 20_000)]);
    view.agentTimeoutMs = 10_000;
    expect(view.agent).toMatchObject({ presence: 'waiting', sinceMs: 1000, timeoutMs: 20_000 });
    expect(agentTimeout(view)).toBe(20_000);
    const ctx = { running: true, timeoutMs: view.agentTimeoutMs };
    expect(agentBadge(view.agent, { ...ctx, nowMs: 6000 })).toMatchObject({ progress: 0.25, overdue: false, label: 'waiting for Marie’s agent… (5 s)' });
    expect(agentBadge(view.agent, { ...ctx, nowMs: 15_000 })).toMatchObject({ tone: 'waiting', overdue: false, progress: 0.7 });
    expect(agentBadge(view.agent, { ...ctx, nowMs: 22_000 })).toMatchObject({ tone: 'warn', overdue: true, label: 'waiting for Marie’s agent… (21 s; the timeout was 20 s)' });
    // Joined: no timeout any more; a state change keeps it so.
    live([agent('joined', 3000, null, null, 'agent-AJ_1'), agent('joined', 3100, 'listening')], view);
    expect(view.agent.timeoutMs).toBeNull();
    expect(agentTimeout(view)).toBe(10_000);
    // Left: its own timeout, counted from when it left.
    live([agent('left', 9000, null, 'left the room', 'agent-AJ_1', 15_000)], view);
    expect(view.agent).toMatchObject({ sinceMs: 9000, timeoutMs: 15_000 });
    expect(agentBadge(view.agent, { ...ctx, nowMs: 12_000 })).toMatchObject({ presence: 'left', progress: 0.2, label: 'left; waiting for it to come back… (3 s)' });
    // A waiting event that says none falls back to the request's, then to Rust's default.
    const older = live([ROOM, agent('waiting', 1000)]);
    older.agentTimeoutMs = 30_000;
    expect(agentTimeout(older)).toBe(30_000);
    expect(agentBadge(older.agent, { running: true, nowMs: 7000, timeoutMs: older.agentTimeoutMs }).progress).toBe(0.2);
    older.agentTimeoutMs = 0;
    expect(agentTimeout(older)).toBe(AGENT_TIMEOUT_DEFAULT_MS);
    // Missing keeps the timeout it waited (for whoever reads the view).
    expect(live([ROOM, agent('waiting', 1000, null, null, null, 20_000), agent('missing', 21_000, null, 'did not join', null, 20_000)]).agent.timeoutMs).toBe(20_000);
  });

  it('lays the agent’s steps on a time axis, the last minute while talking', () => {
    const steps = live([agent('waiting', 1000), agent('joined', 2000, 'listening'), agent('joined', 6000, 'thinking'), agent('joined', 7000, 'speaking')]).agent.steps;
    const strip = agentStrip(steps, 11_000);
    expect(strip.fromMs).toBe(1000);
    expect(strip.toMs).toBe(11_000);
    expect(strip.blocks.map((b) => [b.label, b.left, b.width])).toEqual([['waiting', 0, 0.1], ['listening', 0.1, 0.4], ['thinking', 0.5, 0.1], ['speaking', 0.6, 0.4]]);
    expect(strip.blocks[0]).toMatchObject({ hatched: true, title: 'waiting: 1.0 s (from 1.0 s)' });
    expect(strip.blocks[1]).toMatchObject({ hatched: false, colour: '#2fbf84' });
    expect(strip.ticks.map((t) => t.label)).toEqual(['2 s', '4 s', '6 s', '8 s', '10 s']);
    // A window keeps the end: the listening block is cut at its left.
    const windowed = agentStrip(steps, 11_000, 6000);
    expect(windowed.fromMs).toBe(5000);
    expect(windowed.blocks.map((b) => b.label)).toEqual(['listening', 'thinking', 'speaking']);
    expect(windowed.blocks[0]).toMatchObject({ left: 0, fromMs: 2000 });
    expect(windowed.blocks[0]!.width).toBeCloseTo(1 / 6);
    expect(agentStrip([], 5000)).toEqual({ blocks: [], fromMs: 0, toMs: 0, ticks: [] });
    // From the room's join: the time before the first step is empty track.
    const joined = agentStrip(steps, 11_000, Number.POSITIVE_INFINITY, 500);
    expect(joined.fromMs).toBe(500);
    expect(joined.blocks[0]).toMatchObject({ label: 'waiting', left: 500 / 10_500 });
    // A join said after the first step (it never is) does not cut it.
    expect(agentStrip(steps, 11_000, Number.POSITIVE_INFINITY, 1500).fromMs).toBe(1000);
    // The window still wins over the join.
    expect(agentStrip(steps, 11_000, 6000, 500).fromMs).toBe(5000);
    // An unknown state is drawn, neutral; being away is hatched.
    expect(agentStrip([{ presence: 'joined', state: 'idle', at_ms: 0 }, { presence: 'left', state: null, at_ms: 10 }], 20).blocks.map((b) => [b.colour, b.hatched])).toEqual([['#93a89d', false], ['#a33b3b', true]]);
  });

  it('ends the strip now while talking, at the end after', () => {
    const view = live([ROOM, agent('waiting', 1000), agent('joined', 2000, 'listening')]);
    view.running = true;
    expect(agentStripEnd(view, 2500)).toBe(2500);
    applyTalkEvent(view, { type: 'state', state: 'ended', turn: null, at_ms: 9000 }, 0, 9000);
    expect(view.endedAtMs).toBe(9000);
    expect(agentStripEnd(view, 20_000)).toBe(9000);
  });

  it('says in the state box what the talk waits on before the agent is there', () => {
    const view = emptyView('s1', 0);
    expect(agentStage(view)).toBeNull();
    view.mode = 'livekit';
    expect(agentStage(view)).toMatchObject({ word: 'Joining the room', waiting: true });
    applyTalkEvent(view, ROOM, 0, 0);
    applyTalkEvent(view, agent('waiting', 1000), 0, 1000);
    expect(agentStage(view, 'Claire')).toMatchObject({ word: 'Awaiting agent', hint: 'Claire’s agent has not joined room greenroom-talk-s1 yet.' });
    applyTalkEvent(view, agent('missing', 11_000, null, 'did not join'), 0, 11_000);
    expect(agentStage(view)).toMatchObject({ word: 'No agent', waiting: false });
    applyTalkEvent(view, { type: 'state', state: 'speaking', turn: null, at_ms: 3000 }, 0, 3000);
    expect(agentStage(view)).toBeNull();
  });

  it('fills the room and the agent from a LiveKit report, when the screen missed the events', () => {
    const lk: LivekitReport = {
      url: 'ws://127.0.0.1:7880', room: 'r1', identity: 'coach-s1', token_source: 'minted with the stack’s keys (explicit dispatch …)', dispatch: 'explicit: marie',
      join_ms: 300, joined_at_ms: 900, agent_joined_at_ms: 1500, agent_identity: 'agent-AJ_1', opening_first_audio_at_ms: 2500,
      agent_states: [{ state: 'listening', at_ms: 1600 }, { state: 'speaking', at_ms: 2000 }],
    };
    const report: TalkReport = {
      schema: 'greenroom.talk/1', mode: 'livekit', exercise: 'conversation_libre', character: 'marie', endpoints: null,
      started_unix_ms: 1, duration_ms: 9000, opening: null, turns: [], summary: SUMMARY, record_dir: null, livekit: lk, ended_because: 'stopped',
    };
    const view = emptyView('s1', 0);
    applyReport(view, report);
    expect(view.mode).toBe('livekit');
    expect(view.room).toMatchObject({ room: 'r1', joinMs: 300, tokenSource: lk.token_source, dispatch: 'explicit: marie', atMs: 900 });
    expect(agentStripStart(view)).toBe(900);
    expect(view.agent).toMatchObject({ presence: 'joined', identity: 'agent-AJ_1', state: 'speaking' });
    expect(view.agent.steps.map(agentStepLabel)).toEqual(['waiting', 'joined', 'listening', 'speaking']);
    expect(view.endedAtMs).toBe(9000);

    const missing = emptyView('s2', 0);
    applyReport(missing, { ...report, livekit: { ...lk, agent_joined_at_ms: null, agent_identity: null, agent_states: [] }, ended_because: 'Marie’s agent did not join room r1 within 10 s. Why…' });
    expect(missing.agent).toMatchObject({ presence: 'missing', detail: 'Marie’s agent did not join room r1 within 10 s. Why…' });
    expect(missing.agent.steps).toEqual([{ presence: 'waiting', state: null, at_ms: 900 }, { presence: 'missing', state: null, at_ms: 9000 }]);

    // Events seen live win over the report.
    const seen = live([ROOM, agent('joined', 100, 'thinking')]);
    applyReport(seen, report);
    expect(seen.room!.room).toBe('greenroom-talk-s1');
    expect(seen.agent.steps.map(agentStepLabel)).toEqual(['thinking']);
  });

  it('folds in a snapshot’s room and agent events for a screen that opens mid-talk, as if they had come live', () => {
    const past: TalkEvent[] = [
      ROOM,
      agent('waiting', 95, null, 'waiting up to 15 s for Marie’s agent (automatic dispatch)', null, 15_000),
      agent('joined', 3200),
      agent('joined', 3300, 'initializing'),
      agent('joined', 3900, 'listening'),
      agent('joined', 8000, 'thinking'),
    ];
    const reference = live(past);
    // The screen attaches at page time 50 000 (the session is further on; levels tell it soon).
    const view = emptyView('s1', 50_000);
    view.running = true;
    applyLinkEventsSoFar(view, past, 1_700_000_000_000, 50_000);
    expect(view.mode).toBe('livekit');
    expect(view.room).toEqual(reference.room);
    expect(view.agent).toEqual(reference.agent);
    expect(view.agent).toMatchObject({ presence: 'joined', identity: 'agent-AJ_1', state: 'thinking', sinceMs: 3200 });
    expect(view.agent.steps.map(agentStepLabel)).toEqual(['waiting', 'joined', 'initializing', 'listening', 'thinking']);
    expect(view.log.map((l) => l.text)).toEqual(reference.log.map((l) => l.text));
    expect(agentStripStart(view)).toBe(90);
    // The session clock is the last event's until a live one moves it.
    expect(sessionNow(view, 50_000)).toBe(8000);
    const strip = agentStrip(view.agent.steps, agentStripEnd(view, 51_000), Number.POSITIVE_INFINITY, agentStripStart(view));
    expect([strip.fromMs, strip.toMs]).toEqual([90, 9000]);
    expect(strip.blocks.map((b) => b.label)).toEqual(['waiting', 'joined', 'initializing', 'listening', 'thinking']);

    // Twice (talk_current answered twice): nothing doubles.
    applyLinkEventsSoFar(view, past, 1_700_000_000_000, 50_100);
    expect(view.agent.steps).toHaveLength(5);
    expect(view.log.filter((l) => l.type === 'agent')).toHaveLength(6);
    expect(view.linkEvents).toHaveLength(6);

    // Then the next live one goes on from there.
    applyTalkEvent(view, agent('joined', 8900, 'speaking'), 1_700_000_000_001, 50_200);
    expect(view.agent.steps.map(agentStepLabel).at(-1)).toBe('speaking');
    // An older snapshot (without it) changes nothing either.
    applyLinkEventsSoFar(view, past, 1_700_000_000_002, 50_300);
    expect(view.agent.state).toBe('speaking');
    expect(view.agent.steps).toHaveLength(6);
  });

  it('puts the snapshot’s events first when live ones came before it answered', () => {
    const past: TalkEvent[] = [ROOM, agent('waiting', 95, null, null, null, 15_000), agent('joined', 3200), agent('joined', 3900, 'listening')];
    const later: TalkEvent[] = [agent('joined', 8000, 'thinking'), agent('joined', 8900, 'speaking')];
    // The screen attached on a live event; two agent events came before talk_current answered,
    // the first of them already in the snapshot.
    const view = emptyView('s1', 0);
    view.running = true;
    live([past[3]!, ...later], view);
    expect(view.room).toBeNull();
    applyLinkEventsSoFar(view, [...past, later[0]!], 1_700_000_000_000, 9000);
    const reference = live([...past, ...later]);
    expect(view.room).toEqual(reference.room);
    expect(view.agent).toEqual(reference.agent);
    expect(view.agent.steps.map(agentStepLabel)).toEqual(['waiting', 'joined', 'listening', 'thinking', 'speaking']);
    expect(view.linkEvents.map((e) => e.at_ms)).toEqual([90, 95, 3200, 3900, 8000, 8900]);
    // Each line once: the live ones as they came, then what the snapshot added.
    const lines = view.log.filter((l) => l.type === 'agent').map((l) => l.text);
    expect(lines).toEqual([
      'agent joined (agent-AJ_1), listening at 3.90 s',
      'agent (agent-AJ_1): thinking at 8.00 s',
      'agent (agent-AJ_1): speaking at 8.90 s',
      'joined room greenroom-talk-s1 at ws://127.0.0.1:7880 as coach-s1 in 413 ms (token: token service at http://127.0.0.1:8004; dispatch: automatic) at 0.09 s',
      'agent waiting at 0.10 s',
      'agent joined (agent-AJ_1) at 3.20 s',
    ]);
  });

  it('counts a folded-in wait from when the agent was awaited, in session time', () => {
    const view = emptyView('s1', 0);
    view.running = true;
    // Reloaded 6 s into the wait for an agent that may take 15 s.
    applyLinkEventsSoFar(view, [ROOM, agent('waiting', 95, null, null, null, 15_000)], 1_700_000_000_000, 40_000);
    expect(view.agent.sinceMs).toBe(95);
    // The microphone's levels keep coming: the session is at 6.1 s.
    applyTalkEvent(view, { type: 'level', side: 'learner', rms_dbfs: -50, peak_dbfs: -45, at_ms: 6095 }, 1_700_000_000_000, 40_050);
    const badge = agentBadge(view.agent, { running: true, nowMs: sessionNow(view, 41_050), timeoutMs: AGENT_TIMEOUT_DEFAULT_MS });
    expect(badge).toMatchObject({ presence: 'waiting', progress: 7000 / 15_000, label: 'waiting for Marie’s agent… (7 s)' });
  });

  it('takes no notice of other events in a snapshot’s link events, nor of an empty list', () => {
    const view = emptyView('s1', 0);
    applyLinkEventsSoFar(view, [], 0, 0);
    applyLinkEventsSoFar(view, [{ type: 'state', state: 'listening', turn: null, at_ms: 10 }], 0, 0);
    expect(view).toEqual(emptyView('s1', 0));
  });

  it('says how the agent is dispatched, from the event or from the setup', () => {
    expect(dispatchLabel('automatic')).toBe('automatic dispatch');
    expect(dispatchLabel('explicit: marie-coach')).toBe('explicit dispatch of “marie-coach”');
    expect(dispatchLabel('explicit:')).toBe('explicit dispatch');
    expect(dispatchLabel('')).toBe('automatic dispatch');
    expect(dispatchLabel('by room rule')).toBe('by room rule');
    expect(setupDispatch('  marie-coach ')).toBe('explicit: marie-coach');
    expect(setupDispatch('')).toBe('automatic');
    expect(dispatchLabel(setupDispatch('claire'))).toBe('explicit dispatch of “claire”');
    // The room line says the session's dispatch, not the setup's.
    const view = emptyView('s1', 0);
    applyTalkEvent(view, { ...ROOM, dispatch: 'explicit: claire' } as TalkEvent, 0, 0);
    expect(view.room?.dispatch).toBe('explicit: claire');
  });

  it('says the token’s origin in a few words, and cuts a missing agent’s explanation into reasons', () => {
    expect(tokenSourceShort('token service at http://127.0.0.1:8004')).toBe('token service');
    expect(tokenSourceShort('minted with the stack’s keys (the token service at http://x failed: refused)')).toBe('minted with the stack’s keys');
    expect(tokenSourceShort('given')).toBe('given');
    expect(detailParts('Marie’s agent did not join room r within 10 s. Why it may not have: (1) no worker is registered (2) the server refused it')).toEqual({
      head: 'Marie’s agent did not join room r within 10 s. Why it may not have:',
      reasons: ['no worker is registered', 'the server refused it'],
    });
    expect(detailParts('left the room')).toEqual({ head: 'left the room', reasons: [] });
  });
});

describe('keyboard', () => {
  const idle: KeyContext = { running: false, busy: false, pushToTalk: false, state: 'idle', holding: false };
  const talking: KeyContext = { running: true, busy: false, pushToTalk: true, state: 'listening', holding: false };
  const key = (k: string, over: Partial<{ type: 'keydown' | 'keyup'; repeat: boolean; altKey: boolean; ctrlKey: boolean }> = {}) => ({
    key: k, type: 'keydown' as const, repeat: false, altKey: false, ctrlKey: false, metaKey: false, ...over,
  });

  it('knows what has focus', () => {
    expect(focusKind({ tagName: 'INPUT', type: 'range' })).toBe('slider');
    expect(focusKind({ tagName: 'INPUT', type: 'text' })).toBe('text');
    expect(focusKind({ tagName: 'INPUT' })).toBe('text');
    expect(focusKind({ tagName: 'INPUT', type: 'checkbox' })).toBe('checkbox');
    expect(focusKind({ tagName: 'SELECT' })).toBe('select');
    expect(focusKind({ tagName: 'BUTTON' })).toBe('button');
    expect(focusKind({ tagName: 'BUTTON', role: 'radio' })).toBe('button');
    expect(focusKind({ tagName: 'BUTTON', role: 'switch' })).toBe('checkbox');
    expect(focusKind({ tagName: 'DIV', isContentEditable: true })).toBe('text');
    expect(focusKind({ tagName: 'BODY' })).toBe('other');
    expect(focusKind(null)).toBe('other');
  });

  it('Enter starts when idle, not from a text field or a button', () => {
    expect(keyIntent(key('Enter'), 'other', idle)).toBe('start');
    expect(keyIntent(key('Enter'), 'select', idle)).toBe('start');
    expect(keyIntent(key('Enter'), 'text', idle)).toBeNull();
    expect(keyIntent(key('Enter'), 'button', idle)).toBeNull();
    expect(keyIntent(key('Enter'), 'other', talking)).toBeNull();
    expect(keyIntent(key('Enter'), 'other', { ...idle, busy: true })).toBeNull();
    expect(keyIntent(key('Enter', { ctrlKey: true }), 'other', idle)).toBeNull();
  });

  it('Escape interrupts while the character speaks, else stops', () => {
    expect(keyIntent(key('Escape'), 'other', { ...talking, state: 'speaking' })).toBe('interrupt');
    expect(keyIntent(key('Escape'), 'text', { ...talking, state: 'thinking' })).toBe('stop');
    expect(keyIntent(key('Escape'), 'other', idle)).toBeNull();
  });

  it('Space is the push-to-talk key: held down, released up, repeats ignored', () => {
    expect(keyIntent(key(' '), 'other', talking)).toBe('hold');
    expect(keyIntent(key(' '), 'button', talking)).toBe('hold');
    expect(keyIntent(key(' ', { repeat: true }), 'other', talking)).toBeNull();
    expect(keyIntent(key(' '), 'other', { ...talking, holding: true })).toBeNull();
    expect(keyIntent(key(' ', { type: 'keyup' }), 'other', { ...talking, holding: true })).toBe('release');
    expect(keyIntent(key(' ', { type: 'keyup' }), 'other', talking)).toBeNull();
    for (const focus of ['text', 'select', 'slider', 'checkbox'] as const) expect(keyIntent(key(' '), focus, talking)).toBeNull();
    expect(keyIntent(key(' '), 'other', { ...talking, pushToTalk: false })).toBeNull();
    expect(keyIntent(key(' '), 'other', { ...talking, running: false })).toBeNull();
    expect(keyIntent(key(' ', { altKey: true }), 'other', talking)).toBeNull();
  });
});
