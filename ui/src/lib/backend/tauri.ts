import { invoke } from '@tauri-apps/api/core';
import { listen } from '@tauri-apps/api/event';
import type { CommandArgs, CommandName, CommandResults, EventEnvelope } from '../../generated/api';
import { toBackendError, type Backend, type ConnectionState } from './backend';

/** The Tauri event that carries every envelope (greenroom_api::TAURI_EVENT). */
export const TAURI_EVENT = 'greenroom://event';

export function isTauri(): boolean {
  return typeof window !== 'undefined' && '__TAURI_INTERNALS__' in window;
}

export class TauriBackend implements Backend {
  readonly kind = 'tauri' as const;

  async call<C extends CommandName>(command: C, args: CommandArgs[C]): Promise<CommandResults[C]> {
    try {
      return await invoke<CommandResults[C]>('call', { request: { command, args } });
    } catch (raw) {
      throw toBackendError(raw);
    }
  }

  async pickFolder(title: string, start: string | null): Promise<string | null> {
    try {
      return await invoke<string | null>('pick_folder', { title, start });
    } catch (raw) {
      throw toBackendError(raw);
    }
  }

  subscribe(handler: (event: EventEnvelope) => void): () => void {
    let stop: (() => void) | null = null;
    let stopped = false;
    void listen<EventEnvelope>(TAURI_EVENT, (e) => handler(e.payload)).then((unlisten) => {
      if (stopped) unlisten();
      else stop = unlisten;
    });
    return () => {
      stopped = true;
      stop?.();
    };
  }

  onConnection(handler: (state: ConnectionState) => void): () => void {
    // In-process: the channel is always up.
    handler('connected');
    return () => {};
  }
}
