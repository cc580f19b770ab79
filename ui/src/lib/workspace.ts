// The workspace: picking an Eloquence checkout, checking it, and switching to it while a
// stack runs. Pure functions and the save-with-a-decision flow, tested in workspace.test.ts.
import type { RunningStackChoice, SettingsPatch, SettingsView, WorkspaceCheck, WorkspaceVerdict } from '../generated/api';
import { toBackendError, type Backend } from './backend/backend';
import type { Tone } from './stack/present';

export const VERDICT_LABEL: Record<WorkspaceVerdict, string> = {
  checkout: 'Eloquence checkout',
  partial: 'Part of a checkout',
  not_a_checkout: 'Not a checkout',
  missing: 'Not found',
};

export function verdictTone(verdict: WorkspaceVerdict): Tone {
  switch (verdict) {
    case 'checkout':
      return 'ok';
    case 'partial':
      return 'warn';
    default:
      return 'fail';
  }
}

/** The last folder of a path, either separator: what a person recognises. */
export function folderName(path: string): string {
  const parts = path.split(/[\\/]+/).filter((p) => p.length > 0);
  return parts[parts.length - 1] ?? path;
}

/** Whether a typed path is worth checking yet (absolute, on either platform). */
export function looksAbsolute(path: string): boolean {
  return /^(\/|[A-Za-z]:[\\/]|\\\\)/.test(path.trim());
}

/** A person's answer when the workspace would change under a running stack: null cancels. */
export type AskAboutRunningStack = (message: string) => Promise<RunningStackChoice | null>;

/**
 * Saves `patch`; when the backend answers `conflict` (a stack still runs and the new
 * workspace would run another), asks the person and sends it again with the answer.
 * Resolves to the saved settings, or null when the person cancelled (nothing saved).
 */
export async function saveSettings(backend: Backend, patch: SettingsPatch, ask: AskAboutRunningStack): Promise<SettingsView | null> {
  try {
    return await backend.call('update_settings', { patch });
  } catch (raw) {
    const error = toBackendError(raw);
    if (error.code !== 'conflict') throw error;
    const choice = await ask(error.message);
    if (!choice) return null;
    return await backend.call('update_settings', { patch: { ...patch, running_stack: choice } });
  }
}

/** Checks a folder, or says why it could not be checked. */
export async function checkFolder(backend: Backend, path: string): Promise<WorkspaceCheck | string> {
  try {
    return await backend.call('check_workspace', { path });
  } catch (e) {
    return toBackendError(e).message;
  }
}
