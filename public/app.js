// Progressive enhancement only: every page works without this file.
// Links marked data-dialog open their native <dialog> instead of navigating
// to the confirmation page they point at.
document.addEventListener('click', (event) => {
  const opener = event.target instanceof Element ? event.target.closest('[data-dialog]') : null;
  if (!opener) return;
  const dialog = document.getElementById(opener.getAttribute('data-dialog'));
  if (!(dialog instanceof HTMLDialogElement) || typeof dialog.showModal !== 'function') return;
  event.preventDefault();
  dialog.showModal();
});
