// MyDNS pages work without this file. It adds conveniences: a live
// availability check on the registration form, copy buttons (hidden until
// this file shows them), and a confirmation dialog before revoking a token
// (without JavaScript the server asks on a page of its own).

document.addEventListener('DOMContentLoaded', () => {
  const form = document.querySelector('form[data-availability]');
  if (form) {
    const input = form.querySelector('#hostname');
    const status = form.querySelector('#hostname-status');
    // With several zones the form has a zone choice; the name is checked in the chosen one.
    const zone = form.querySelector('#zone');
    let timer;
    let last = '';
    const check = () => {
      clearTimeout(timer);
      timer = setTimeout(async () => {
        const name = input.value.trim();
        const query = zone ? `?zone=${encodeURIComponent(zone.value)}` : '';
        if (name === '' || name + query === last) return;
        last = name + query;
        try {
          const response = await fetch(`/api/v1/availability/${encodeURIComponent(name)}${query}`, {
            headers: { accept: 'application/json' },
          });
          const result = await response.json();
          if (input.value.trim() !== name || (zone && `?zone=${encodeURIComponent(zone.value)}` !== query))
            return;
          status.textContent = result.message;
          status.className = `help ${result.available ? 'good' : 'bad'}`;
        } catch {
          status.textContent = '';
        }
      }, 250);
    };
    input.addEventListener('input', check);
    zone?.addEventListener('change', check);
  }

  /** Selects the element's text, for copying by hand where the Clipboard API is missing. */
  const select = (element) => {
    const range = document.createRange();
    range.selectNodeContents(element);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  };

  for (const button of document.querySelectorAll('button[data-copy]')) {
    const source = document.getElementById(button.dataset.copy);
    if (!source) continue;
    const label = button.textContent;
    button.hidden = false;
    button.addEventListener('click', async () => {
      try {
        // The Clipboard API exists only in secure contexts (HTTPS, or localhost).
        await navigator.clipboard.writeText(source.textContent.trim());
        button.textContent = 'Copied';
      } catch {
        select(source);
        button.textContent = 'Press Ctrl+C to copy';
      }
      setTimeout(() => {
        button.textContent = label;
      }, 2000);
    });
  }

  for (const confirmed of document.querySelectorAll('form[data-confirm]')) {
    confirmed.addEventListener('submit', (event) => {
      if (!window.confirm(confirmed.dataset.confirm)) {
        event.preventDefault();
        return;
      }
      const yes = document.createElement('input');
      yes.type = 'hidden';
      yes.name = 'confirm';
      yes.value = 'yes';
      confirmed.append(yes);
    });
  }
});
