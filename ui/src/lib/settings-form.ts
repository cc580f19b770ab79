import type { SettingsPatch, SettingsView } from '../generated/api';

export const SECRET_FIELDS = ['livekit_api_key', 'livekit_api_secret', 'mistral_api_key'] as const;
export type SecretField = (typeof SECRET_FIELDS)[number];

/** The talk services' addresses: plain text settings, empty = the default. */
export const TALK_FIELDS = ['talk_stt_url', 'talk_llm_url', 'talk_llm_model', 'talk_tts_url', 'talk_token_url'] as const;
export type TalkField = (typeof TALK_FIELDS)[number];

/** What the settings form holds. Secrets are never loaded into it: they are write-only. */
export interface SettingsForm {
  workspace: string;
  livekit_url: string;
  talk: Record<TalkField, string>;
  /** A new value typed by the user; empty means "leave as is". */
  secrets: Record<SecretField, string>;
  /** Secrets the user asked to clear. */
  clear: Record<SecretField, boolean>;
}

export function formFrom(view: SettingsView): SettingsForm {
  return {
    workspace: view.workspace ?? '',
    livekit_url: view.livekit_url,
    talk: {
      talk_stt_url: view.talk_stt_url ?? '',
      talk_llm_url: view.talk_llm_url ?? '',
      talk_llm_model: view.talk_llm_model ?? '',
      talk_tts_url: view.talk_tts_url ?? '',
      talk_token_url: view.talk_token_url ?? '',
    },
    secrets: { livekit_api_key: '', livekit_api_secret: '', mistral_api_key: '' },
    clear: { livekit_api_key: false, livekit_api_secret: false, mistral_api_key: false },
  };
}

/**
 * The patch that turns `view` into what the form says: only changed fields are sent
 * (absent = unchanged, `""` = reset/clear), so saving an untouched form changes nothing.
 */
export function patchFrom(view: SettingsView, form: SettingsForm): SettingsPatch {
  const patch: SettingsPatch = {};
  const workspace = form.workspace.trim();
  if (workspace !== (view.workspace ?? '')) patch.workspace = workspace;
  const url = form.livekit_url.trim();
  if (url !== view.livekit_url) patch.livekit_url = url;
  for (const field of TALK_FIELDS) {
    const value = form.talk[field].trim();
    if (value !== (view[field] ?? '')) patch[field] = value;
  }
  for (const field of SECRET_FIELDS) {
    if (form.secrets[field] !== '') patch[field] = form.secrets[field];
    else if (form.clear[field] && view[field].is_set) patch[field] = '';
  }
  return patch;
}

export function isEmptyPatch(patch: SettingsPatch): boolean {
  return Object.keys(patch).length === 0;
}
