// The one interface every screen talks to. Two implementations: Tauri (desktop app) and
// HTTP/WebSocket (`greenroom serve` in a browser). Both carry the same commands and the
// same event envelopes, generated from Rust in ../../generated/api.ts.
import type { ApiError, CommandArgs, CommandName, CommandResults, ErrorCode, EventEnvelope } from '../../generated/api';

export type ConnectionState = 'connected' | 'connecting' | 'disconnected';

export interface Backend {
  /** `tauri` in the desktop app, `http` in a browser. */
  readonly kind: 'tauri' | 'http';
  /** Runs a command; rejects with a {@link BackendError}. */
  call<C extends CommandName>(command: C, args: CommandArgs[C]): Promise<CommandResults[C]>;
  /** Every event, in order; returns the function that stops listening. */
  subscribe(handler: (event: EventEnvelope) => void): () => void;
  /** The event channel's state; `handler` is called at once with the current one. */
  onConnection(handler: (state: ConnectionState) => void): () => void;
  /**
   * The system's folder dialog (desktop only): the chosen folder, or null when cancelled.
   * Absent in a browser, which cannot learn a local path: the UI browses folders through
   * the `list_folders` command there.
   */
  pickFolder?(title: string, start: string | null): Promise<string | null>;
}

/** An error from the backend, with the code a screen may branch on. */
export class BackendError extends Error implements ApiError {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'BackendError';
    this.code = code;
  }
}

const CODES: readonly ErrorCode[] = ['invalid_input', 'not_found', 'unavailable', 'conflict', 'internal'];

/** Whatever was thrown, as a BackendError: `{code, message}` objects keep their code. */
export function toBackendError(raw: unknown): BackendError {
  if (raw instanceof BackendError) return raw;
  if (typeof raw === 'object' && raw !== null && 'message' in raw) {
    const { code, message } = raw as { code?: unknown; message?: unknown };
    const known = CODES.find((c) => c === code);
    return new BackendError(known ?? 'internal', String(message));
  }
  if (typeof raw === 'string') return new BackendError('internal', raw);
  return new BackendError('internal', 'an unknown error happened in the backend');
}
