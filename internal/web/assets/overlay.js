// overlay.js: the OBS overlay. The last few lines in outlined text on a
// transparent background; theme and size come from the query, which the
// server validated into data- attributes.
import { watch } from './captions.js';
import { applyTheme, applySize } from './prefs.js';

const d = document.body.dataset;
applyTheme(d.theme || 'dark');
if (d.size) applySize(Number(d.size));
watch({ maxLines: Number(d.lines) || 2 });
