// In-process bus of committed events: writers publish after their transaction committed (never before,
// so a rolled-back change is never announced). Events carry no SEQ here (the sequence value is assigned
// by the database); a subscriber that needs SEQ (the WebSocket replay) reads the outbox with
// readEventsAfter(). Publishing never throws into the writer.
import type { EnrichmentEvent } from './outbox.js';

export type EventListener = (event: EnrichmentEvent) => void;

export class EventBus {
  private readonly listeners = new Set<EventListener>();

  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  publish(events: readonly EnrichmentEvent[]): void {
    for (const event of events) {
      for (const listener of this.listeners) {
        try {
          listener(event);
        } catch {
          // A faulty subscriber must not break the processor.
        }
      }
    }
  }
}

/** One bus per Services object, created on first use (Services has no field for it yet). */
const buses = new WeakMap<object, EventBus>();

export function eventBusOf(owner: object): EventBus {
  let bus = buses.get(owner);
  if (!bus) {
    bus = new EventBus();
    buses.set(owner, bus);
  }
  return bus;
}
