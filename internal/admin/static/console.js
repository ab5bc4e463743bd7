// console.js: the live figures of a console page. Elements with
// data-poll="/api/..." are refreshed every two seconds from that
// same-origin JSON endpoint; each child with data-field="a.b" shows that
// field as text, a <meter data-field> takes it as its value. Nothing else:
// every action on the console is a plain form post.
const PERIOD_MS = 2000;

function pick(obj, path) {
  return path.split('.').reduce((o, k) => (o == null ? undefined : o[k]), obj);
}

async function refresh(root) {
  try {
    const resp = await fetch(root.dataset.poll, { cache: 'no-store', credentials: 'same-origin', headers: { Accept: 'application/json' } });
    if (!resp.ok) { root.dataset.pollState = 'error'; return; }
    const data = await resp.json();
    for (const el of root.querySelectorAll('[data-field]')) {
      const v = pick(data, el.dataset.field);
      if (el instanceof HTMLMeterElement) el.value = typeof v === 'number' ? v : 0;
      else if (el.dataset.flag !== undefined) el.hidden = !v;
      else if (typeof v === 'boolean') el.textContent = v ? 'yes' : 'no';
      else el.textContent = v == null || v === '' ? '—' : String(v);
    }
    root.dataset.pollState = 'ok';
  } catch {
    root.dataset.pollState = 'error';
  }
}

for (const root of document.querySelectorAll('[data-poll]')) {
  refresh(root);
  setInterval(() => refresh(root), PERIOD_MS);
}
