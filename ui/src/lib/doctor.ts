import type { CheckResult, CheckStatus, DoctorSummary } from '../generated/api';

export const STATUS_LABEL: Record<CheckStatus, string> = { ok: 'OK', warn: 'Warning', fail: 'Missing' };

/** `linux` → Debian instructions first; `windows` → Windows first. */
export function installSteps(check: CheckResult, platform: string): Array<{ platform: string; step: string }> {
  if (!check.install) return [];
  const debian = { platform: 'Debian', step: check.install.debian };
  const windows = { platform: 'Windows 11', step: check.install.windows };
  return platform === 'windows' ? [windows, debian] : [debian, windows];
}

export function summaryLine(s: DoctorSummary): string {
  const parts = [`${s.ok} OK`];
  if (s.warn) parts.push(`${s.warn} warning${s.warn === 1 ? '' : 's'}`);
  if (s.fail) parts.push(`${s.fail} missing`);
  return parts.join(' · ');
}
