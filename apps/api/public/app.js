// MyDNS pages work without this file. It adds two conveniences:
// a live availability check on the registration form and copy buttons.

document.addEventListener('DOMContentLoaded', () => {
  const form = document.querySelector('form[data-availability]');
  if (form) {
    const input = form.querySelector('#hostname');
    const status = form.querySelector('#hostname-status');
    let timer;
    let last = '';
    input.addEventListener('input', () => {
      clearTimeout(timer);
      timer = setTimeout(async () => {
        const name = input.value.trim();
        if (name === '' || name === last) return;
        last = name;
        try {
          const response = await fetch(`/api/v1/availability/${encodeURIComponent(name)}`, {
            headers: { accept: 'application/json' },
          });
          const result = await response.json();
          if (input.value.trim() !== name) return;
          status.textContent = result.message;
          status.className = `help ${result.available ? 'good' : 'bad'}`;
        } catch {
          status.textContent = '';
        }
      }, 250);
    });
  }

  for (const button of document.querySelectorAll('button[data-copy]')) {
    button.addEventListener('click', async () => {
      const code = document.querySelector(`#${button.dataset.copy} code`);
      if (!code) return;
      try {
        await navigator.clipboard.writeText(code.textContent);
        button.textContent = 'Copied';
        setTimeout(() => {
          button.textContent = 'Copy';
        }, 1500);
      } catch {
        button.textContent = 'Select and copy';
      }
    });
  }
});
