// archive.js: the Archive and Review pages' actions. Each form posts JSON
// with the console's CSRF token in X-CSRF-Token (extra console routes read
// their own bodies) and reloads the page, or says what went wrong.
const csrf = document.querySelector('meta[name=csrf]').content;
const result = document.getElementById('result');

function show(msg, cls) { result.textContent = msg; result.className = cls; }

async function send(method, url, body) {
  const res = await fetch(url, {
    method, credentials: 'same-origin',
    headers: { 'X-CSRF-Token': csrf, 'Content-Type': 'application/json' },
    body: body ? JSON.stringify(body) : undefined,
  });
  if (res.ok) return true;
  const b = await res.json().catch(() => ({}));
  show((b.error && b.error.message) || `Failed (${res.status}).`, 'error');
  return false;
}

for (const form of document.querySelectorAll('form.correct')) {
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (await send('POST', form.dataset.url, { text: form.elements.text.value })) show('Correction saved.', 'ok');
  });
}

for (const form of document.querySelectorAll('form.resolve')) {
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const outcome = e.submitter?.value || 'approved';
    if (await send('POST', form.dataset.url, { outcome, text: form.elements.text.value })) {
      form.closest('tr').remove();
      show(outcome === 'deleted' ? 'Snippet deleted.' : outcome === 'corrected' ? 'Correction saved; snippet shredded.' : 'Approved; snippet shredded.', 'ok');
    }
  });
}

for (const form of document.querySelectorAll('form.delete')) {
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!confirm(form.dataset.confirm)) return;
    if (await send('DELETE', form.dataset.url)) location.assign('/archive');
  });
}

// Find: shows only the captions containing the words typed (in the page:
// the transcript's text is never indexed or sent anywhere to search).
const find = document.getElementById('find');
if (find) {
  find.addEventListener('input', () => {
    const q = find.value.trim().toLowerCase();
    for (const row of document.querySelectorAll('#lines tbody tr')) {
      row.hidden = q !== '' && !row.querySelector('textarea').value.toLowerCase().includes(q);
    }
  });
}
