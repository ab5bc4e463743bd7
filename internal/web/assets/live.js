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

watch({
  onChange: () => {
    if (follow) toBottom();
    else jump.hidden = false;
  },
});
