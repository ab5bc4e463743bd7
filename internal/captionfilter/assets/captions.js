// captions.js: the console's caption settings and overlay builder. Saving
// sends the settings as JSON with the CSRF token (X-CSRF-Token); the
// overlay address is rebuilt from the form on every change and shown in
// the preview frame.
const csrf = document.querySelector('meta[name=csrf]').content;
const result = document.getElementById('result');
const show = (msg, cls) => { result.textContent = msg; result.className = cls; };

const settings = document.getElementById('settings');
settings.addEventListener('submit', async (e) => {
  e.preventDefault();
  const f = settings.elements;
  const replace = f.replace.value.split('\n').map((l) => l.split('=')).filter((p) => p.length === 2 && p[0].trim())
    .map(([find, repl]) => ({ find: find.trim(), replace: repl.trim() }));
  const res = await fetch(settings.dataset.url, {
    method: 'PUT', credentials: 'same-origin',
    headers: { 'X-CSRF-Token': csrf, 'Content-Type': 'application/json' },
    body: JSON.stringify({ format: f.format.checked, profanity_filter: f.profanity_filter.checked, replace }),
  });
  if (res.ok) { show('Saved: the next caption uses these settings.', 'ok'); return; }
  const b = await res.json().catch(() => ({}));
  show((b.error && b.error.message) || `Not saved (${res.status}).`, 'error');
});

const overlay = document.getElementById('overlay');
const url = document.getElementById('o-url');
const preview = document.getElementById('preview');
function rebuild() {
  const f = overlay.elements;
  const q = new URLSearchParams();
  if (f.box.checked) { q.set('bg', f.bg.value.slice(1)); q.set('opacity', f.opacity.value); }
  q.set('font', f.font.value);
  if (f.position.value !== 'bottom') q.set('position', f.position.value);
  q.set('size', f.size.value);
  q.set('lines', f.lines.value);
  if (Number(f.hold.value) > 0) q.set('hold', f.hold.value);
  url.value = overlay.dataset.base + '?' + q.toString();
  if (preview.src !== url.value) preview.src = url.value;
}
overlay.addEventListener('input', rebuild);
overlay.addEventListener('change', rebuild);
rebuild();
