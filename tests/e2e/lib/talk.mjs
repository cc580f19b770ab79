// Talking to Marie end to end: a fake microphone and speaker (a private PulseAudio daemon,
// through the `fake-audio` helper of tests/support), the sandbox's speech services on free
// ports (a `greenroom up` of their own), and the checks of the Talk screen that both the
// browser and the desktop app run.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { REPO, TARGET, freePort, greenroom, start, stop, waitFor } from './processes.mjs';

const exe = (name) => path.join(TARGET, 'debug', process.platform === 'win32' ? `${name}.exe` : name);

/** The fake sound devices; `env` is what a process needs to use them. */
export async function startFakeAudio() {
  const child = start(exe('fake-audio'), [], { stdio: ['pipe', 'pipe', 'pipe'] });
  const lines = readline.createInterface({ input: child.stdout });
  const queue = [];
  const waiting = [];
  lines.on('line', (line) => {
    const value = JSON.parse(line);
    const next = waiting.shift();
    if (next) next(value);
    else queue.push(value);
  });
  const reply = () =>
    queue.length ? Promise.resolve(queue.shift()) : new Promise((resolve) => waiting.push(resolve));
  const ready = await Promise.race([
    reply(),
    waitFor('fake-audio to start', () => child.exitCode !== null && { exited: child.output }, { timeoutMs: 60000 }),
  ]);
  if (!ready.ready) throw new Error(`fake-audio did not start: ${JSON.stringify(ready)}`);
  return {
    env: ready.env,
    async cmd(line) {
      child.stdin.write(`${line}\n`);
      const answer = await reply();
      if (!answer.ok) throw new Error(`fake-audio ${line}: ${answer.error}`);
      return answer;
    },
    async stop() {
      child.stdin.end('quit\n');
      await waitFor('fake-audio to exit', () => child.exitCode !== null, { timeoutMs: 10000 }).catch(() => stop(child));
    },
  };
}

/** English speech as a 16 kHz mono WAV (espeak-ng, then sox; no shell). */
export function englishWav(text, out) {
  const speech = spawnSync('espeak-ng', ['-v', 'en', '--stdout', text]);
  if (speech.status !== 0) throw new Error(`espeak-ng failed: ${speech.stderr}`);
  execFileSync('sox', ['-t', 'wav', '-', '-r', '16000', '-c', '1', '-b', '16', out], { input: speech.stdout });
  return out;
}

/** The coach, the TTS and the STT of the sandbox on free ports, in a stack of their own. */
export async function startSpeechStack(dir) {
  mkdirSync(dir, { recursive: true });
  const [coach, tts, stt] = [await freePort(), await freePort(), await freePort()];
  const python = path.join(REPO, 'tools/venv-speech', process.platform === 'win32' ? 'Scripts/python.exe' : 'bin/python3');
  const script = path.join(REPO, 'crates/sandbox/stt/whisper_stt.py');
  const manifest = path.join(dir, 'speech.toml');
  const health = (port) => `[services.%s.probe]\ntype = "http"\nurl = "http://127.0.0.1:${port}/health"\n`;
  writeFileSync(
    manifest,
    `name = "e2e-speech"
[services.coach]
kind = "builtin"
builtin = "offline-coach"
ports = ["${coach}"]
${health(coach).replace('%s', 'coach')}
[services.tts]
kind = "builtin"
builtin = "sandbox-tts"
ports = ["${tts}"]
${health(tts).replace('%s', 'tts')}
[services.stt]
command = ${JSON.stringify(python)}
args = ["-u", ${JSON.stringify(script)}, "--port", "${stt}", "--threads", "1"]
ports = ["${stt}"]
${health(stt).replace('%s', 'stt')}start_timeout_ms = 90000
`,
  );
  const home = path.join(dir, 'home');
  mkdirSync(home, { recursive: true });
  const up = start(exe('greenroom'), ['--stack', manifest, 'up'], { env: { GREENROOM_HOME: home } });
  await waitFor('the speech services to be up', () => up.output.includes('supervising') || (up.exitCode !== null && Promise.reject(new Error(up.output))), {
    timeoutMs: 120000,
  });
  return {
    stt_url: `http://127.0.0.1:${stt}/transcribe`,
    llm_url: `http://127.0.0.1:${coach}/v1`,
    tts_url: `http://127.0.0.1:${tts}/v1`,
    stop: () => stop(up, 10000),
  };
}

