import type { EventEnvelope } from '../generated/api';
import type { Backend, ConnectionState } from './backend';

/** What the frame shows about the event channel: its state, how many events, the last. */
export class EventLog {
  count = $state(0);
  last = $state<EventEnvelope | null>(null);
  connection = $state<ConnectionState>('connecting');

  attach(backend: Backend): () => void {
    const stopEvents = backend.subscribe((e) => {
      this.count += 1;
      this.last = e;
    });
    const stopConnection = backend.onConnection((s) => (this.connection = s));
    return () => {
      stopEvents();
      stopConnection();
    };
  }
}
