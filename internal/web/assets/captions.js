// captions.js: the caption-feed client every page shares. It asks the
// server what the session is (/view), obtains a viewer ticket when the
// session needs one, follows /captions over a WebSocket with reconnection
// (exponential backoff, catch-up with ?after=<last seq>, de-duplication by
// seq), and renders events into a container with textContent only: caption
// text is never parsed as HTML.

export const TICKET_PROTOCOL = 'izwi-ticket';

/** The session id the server validated and put on <body>. */
export function sessionId() {
  return document.body.dataset.session;
}

function api(path) {
  return '/v1/sessions/' + encodeURIComponent(sessionId()) + path;
}

/** An Error carrying the HTTP status and catalogue code of a refusal. */
export class APIError extends Error {
  constructor(status, code, message) {
    super(message || code || ('HTTP ' + status));
    this.status = status;
    this.code = code;
  }
}

async function readError(resp) {
  let code = '', message = '';
  try {
    const body = await resp.json();
    code = body.error?.code || '';
    message = body.error?.message || '';
  } catch { /* not JSON */ }
  return new APIError(resp.status, code, message);
}

/** GET /view: {id, viewer_mode, state, label?, authorized}. */
export async function fetchView(headers = {}) {
  const resp = await fetch(api('/view'), { headers, cache: 'no-store', credentials: 'omit' });
  if (!resp.ok) throw await readError(resp);
  return resp.json();
}

/** Exchanges a viewer password or link token for a single-use ticket. */
export async function viewerTicket(secret) {
  const resp = await fetch(api('/viewer-ticket'), {
    method: 'POST', cache: 'no-store', credentials: 'omit',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ secret, origin: location.origin }),
  });
  if (!resp.ok) throw await readError(resp);
  return (await resp.json()).ticket;
}

/** Obtains a ticket for this session with an API key (kept by the caller). */
export async function keyTicket(key, scope) {
  const resp = await fetch('/v1/tickets', {
    method: 'POST', cache: 'no-store', credentials: 'omit',
    headers: { 'Content-Type': 'application/json', 'Authorization': 'Bearer ' + key },
    body: JSON.stringify({ session_id: sessionId(), scope, origin: location.origin }),
  });
  if (!resp.ok) throw await readError(resp);
  return (await resp.json()).ticket;
}

/** Reads #<name>=<value> from the address and removes the fragment from
 * the address bar (and history), so a secret is neither bookmarked by
 * accident nor shown. */
export function takeFragment(name) {
  const m = new RegExp('(?:^#|&)' + name + '=([A-Za-z0-9_.~-]{1,128})(?:&|$)').exec(location.hash);
  if (!m) return '';
  history.replaceState(history.state, '', location.pathname + location.search);
  return m[1];
}

/** Reads the link token (#t=) of a link session's share URL. */
export function takeLinkToken() { return takeFragment('t'); }

/** Exchanges the console's single-use microphone pairing code (#pair=) for
 * an ingest ticket; the server starts the session if it is idle. */
export async function pairTicket(code) {
  const resp = await fetch(api('/mic-ticket'), {
    method: 'POST', cache: 'no-store', credentials: 'omit',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ code, origin: location.origin }),
  });
  if (!resp.ok) throw await readError(resp);
  return (await resp.json()).ticket;
}

export function wsURL(path) {
  return (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + api(path);
}

/**
 * Feed follows the session's captions. getTicket() returns a fresh ticket
 * (or '' for a public session); it is called before every connection,
 * since tickets are single-use. onEvent gets each event once, in seq
 * order; onStatus gets 'connecting' | 'open' | 'reconnecting' | 'closed'.
 */
export class Feed {
  constructor({ getTicket, onEvent, onStatus, onAuthError }) {
    this.getTicket = getTicket || (async () => '');
    this.onEvent = onEvent || (() => {});
    this.onStatus = onStatus || (() => {});
    this.onAuthError = onAuthError || (() => {});
    this.lastSeq = 0;
    this.attempt = 0;
    this.stopped = true;
    this.ws = null;
    this.timer = 0;
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.ws) this.ws.close(1000, 'bye');
    this.ws = null;
    this.onStatus('closed');
  }

  async connect() {
    if (this.stopped) return;
    this.onStatus(this.attempt === 0 ? 'connecting' : 'reconnecting');
    let ticket = '';
    try {
      ticket = await this.getTicket();
    } catch (err) {
      if (err instanceof APIError && (err.status === 401 || err.status === 403 || err.status === 404)) {
        this.stopped = true;
        this.onAuthError(err);
        return;
      }
      this.retry();
      return;
    }
    if (this.stopped) return;
    const url = wsURL('/captions') + (this.lastSeq > 0 ? '?after=' + this.lastSeq : '');
    const ws = ticket ? new WebSocket(url, [TICKET_PROTOCOL, ticket]) : new WebSocket(url);
    this.ws = ws;
    let opened = 0;
    ws.onopen = () => {
      if (ws !== this.ws) return;
      opened = Date.now();
      this.onStatus('open');
    };
    ws.onmessage = (msg) => {
      if (ws !== this.ws || typeof msg.data !== 'string') return;
      let ev;
      try { ev = JSON.parse(msg.data); } catch { return; }
      if (!ev || typeof ev.seq !== 'number') return;
      if (ev.seq <= this.lastSeq) return; // already seen (catch-up overlap)
      this.lastSeq = ev.seq;
      this.onEvent(ev);
    };
    ws.onclose = (e) => {
      if (ws !== this.ws) return;
      this.ws = null;
      if (this.stopped) return;
      // Only a connection that lasted starts the backoff afresh, so a
      // server that accepts and drops at once is not hammered.
      if (opened && Date.now() - opened > 5000) this.attempt = 0;
      // 4008: this viewer fell behind; catch up at once from lastSeq.
      if (e.code === 4008) { this.attempt = 0; this.connect(); return; }
      // 4004: the session is gone; retrying cannot help.
      if (e.code === 4004) { this.stopped = true; this.onStatus('missing'); return; }
      this.retry();
    };
  }

  retry() {
    if (this.stopped) return;
    this.onStatus('reconnecting');
    const base = Math.min(15000, 500 * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 10);
    this.timer = setTimeout(() => this.connect(), base / 2 + Math.random() * base / 2);
  }
}

