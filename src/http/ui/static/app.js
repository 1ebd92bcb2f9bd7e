// Keyport admin UI: progressive enhancement only. Every page works without it;
// this adds copy buttons, dialogs for the action forms, and guards against
// double submission. No inline scripts (the Content-Security-Policy forbids them).
(() => {
  'use strict';

  // Copy buttons: <button data-copy="element-id" hidden>. Without JavaScript they
  // stay hidden (the value itself is selectable). Where the clipboard API is
  // missing (plain http on a host other than localhost) the button selects the
  // value and says how to copy it.
  const select = (source) => {
    const range = document.createRange();
    range.selectNodeContents(source);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  };
  const hint = (button, text) => {
    let note = button.parentElement.querySelector('.copy-hint');
    if (!note) {
      note = document.createElement('span');
      note.className = 'copy-hint';
      note.setAttribute('role', 'status');
      button.after(note);
    }
    note.textContent = text;
  };
  for (const button of document.querySelectorAll('button[data-copy]')) {
    const clipboard = Boolean(navigator.clipboard && window.isSecureContext);
    if (!clipboard) button.textContent = 'Select';
    button.hidden = false;
    button.addEventListener('click', async () => {
      const source = document.getElementById(button.dataset.copy);
      if (!source) return;
      if (clipboard) {
        try {
          await navigator.clipboard.writeText(source.textContent.trim());
          const label = button.textContent;
          button.textContent = 'Copied';
          setTimeout(() => { button.textContent = label; }, 1600);
          return;
        } catch { /* refused: fall back to selecting */ }
      }
      select(source);
      hint(button, 'Selected: press Ctrl+C (⌘C on a Mac) to copy.');
    });
  }

  // Times: the server writes them in UTC (<time datetime> with the absolute time in its
  // title, or as its text with data-time="absolute"); shown here in the browser's time zone.
  const localTime = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit', timeZoneName: 'short' });
  const localizeTimes = (root) => {
    for (const time of root.querySelectorAll('time[datetime]')) {
      const date = new Date(time.getAttribute('datetime'));
      if (Number.isNaN(date.getTime())) continue;
      if (time.dataset.time === 'absolute') time.textContent = localTime.format(date);
      else time.title = localTime.format(date);
    }
  };

  // Typed confirmations: the submit button waits for the exact name.
  const guardConfirm = (root) => {
    for (const input of root.querySelectorAll('input[data-confirm-match]')) {
      const submit = input.form && input.form.querySelector('button[type=submit]');
      if (!submit) continue;
      const update = () => { submit.disabled = input.value.trim() !== input.dataset.confirmMatch; };
      input.addEventListener('input', update);
      update();
    }
  };

  // Forms that issue a secret are sent once.
  const guardOnce = (root) => {
    for (const form of root.querySelectorAll('form[data-once]')) {
      form.addEventListener('submit', () => {
        for (const b of form.querySelectorAll('button[type=submit]')) b.disabled = true;
      });
    }
  };

  // Dialogs: a link with data-dialog opens its page's [data-dialog-content] in a modal.
  // The form inside posts as usual (a full page load, which shows the secret once).
  const openDialog = async (link) => {
    let html;
    try {
      const response = await fetch(link.href, { credentials: 'same-origin', headers: { Accept: 'text/html' } });
      if (!response.ok || response.redirected) return false;
      html = await response.text();
    } catch {
      return false;
    }
    const content = new DOMParser().parseFromString(html, 'text/html').querySelector('[data-dialog-content]');
    if (!content) return false;
    const dialog = document.createElement('dialog');
    dialog.setAttribute('aria-label', (content.querySelector('h1') || {}).textContent || 'Dialog');
    const close = document.createElement('button');
    close.type = 'button';
    close.className = 'btn btn-ghost dialog-x';
    close.setAttribute('aria-label', 'Close');
    close.textContent = '×';
    close.addEventListener('click', () => dialog.close());
    dialog.append(document.importNode(content, true), close);
    for (const cancel of dialog.querySelectorAll('[data-dialog-close]')) {
      cancel.addEventListener('click', (event) => { event.preventDefault(); dialog.close(); });
    }
    dialog.addEventListener('close', () => dialog.remove());
    document.body.append(dialog);
    localizeTimes(dialog);
    guardConfirm(dialog);
    guardOnce(dialog);
    dialog.showModal();
    // The default choice first (the rotate dialog's checked grace period), else the first field.
    const first = dialog.querySelector('input[type=radio]:checked') || dialog.querySelector('input:not([type=hidden]), textarea, button[type=submit]');
    if (first) first.focus();
    return true;
  };

  for (const link of document.querySelectorAll('a[data-dialog]')) {
    link.addEventListener('click', async (event) => {
      if (event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
      event.preventDefault();
      if (!(await openDialog(link))) window.location.assign(link.href);
    });
  }

  // Row menus (<details>): one open at a time; a click elsewhere or Escape closes them.
  const closeMenus = (except) => {
    for (const menu of document.querySelectorAll('details.row-menu[open]')) if (menu !== except) menu.open = false;
  };
  document.addEventListener('click', (event) => closeMenus(event.target.closest && event.target.closest('details.row-menu')));
  document.addEventListener('keydown', (event) => { if (event.key === 'Escape') closeMenus(null); });
  for (const link of document.querySelectorAll('details.row-menu a[data-dialog]')) link.addEventListener('click', () => closeMenus(null));

  // Bulk selection: the list's header checkbox (hidden without JavaScript, where a link does it) ticks every row of the page.
  for (const all of document.querySelectorAll('input[data-select-all]')) {
    const boxes = () => [...document.querySelectorAll(`input[type=checkbox][name=keyId][form="${all.dataset.selectAll}"]`)];
    const update = () => {
      const ticked = boxes().filter((b) => b.checked).length;
      all.checked = ticked > 0 && ticked === boxes().length;
      all.indeterminate = ticked > 0 && ticked < boxes().length;
    };
    all.hidden = false;
    all.addEventListener('change', () => { for (const box of boxes()) box.checked = all.checked; });
    for (const box of boxes()) box.addEventListener('change', update);
    update();
  }

  localizeTimes(document);
  guardConfirm(document);
  guardOnce(document);
})();

// Public key upload: <input type="file" data-key-file-for="textarea-id"> reads the
// chosen file into the textarea (the key is pasted there without JavaScript).
(() => {
  for (const input of document.querySelectorAll('input[data-key-file-for]')) {
    const wrapper = input.closest('[data-key-file]');
    if (wrapper) wrapper.hidden = false;
    input.addEventListener('change', async () => {
      const target = document.getElementById(input.dataset.keyFileFor);
      const file = input.files && input.files[0];
      if (!target || !file) return;
      target.value = (await file.text()).slice(0, 16384);
    });
  }
})();
