// The dashboard page: routes between the queue view (#/) and a test view (#/tests/<id>), keeps them live
// from /ws (refetching over REST after each event batch, each reconnect and each reset), asks for the API
// token once when the service wants one, and announces status changes to screen readers.
import { ApiError, token } from './api.js';
import { LiveFeed } from './live.js';
import { QueueView } from './queue-view.js';
import { TestView } from './test-view.js';

/** Events arriving close together cause one refetch. */
const REFRESH_DEBOUNCE_MS = 400;
/** Times like "pending until" and the stats move on without events too. */
const IDLE_REFRESH_MS = 30_000;

const now = () => new Date();
const $ = (id) => document.getElementById(id);

const connection = $('connection');
const announcer = $('announcer');
const queueRoot = $('queue-view');
const testRoot = $('test-view');
const tokenForm = $('token-form');
const tokenInput = $('token-input');
const tokenForget = $('token-forget');
const tokenHelp = $('token-help');

let lastAnnouncement = '';
function announce(text) {
  // The live region holds one message: a tab left open for a day never accumulates text.
  if (text === lastAnnouncement) text += '.';
  lastAnnouncement = text;
  announcer.textContent = text;
}

let askedForToken = false;
function tokenNeeded() {
  if (token.get() || askedForToken) return;
  askedForToken = true;
  tokenHelp.textContent = 'The service needs its API token for this: enter it here (kept in this tab only).';
  tokenInput.focus();
}

const queue = new QueueView(queueRoot, { announce, onTokenNeeded: tokenNeeded, now });
const test = new TestView(testRoot, { now, onTokenNeeded: tokenNeeded });

function currentTestId() {
  const match = /^#\/tests\/(.+)$/.exec(location.hash);
  return match ? decodeURIComponent(match[1]) : null;
}

// One refresh at a time; a request for another while it runs makes one more run after it.
function serialized(work) {
  let running = null;
  let again = false;
  const run = async () => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        try {
          await work();
        } catch (error) {
          if (error instanceof ApiError && error.status === 401) tokenNeeded();
          else if (!(error instanceof ApiError && error.status === 0)) console.warn('dashboard refresh failed:', error instanceof Error ? error.message : error);
        }
      } while (again);
    })();
    try {
      await running;
    } finally {
      running = null;
    }
  };
  return run;
}

const refreshQueue = serialized(() => Promise.all([queue.refreshStats(), queue.refreshJobs()]));
const refreshStats = serialized(() => queue.refreshStats());
const refreshTest = serialized(() => test.refresh());

let pending = null;
const touched = { queue: false, test: false };
function schedule(what) {
  touched[what] = true;
  if (pending) return;
  pending = setTimeout(() => {
    pending = null;
    if (touched.queue) void refreshQueue();
    if (touched.test && currentTestId() !== null) void refreshTest();
    touched.queue = touched.test = false;
  }, REFRESH_DEBOUNCE_MS);
}

function route() {
  const testId = currentTestId();
  queueRoot.hidden = testId !== null;
  testRoot.hidden = testId === null;
  document.title = testId === null ? 'Queue · FlakeBench delayed enrichment' : `Test ${testId} · FlakeBench delayed enrichment`;
  if (testId !== null) {
    void test.show(testId).then(() => document.getElementById('test-heading')?.focus());
  } else {
    test.testId = null;
    void refreshQueue();
  }
}

const CONNECTION_TEXT = { connecting: 'Connecting…', live: 'Live', reconnecting: 'Reconnecting to the service…' };
const feed = new LiveFeed({
  url: () => {
    const stored = token.get();
    return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws${stored ? `?token=${encodeURIComponent(stored)}` : ''}`;
  },
  onState: (state, detail) => {
    if (connection.dataset.state === state) return;
    connection.dataset.state = state;
    connection.textContent = detail ? `${CONNECTION_TEXT[state]} (${detail})` : CONNECTION_TEXT[state];
  },
  onEvent: (frame) => {
    schedule('queue');
    if (frame.test_id !== null && frame.test_id === currentTestId()) schedule('test');
  },
  onStats: () => void refreshStats(),
  onResync: () => {
    schedule('queue');
    if (currentTestId() !== null) schedule('test');
  },
});

function showTokenState() {
  const has = Boolean(token.get());
  tokenForget.hidden = !has;
  tokenInput.placeholder = has ? 'token set for this tab' : '';
}

tokenForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const value = tokenInput.value.trim();
  if (!value) return;
  token.set(value);
  tokenInput.value = '';
  tokenHelp.textContent = 'Token kept in this tab only (session storage); retry and cancel are on.';
  showTokenState();
  feed.restart();
  route();
});
tokenForget.addEventListener('click', () => {
  token.clear();
  tokenHelp.textContent = 'Token forgotten; retry and cancel are off.';
  showTokenState();
  feed.restart();
  route();
});

window.addEventListener('hashchange', route);
setInterval(() => {
  if (connection.dataset.state !== 'live') return; // reconnecting: the reconnect refetches
  schedule('queue');
  if (currentTestId() !== null) schedule('test');
}, IDLE_REFRESH_MS);

showTokenState();
route();
feed.start();
// For tests and curious operators: how the page is doing, without reading the DOM.
window.dashboard = { lastSeq: () => feed.lastSeq };
