// overlay.js: the OBS overlay. The last few lines in outlined text on a
// transparent background, or in a box; theme, size, box colour and
// opacity, font, position, line count and hold time come from the query,
// which the server validated into data- attributes (docs/captions.md).
import { watch } from './captions.js';
import { applyTheme, applySize } from './prefs.js';

const d = document.body.dataset;
applyTheme(d.theme || 'dark');
if (d.size) applySize(Number(d.size));
// N lines as the viewer sees them: a long caption wraps, so the box is
// N line-heights tall and its oldest wrapped lines leave at the top.
const lines = Number(d.lines) || 2;
const style = document.body.style;
style.setProperty('--lines', String(lines));
if (d.box) {
  // "rgb" or "rrggbb", validated by the server; opacity in percent.
  const hex = d.box.length === 3 ? d.box.replace(/./g, '$&$&') : d.box;
  const [r, g, b] = [0, 2, 4].map((i) => parseInt(hex.slice(i, i + 2), 16));
  style.setProperty('--box-bg', `rgba(${r}, ${g}, ${b}, ${Number(d.opacity) / 100})`);
}
const FONTS = {
  sans: 'system-ui, "Noto Sans", "DejaVu Sans", sans-serif',
  serif: '"Noto Serif", "DejaVu Serif", Georgia, serif',
  mono: '"DejaVu Sans Mono", "Noto Sans Mono", monospace',
};
if (FONTS[d.font]) style.setProperty('--caption-font', FONTS[d.font]);
watch({ maxLines: lines, holdMs: Number(d.hold || 0) * 1000 });
