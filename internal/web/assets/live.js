// live.js: the phone page. Captions follow the newest line while the
// reader is at the bottom; scrolling up stops following and offers
// "Jump to latest".
import { watch } from './captions.js';
import { themeControl, sizeControl } from './prefs.js';

themeControl(document.getElementById('theme'));
sizeControl(document.getElementById('font-down'), document.getElementById('font-up'));

const box = document.getElementById('captions');
const jump = document.getElementById('jump');
let follow = true;

const atBottom = () => box.scrollHeight - box.scrollTop - box.clientHeight < 24;
const toBottom = () => { box.scrollTop = box.scrollHeight; };

box.addEventListener('scroll', () => {
  follow = atBottom();
  if (follow) jump.hidden = true;
});
jump.addEventListener('click', () => {
  follow = true;
  jump.hidden = true;
  toBottom();
  box.focus();
});

const page = await watch({
  onChange: () => {
    if (follow) toBottom();
    else jump.hidden = false;
  },
});

// The language picker: shown when the session offers translations.
const picker = document.getElementById('lang');
const offered = (page.info && Array.isArray(page.info.translate)) ? page.info.translate : [];
if (offered.length > 0) {
  const names = typeof Intl.DisplayNames === 'function' ? new Intl.DisplayNames([navigator.language || 'en'], { type: 'language' }) : null;
  const name = (code) => { try { return (names && names.of(code)) || code; } catch { return code; } };
  const own = page.info.language || '';
  picker.append(new Option(own ? name(own) + ' (original)' : 'Original', ''));
  for (const code of offered) picker.append(new Option(name(code), code));
  picker.value = offered.includes(document.body.dataset.lang) ? document.body.dataset.lang : '';
  picker.hidden = false;
  picker.labels.forEach((l) => { l.hidden = false; });
  picker.addEventListener('change', () => page.setLang(picker.value));
}
