// overlay.js: the OBS overlay. The last few lines in outlined text on a
// transparent background; theme and size come from the query, which the
// server validated into data- attributes.
import { watch } from './captions.js';
import { applyTheme, applySize } from './prefs.js';

const d = document.body.dataset;
applyTheme(d.theme || 'dark');
if (d.size) applySize(Number(d.size));
// N lines as the viewer sees them: a long caption wraps, so the box is
// N line-heights tall and its oldest wrapped lines leave at the top.
const lines = Number(d.lines) || 2;
document.body.style.setProperty('--lines', String(lines));
watch({ maxLines: lines });