/**
 * CaptionView renders caption events into container: one <p> per segment,
 * partials (class "partial", grey) replaced in place by later events of the
 * same segment until its final. maxLines > 0 keeps only the latest
 * captions (the page's CSS shows that many rendered lines of them);
 * holdMs > 0 clears the captions that long after the last one.
 */
export class CaptionView {
  constructor(container, { maxLines = 0, holdMs = 0, onChange } = {}) {
    this.el = container;
    this.maxLines = maxLines;
    this.holdMs = holdMs;
    this.holdTimer = 0;
    this.onChange = onChange || (() => {});
    this.open = new Map(); // segment → <p> still partial
  }

  /** Removes every caption (a paused session blanks the screens). */
  clear() {
    clearTimeout(this.holdTimer);
    this.el.replaceChildren();
    this.open.clear();
    this.onChange();
  }

  apply(ev) {
    if (ev.type !== 'caption') return;
    const key = String(ev.segment ?? 0);
    let line = this.open.get(key);
    const text = typeof ev.text === 'string' ? ev.text : '';
    if (!line) {
      if (!text) return; // an empty partial: nothing to show yet
      line = document.createElement('p');
      line.className = 'line';
      line.dataset.segment = key;
      const who = document.createElement('span');
      who.className = 'speaker';
      const words = document.createElement('span');
      words.className = 'text';
      line.append(who, words);
      this.el.append(line);
      this.open.set(key, line);
    }
    const [who, words] = line.children;
    who.textContent = ev.speaker ? ev.speaker + ': ' : '';
    who.hidden = !ev.speaker;
    words.textContent = text;
    if (ev.final) {
      this.open.delete(key);
      line.classList.remove('partial');
      line.classList.add('final');
      line.removeAttribute('aria-hidden');
      if (!text) line.remove();
    } else {
      line.classList.add('partial');
      // Screen readers announce the final line, not every partial.
      line.setAttribute('aria-hidden', 'true');
    }
    this.trim();
    if (this.holdMs > 0) {
      clearTimeout(this.holdTimer);
      this.holdTimer = setTimeout(() => this.clear(), this.holdMs);
    }
    this.onChange();
  }

  /** Ends every open partial as it stands (the session stopped, so no
   * final will come for it). */
  closeOpen() {
    for (const line of this.open.values()) {
      line.classList.remove('partial');
      line.classList.add('final');
      line.removeAttribute('aria-hidden');
    }
    this.open.clear();
  }

  trim() {
    if (this.maxLines <= 0) return;
    while (this.el.children.length > this.maxLines) {
      const first = this.el.firstElementChild;
      this.open.delete(first.dataset.segment);
      first.remove();
    }
  }

  /** The text shown, line by line (the browser tests read it). */
  text() {
    return Array.from(this.el.querySelectorAll('.line .text'), (n) => n.textContent).join('\n');
  }
}

const STATE_TEXT = {
  connecting: 'Connecting…',
  idle: 'Waiting for the session to start',
  live: 'Live',
  waiting: 'Live — waiting for audio',
  paused: 'Paused',
  interrupted: 'Interrupted — captions will resume',
  stopped: 'The session has ended',
  reconnecting: 'Reconnecting…',
  missing: 'No such session',
  locked: 'This session needs a password',
};

/**
 * engineText says which engine now makes the captions, after a switch
 * event: {engine, engine_from, reason}. Words never appear in it.
 */
export function engineText(ev) {
  if (ev.reason === 'recovered') return `Captions from ${ev.engine} again`;
  return `Captions now from ${ev.engine} (${ev.engine_from} unavailable)`;
}

/** Shows an engine switch in its element (role=status); body[data-engine] names the engine. */
export function showEngine(el, ev) {
  document.body.dataset.engine = ev.engine || '';
  if (!el) return;
  el.textContent = engineText(ev);
  el.hidden = false;
}

