import type { ApiError, CommandArgs, CommandName, CommandResults, EventEnvelope } from '../../generated/api';
import { BackendError, toBackendError, type Backend, type ConnectionState } from './backend';

/** What HttpBackend needs from the browser; tests pass fakes. */
export interface HttpEnvironment {
  fetch: typeof fetch;
  WebSocket: new (url: string) => WebSocket;
  /** The page's origin, e.g. `http://127.0.0.1:7870`. */
  origin: string;
  setTimeout: (fn: () => void, ms: number) => unknown;
}

/** Delay before the n-th reconnection attempt: 250 ms doubling, capped at 5 s. */
export function reconnectDelay(attempt: number): number {
  return Math.min(5000, 250 * 2 ** Math.max(0, attempt));
}

/**
 * `greenroom serve` over HTTP: commands are `POST /api/call`, events arrive on the
 * `/api/events` WebSocket, which reconnects by itself with backoff.
 */
export class HttpBackend implements Backend {
  readonly kind = 'http' as const;
  private readonly handlers = new Set<(e: EventEnvelope) => void>();
  private readonly connectionHandlers = new Set<(s: ConnectionState) => void>();
  private state: ConnectionState = 'connecting';
  private attempt = 0;
  private readonly env: HttpEnvironment;

  constructor(env: HttpEnvironment) {
    this.env = env;
    this.connect();
  }

  async call<C extends CommandName>(command: C, args: CommandArgs[C]): Promise<CommandResults[C]> {
    let response: Response;
    try {
      response = await this.env.fetch(`${this.env.origin}/api/call`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ command, args }),
      });
    } catch (e) {
      throw new BackendError(
        'unavailable',
        `cannot reach Greenroom at ${this.env.origin} (${String(e)}); is \`greenroom serve\` still running?`,
      );
    }
    const text = await response.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new BackendError('internal', `Greenroom answered ${response.status} with something that is not JSON: ${text.slice(0, 200)}`);
    }
    if (!response.ok) throw toBackendError(body as ApiError);
    return body as CommandResults[C];
  }

  subscribe(handler: (event: EventEnvelope) => void): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  onConnection(handler: (state: ConnectionState) => void): () => void {
    this.connectionHandlers.add(handler);
    handler(this.state);
    return () => this.connectionHandlers.delete(handler);
  }

  private setState(state: ConnectionState): void {
    if (state === this.state) return;
    this.state = state;
    for (const h of this.connectionHandlers) h(state);
  }

  private connect(): void {
    const url = `${this.env.origin.replace(/^http/, 'ws')}/api/events`;
    const socket = new this.env.WebSocket(url);
    socket.onopen = () => {
      this.attempt = 0;
      this.setState('connected');
    };
    socket.onmessage = (message: MessageEvent) => {
      let envelope: EventEnvelope;
      try {
        envelope = JSON.parse(String(message.data)) as EventEnvelope;
      } catch {
        return;
      }
      for (const h of this.handlers) h(envelope);
    };
    socket.onclose = () => {
      this.setState('disconnected');
      const delay = reconnectDelay(this.attempt++);
      this.env.setTimeout(() => {
        this.setState('connecting');
        this.connect();
      }, delay);
    };
  }
}
