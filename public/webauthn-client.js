/* global window, fetch */
// The browser half of security keys and passkeys (progressive enhancement:
// without JavaScript, or in a browser without WebAuthn, these forms stay
// hidden and the code form works as before). A form marked data-webauthn asks
// the server for options, runs the ceremony through @simplewebauthn/browser
// (served by Portcullis itself at /assets/webauthn.js) and posts the answer.
(function () {
  'use strict';
  var lib = window.SimpleWebAuthnBrowser;
  if (!lib || !lib.browserSupportsWebAuthn()) return;
  Array.prototype.forEach.call(document.querySelectorAll('[data-webauthn-fallback]'), function (note) {
    note.hidden = true;
  });
  var forms = document.querySelectorAll('form[data-webauthn]');
  Array.prototype.forEach.call(forms, function (form) {
    form.hidden = false;
    var button = form.querySelector('button[data-webauthn-start]');
    var status = form.querySelector('[data-webauthn-status]');
    if (!button) return;
    // A passkey sign-in names its account first: the account number field's id.
    var accountField = form.hasAttribute('data-webauthn-account') ? document.getElementById(form.getAttribute('data-webauthn-account')) : null;
    var failed = form.getAttribute('data-webauthn-failed') || 'Your security key did not answer, or the request was cancelled. Try again, or use another way below.';
    button.addEventListener('click', function () {
      var body = {};
      if (accountField) {
        var account = accountField.value.trim();
        if (!/^[0-9]{1,20}$/.test(account)) {
          if (status) status.textContent = 'Enter your account number first, then choose Sign in with a passkey.';
          accountField.focus();
          return;
        }
        body.accountId = account;
      }
      button.disabled = true;
      if (status) status.textContent = '';
      fetch(form.getAttribute('data-webauthn'), {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(body),
      })
        .then(function (res) {
          if (!res.ok) throw new Error('options ' + res.status);
          return res.json();
        })
        .then(function (ceremony) {
          return ceremony.mode === 'register'
            ? lib.startRegistration({ optionsJSON: ceremony.options })
            : lib.startAuthentication({ optionsJSON: ceremony.options });
        })
        .then(function (answer) {
          form.querySelector('input[name="credential"]').value = JSON.stringify(answer);
          form.submit();
        })
        .catch(function () {
          button.disabled = false;
          if (status) status.textContent = failed;
        });
    });
  });
})();
