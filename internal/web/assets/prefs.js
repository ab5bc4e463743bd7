// prefs.js: reading preferences a viewer chooses on their own device
// (theme, caption size), remembered in localStorage. Nothing secret is
// ever stored here.

const THEMES = ['auto', 'light', 'dark', 'contrast'];

function load(key) {
  try { return localStorage.getItem(key); } catch { return null; }
}

function save(key, value) {
  try { localStorage.setItem(key, value); } catch { /* private mode: not remembered */ }
}

/** Applies theme ('auto' follows prefers-color-scheme, via the stylesheet). */
export function applyTheme(theme) {
  if (!THEMES.includes(theme)) theme = 'auto';
  if (theme === 'auto') delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = theme;
  return theme;
}

/** Wires a <select> to the remembered theme. */
export function themeControl(select) {
  const theme = applyTheme(load('izwi.theme') || 'auto');
  if (!select) return;
  select.value = theme;
  select.addEventListener('change', () => save('izwi.theme', applyTheme(select.value)));
}

/** Sets the caption size in CSS pixels (a custom property the CSS uses). */
export function applySize(px) {
  document.body.style.setProperty('--caption-size', px + 'px');
}

/** Wires the A− / A+ buttons to the remembered caption size. */
export function sizeControl(down, up, { min = 14, max = 72, step = 4, initial = 24 } = {}) {
  let size = Number(load('izwi.size')) || initial;
  size = Math.min(max, Math.max(min, size));
  applySize(size);
  const set = (n) => {
    size = Math.min(max, Math.max(min, n));
    applySize(size);
    save('izwi.size', String(size));
    down.disabled = size <= min;
    up.disabled = size >= max;
  };
  down.addEventListener('click', () => set(size - step));
  up.addEventListener('click', () => set(size + step));
  set(size);
}
