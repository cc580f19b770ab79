import { describe, expect, it } from 'vitest';
import type { DeviceList, Segment, TalkCatalogView, TalkEvent, TalkReport, TalkSummary, TurnReport } from '../../generated/api';
import {
  DEFAULT_SETUP,
  LOG_CAP,
  SEGMENT_KINDS,
  SEGMENT_LABELS,
  applyReport,
  applyTurnsSoFar,
  applyTalkEvent,
  catalogExercises,
  characterName,
  clampEndOfSpeech,
  deviceOptions,
  elapsedLabel,
  emptyView,
  exerciseLabel,
  filterLog,
  focusKind,
  historyBars,
  historyPlot,
  isSandboxStt,
  isWaiting,
  keyIntent,
  levelFraction,
  liveLevel,
  loadSetup,
  ms,
  opensSession,
  parentFolder,
  reportedTurns,
  requestFromSetup,
  saveSetup,
  sessionNow,
  stateTone,
  stateWord,
  stripPieces,
  stripScale,
  turnOutcome,
  turnTitle,
  visibleNotices,
  type KeyContext,
  type LogType,
} from './present';

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
    const r = requestFromSetup({ exercise: 'entretien', mic: 'alsa:pulse', speaker: '', mode: 'push_to_talk', endOfSpeechMs: 1234, record: false });
    expect(r.exercise).toBe('entretien');
    expect(r.input).toEqual({ kind: 'device', id: 'alsa:pulse' });
    expect(r.output).toEqual({ kind: 'device', id: null });
    expect(r.push_to_talk).toBe(true);
    expect(r.end_of_speech_ms).toBe(1250);
    expect(r.record).toBe(false);
    expect(requestFromSetup(DEFAULT_SETUP)).toMatchObject({ exercise: null, push_to_talk: false, end_of_speech_ms: 800, record: true });
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

  it('shows elapsed time once a state lasts more than a second', () => {
    expect([0, 999, 1000, 1440, 9990, 12_345].map(elapsedLabel)).toEqual(['', '', '1.0 s', '1.4 s', '10.0 s', '12 s']);
  });
});

describe('latency strip and history', () => {
  it('has a label for every segment kind, as Rust names them', () => {
    expect(SEGMENT_KINDS.map((k) => SEGMENT_LABELS[k])).toEqual([
      'end of speech', 'speech-to-text', 'LLM first token', 'LLM first sentence', 'TTS first byte', 'TTS first clip', 'playback start', 'Greenroom',
    ]);
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
      started_unix_ms: 1, duration_ms: 9000, opening: 'Bonjour.', turns: [turn(0), turn(1)], summary: SUMMARY, record_dir: '/h/talk/s1', ended_because: 'stopped',
    };
    applyReport(view, report);
    expect(view.transcript.map((e) => [e.key, e.marie])).toEqual([['opening', 'Bonjour.'], ['turn-0', 'Bonjour ! Réponse 0.'], ['turn-1', 'Bonjour ! Réponse 1.']]);
    expect(view.running).toBe(false);
    expect(view.summary).toBe(SUMMARY);
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
    const all = new Set<LogType>(['state', 'text', 'turn', 'notice']);
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