/** Shows state in the banner element (role=status). */
export function showState(el, state) {
  if (!el) return;
  el.dataset.state = state;
  el.textContent = STATE_TEXT[state] || state;
}

/**
 * watch wires a page: view → (secret prompt) → feed → view rendering.
 * Returns the CaptionView, the feed and apply (show one event, as the feed
 * does). opts: { maxLines, onChange, ticketWithKey }.
 */
export async function watch(opts = {}) {
  const container = document.getElementById('captions');
  const stateEl = document.getElementById('state');
  const labelEl = document.getElementById('label');
  const engineEl = document.getElementById('engine');
  const view = new CaptionView(container, { maxLines: opts.maxLines || 0, holdMs: opts.holdMs || 0, onChange: opts.onChange });
  let sessionState = 'connecting';
  // "Live" only once something was heard: a session that went live (or
  // came back after a restart, its history gone) says it is waiting for
  // audio rather than showing a green Live over an empty page.
  let heard = false;
  const shown = () => (sessionState === 'live' && !heard ? 'waiting' : sessionState);
  let secret = takeLinkToken();
  let feed = null;

  const setLabel = (label) => { if (label && labelEl) { labelEl.textContent = label; document.title = label; } };
  // Events may come from two sources (the feed, and on the mic page a
  // WebRTC data channel), each in seq order: show each seq once.
  let lastSeq = 0;
  const onEvent = (ev) => {
    if (typeof ev.seq === 'number' && ev.seq > 0) {
      if (ev.seq <= lastSeq) return;
      lastSeq = ev.seq;
    }
    if (ev.type === 'engine') {
      showEngine(engineEl, ev); // the captions keep flowing: nothing to clear
      return;
    }
    if (ev.type === 'state') {
      if (ev.state && ev.state !== sessionState) {
        if (ev.state === 'live') heard = false;
        sessionState = ev.state;
      }
      showState(stateEl, shown());
      if (ev.state === 'stopped') view.closeOpen();
      if (ev.state === 'paused') view.clear();
      setLabel(ev.label);
      return;
    }
    if (ev.type === 'speech_started' || (ev.type === 'caption' && ev.text)) {
      if (!heard) { heard = true; showState(stateEl, shown()); }
    }
    view.apply(ev);
  };
  const onStatus = (s) => {
    document.body.dataset.feed = s; // for kiosk tooling and the browser tests
    if (s === 'open') showState(stateEl, shown());
    else if (s === 'reconnecting' || s === 'missing') showState(stateEl, s);
  };

  let mode = '';
  const startFeed = (getTicket) => {
    const onAuthError = () => {
      if (mode === 'password') prompt('The password was not accepted.');
      else showState(stateEl, 'missing'); // a revoked link, a deleted session
    };
    feed = new Feed({ getTicket, onEvent, onStatus, onAuthError });
    feed.start();
  };

  const form = document.getElementById('secret-form');
  const prompt = (message) => {
    if (!form) return;
    showState(stateEl, 'locked');
    form.hidden = false;
    document.getElementById('secret-error').textContent = message || '';
    document.getElementById('secret').focus();
  };
  if (form) {
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const input = document.getElementById('secret');
      secret = input.value;
      try {
        const first = await viewerTicket(secret);
        input.value = '';
        form.hidden = true;
        let used = false;
        startFeed(async () => { if (!used) { used = true; return first; } return viewerTicket(secret); });
      } catch (err) {
        prompt(err.status === 401 ? 'The password was not accepted.' : 'Could not check the password; try again.');
      }
    });
  }

  // The server may be restarting or the network down: keep asking, with
  // the feed's backoff, until the session answers or is known missing.
  let info = null;
  for (let attempt = 0; !info; attempt++) {
    try {
      info = await fetchView();
    } catch (err) {
      if (err instanceof APIError && err.status === 404) {
        if (!opts.ticketWithKey) showState(stateEl, 'missing');
        // The mic page: a private session shows only once the key is known.
        return { view, info: null, feed: () => feed, startFeed, state: () => sessionState, apply: onEvent };
      }
      showState(stateEl, 'reconnecting');
      const wait = Math.min(15000, 500 * 2 ** Math.min(attempt, 10));
      await new Promise((resolve) => setTimeout(resolve, wait / 2 + Math.random() * wait / 2));
    }
  }
  mode = info.viewer_mode;
  sessionState = info.state;
  showState(stateEl, shown());
  setLabel(info.label);
  if (info.viewer_mode === 'public' || info.authorized) {
    startFeed(async () => '');
  } else if (info.viewer_mode === 'link' && secret) {
    startFeed(() => viewerTicket(secret));
  } else if (info.viewer_mode === 'password') {
    prompt('');
  } else if (opts.ticketWithKey) {
    // mic page with a private session: started once the key is known.
  } else {
    showState(stateEl, 'missing');
  }
  return { view, info, feed: () => feed, linkToken: secret, startFeed, state: () => sessionState, apply: onEvent };
}