/** Word error rate: word-level Levenshtein over the reference's length, case and punctuation ignored. */
export function wordErrorRate(reference, hypothesis) {
  const words = (s) => s.toLowerCase().replace(/[^\p{L}\p{N}' ]+/gu, ' ').split(/\s+/).filter(Boolean);
  const [r, h] = [words(reference), words(hypothesis)];
  const d = Array.from({ length: r.length + 1 }, (_, i) => [i, ...Array(h.length).fill(0)]);
  for (let j = 1; j <= h.length; j++) d[0][j] = j;
  for (let i = 1; i <= r.length; i++)
    for (let j = 1; j <= h.length; j++)
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (r[i - 1] === h[j - 1] ? 0 : 1));
  return d[r.length][h.length] / Math.max(r.length, 1);
}

const SAID = 'Thank you for coming today, I want to talk about our new project.';

/** The Talk screen with the real microphone: speak, be understood, hear Marie. */
export async function runTalkChecks(t, page, ctx) {
  await t.test('a sentence spoken into the microphone is transcribed and Marie answers aloud', async () => {
    const { audio, speech, home, dir } = ctx.talk;
    greenroom(home, ['settings', 'set', 'talk_stt_url', speech.stt_url]);
    greenroom(home, ['settings', 'set', 'talk_llm_url', speech.llm_url]);
    greenroom(home, ['settings', 'set', 'talk_tts_url', speech.tts_url]);
    const wav = englishWav(SAID, path.join(dir, 'said.wav'));
    await page.click('nav a[data-section=talk]');
    await waitFor('the Talk screen', async () => (await page.eval('document.querySelector("[data-testid=talk-start]") !== null')));
    // The services line shows the addresses from Settings (and never a key).
    await waitFor('the services from Settings', async () => (await page.text('[data-testid=talk-services]'))?.includes(speech.stt_url));
    await waitFor('Start to be enabled', async () => page.eval('!document.querySelector("[data-testid=talk-start]").disabled'), { timeoutMs: 30000 });
    await page.click('[data-testid=talk-start]');
    // Marie's opening line, then listening.
    const state = () => page.eval('document.querySelector("[data-testid=talk-state]")?.dataset.state');
    await waitFor('the talk to listen', async () => (await state()) === 'listening', { timeoutMs: 60000 });
    await audio.cmd('record');
    await audio.cmd(`speak ${wav}`);
    await waitFor('a turn with the learner’s words and Marie’s answer', async () => {
      const turn = await page.text('[data-testid=talk-turn][data-turn="0"]');
      return turn && /Learner/.test(turn) && !turn.includes('…') && (await state()) === 'listening' ? turn : false;
    }, { timeoutMs: 120000 });
    const heard = await audio.cmd(`stop-record ${path.join(dir, 'speaker.wav')}`);
    const learner = await page.text('[data-testid=talk-turn][data-turn="0"] .line.learner .said');
    const wer = wordErrorRate(SAID, learner ?? '');
    assert.ok(wer <= 0.25, `heard ${JSON.stringify(learner)} (WER ${wer.toFixed(3)})`);
    const marie = await page.text('[data-testid=talk-turn][data-turn="0"] .line.marie .said');
    assert.ok((marie ?? '').length > 10, `Marie answered: ${marie}`);
    assert.ok(heard.speech_band_seconds >= 1.0, `Marie heard on the speaker for ${heard.speech_band_seconds} s`);
    // The latency strip has the turn, with its time to first audio.
    await waitFor('the latency strip', async () => (await page.text('[data-testid=talk-latency-strip]'))?.match(/\d+\s*ms/));
    await page.screenshot('talk');
    await page.click('[data-testid=talk-stop]');
    await waitFor('the talk to end', async () => (await state()) === 'ended', { timeoutMs: 30000 });
    await page.screenshot('talk-ended');
  });
}
