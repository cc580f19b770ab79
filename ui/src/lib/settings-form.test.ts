import { describe, expect, it } from 'vitest';
import type { SettingsView } from '../generated/api';
import { formFrom, isEmptyPatch, patchFrom } from './settings-form';

const view: SettingsView = {
  workspace: '/home/me/eloquence',
  livekit_url: 'ws://127.0.0.1:7880',
  livekit_api_key: { is_set: true },
  livekit_api_secret: { is_set: false },
  mistral_api_key: { is_set: true },
  talk_stt_url: null,
  talk_llm_url: 'http://127.0.0.1:8001/v1',
  talk_llm_model: null,
  talk_tts_url: null,
  talk_token_url: null,
  file: '/home/me/.config/greenroom/settings.toml',
  file_access: { kind: 'owner_only' },
  load_error: null,
};

describe('patchFrom, talk services', () => {
  it('sends a changed address trimmed, and an emptied one as a reset', () => {
    const form = formFrom(view);
    form.talk.talk_stt_url = ' http://127.0.0.1:9000/v1/audio/transcriptions ';
    form.talk.talk_llm_url = '';
    expect(patchFrom(view, form)).toEqual({
      talk_stt_url: 'http://127.0.0.1:9000/v1/audio/transcriptions',
      talk_llm_url: '',
    });
  });
});

describe('patchFrom', () => {
  it('an untouched form changes nothing', () => {
    expect(isEmptyPatch(patchFrom(view, formFrom(view)))).toBe(true);
  });
  it('sends only what changed, trimmed', () => {
    const form = formFrom(view);
    form.livekit_url = '  ws://10.0.0.2:7880 ';
    form.secrets.livekit_api_secret = 'abc';
    expect(patchFrom(view, form)).toEqual({ livekit_url: 'ws://10.0.0.2:7880', livekit_api_secret: 'abc' });
  });
  it('clearing sends an empty string, only for a secret that is set', () => {
    const form = formFrom(view);
    form.clear.mistral_api_key = true;
    form.clear.livekit_api_secret = true;
    expect(patchFrom(view, form)).toEqual({ mistral_api_key: '' });
  });
  it('an emptied workspace resets it', () => {
    const form = formFrom(view);
    form.workspace = '';
    expect(patchFrom(view, form)).toEqual({ workspace: '' });
  });
});
