// Dev-only harness (see talk-harness.html): the real App with a backend that answers from
// fixtures and replays a made-up talk. Nothing here ships: the build only takes index.html.
import { mount } from 'svelte';
import '../src/app.css';
import App from '../src/App.svelte';
import type { Backend, ConnectionState } from '../src/lib/backend';
import { BackendError } from '../src/lib/backend/backend';
import type { CommandArgs, CommandName, CommandResults, EventEnvelope, Segment, TalkEvent, TalkReport, TalkState, TurnReport } from '../src/generated/api';

const params = new URLSearchParams(window.location.search);
const SPEED = Number(params.get('speed') ?? '1') || 1;
const UNTIL = params.has('until') ? Number(params.get('until')) : Infinity;
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

const REPORT: TalkReport = {
  schema: 'greenroom.talk/1', mode: 'direct', exercise: 'conversation_libre', character: 'marie', endpoints: null,
  started_unix_ms: Date.now(), duration_ms: 31000, opening: OPENING, turns: TURNS, summary: SUMMARY,
  record_dir: `/home/coach/.local/share/greenroom/talk/${SESSION}`, ended_because: 'stopped',
};

class HarnessBackend implements Backend {
  readonly kind = 'http' as const;
  private handlers = new Set<(e: EventEnvelope) => void>();
  private seq = 0;
  private ended = false;
  private started = false;

  subscribe(handler: (e: EventEnvelope) => void) {
    this.handlers.add(handler);
    return () => void this.handlers.delete(handler);
  }

  onConnection(handler: (s: ConnectionState) => void) {
    handler('connected');
    return () => {};
  }

  private replay() {
    const t0 = performance.now();
    for (const [at, event] of timeline()) {
      if (at > UNTIL) break;
      setTimeout(() => {
        if (event.type === 'ended') this.ended = true;
        const envelope: EventEnvelope = { topic: `talk://${SESSION}`, seq: ++this.seq, at_ms: Date.now(), event: { kind: 'talk', session: SESSION, event } };
        for (const h of this.handlers) h(envelope);
      }, Math.max(0, at / SPEED - (performance.now() - t0)));
    }
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
        return answer(this.ended ? { session: SESSION, running: false, state: 'ended', exercise: 'conversation_libre', report: REPORT } : null);
      case 'talk_sessions':
        return answer(this.ended ? [{ session: SESSION, dir: REPORT.record_dir, exercise: 'conversation_libre', started_unix_ms: REPORT.started_unix_ms, turns: 4, time_to_first_audio_p50_ms: SUMMARY.time_to_first_audio_p50_ms }] : []);
      case 'talk_start':
        if (this.started) throw new BackendError('invalid_input', 'the harness replays one session; reload the page');
        this.started = true;
        setTimeout(() => this.replay(), 0);
        return answer({ session: SESSION, exercise: { id: 'conversation_libre', title: 'Conversation libre', character: 'marie' }, character: { id: 'marie', name: 'Marie' }, endpoints, record_dir: REPORT.record_dir });
      case 'talk_control':
        return answer(null);
      case 'talk_export':
        return answer(`${(args as CommandArgs['talk_export']).destination}/greenroom-talk-${SESSION}`);
      default:
        throw new BackendError('unavailable', `the harness does not answer ${command}`);
    }
  }
}

const backend = new HarnessBackend();
mount(App, { target: document.getElementById('app')!, props: { backend } });
if (params.has('autostart')) setTimeout(() => void backend.call('talk_start', { request: {} as CommandArgs['talk_start']['request'] }), 300);
