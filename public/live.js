// The /ws stream for the page: subscribes to `queue` (every event plus queue_stats), remembers the last
// seq seen and, after any disconnect (a restart, a network drop, close 4000 for a slow client), reconnects
// with backoff and resumes from it. A `reset` (the events after that seq are gone, or the store is not
// the one the seq came from) and every reconnect ask the page to refetch over REST, so nothing missed
// while away stays missing. Protocol: src/events/frames.ts and README "WebSocket /ws".

const BACKOFF_MS = [500, 1000, 2000, 4000, 8000];
const MAX_BACKOFF_MS = 10_000;
/** Seqs remembered to drop the duplicates a resume can send next to live frames (bounded). */
const SEEN_LIMIT = 500;

export class LiveFeed {
  /**
   * @param {{ url: () => string, onEvent: (frame) => void, onStats: (data) => void, onState: (state, detail?) => void, onResync: () => void }} handlers
   */
  constructor(handlers) {
    this.handlers = handlers;
    this.lastSeq = null;
    this.failures = 0;
    this.socket = null;
    this.timer = null;
    this.seen = new Set();
    this.stopped = false;
  }

  start() {
    this.stopped = false;
    this.open();
  }

  /** Drops the socket and connects again at once (a new token). */
  restart() {
    this.closeSocket();
    clearTimeout(this.timer);
    this.open();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    this.closeSocket();
  }

  closeSocket() {
    const socket = this.socket;
    this.socket = null;
    if (socket) {
      socket.onclose = null;
      socket.onmessage = null;
      socket.onerror = null;
      socket.close();
    }
  }

  open() {
    if (this.stopped) return;
    this.handlers.onState(this.lastSeq === null && this.failures === 0 ? 'connecting' : 'reconnecting');
    const socket = new WebSocket(this.handlers.url());
    this.socket = socket;
    socket.onopen = () => socket.send(JSON.stringify({ type: 'subscribe', topics: ['queue'] }));
    socket.onmessage = (message) => this.receive(socket, message.data);
    socket.onerror = () => {}; // the close that follows says what to do
    socket.onclose = (closed) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.failures += 1;
      const delay = closed.code === 4000 ? 0 : Math.min(MAX_BACKOFF_MS, BACKOFF_MS[this.failures - 1] ?? MAX_BACKOFF_MS);
      this.handlers.onState('reconnecting', closed.code === 1008 || closed.code === 4001 ? 'the service refused the token' : undefined);
      this.timer = setTimeout(() => this.open(), delay + Math.random() * 250);
    };
  }

  receive(socket, text) {
    let frame;
    try {
      frame = JSON.parse(text);
    } catch {
      return;
    }
    if (typeof frame.seq === 'number') {
      if (this.seen.has(frame.seq)) return;
      this.seen.add(frame.seq);
      if (this.seen.size > SEEN_LIMIT) this.seen.delete(this.seen.values().next().value);
      this.lastSeq = Math.max(this.lastSeq ?? 0, frame.seq);
      this.handlers.onEvent(frame);
      return;
    }
    switch (frame.type) {
      case 'subscribed':
        if (this.lastSeq !== null) socket.send(JSON.stringify({ type: 'resume', since: this.lastSeq }));
        else this.lastSeq = frame.last_seq ?? 0;
        this.failures = 0;
        this.handlers.onState('live');
        this.handlers.onResync();
        break;
      case 'resumed':
        this.lastSeq = Math.max(this.lastSeq ?? 0, frame.last_seq ?? 0);
        break;
      case 'reset':
        // Another event store (a fresh database) or events no longer kept: start over from its position.
        this.lastSeq = frame.last_seq ?? 0;
        this.seen.clear();
        this.handlers.onResync();
        break;
      case 'queue_stats':
        this.handlers.onStats(frame.data);
        break;
      default:
        break;
    }
  }
}
