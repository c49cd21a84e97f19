// One line of help per command, kept apart so `--help` loads no command.
export const usages = {
  accountCreate: 'portcullis account create --name NAME --admin USERNAME   (admin password on standard input)',
  accountAccess: 'portcullis account access clear --account ID   (break-glass: removes the allowed networks of Account Access Control)',
  keys: `portcullis keys generate [--id KEYID]   (prints a new PORTCULLIS_SECRET_KEY entry)
  portcullis keys rotate [--new]          (re-encrypts TOTP secrets under the first key; --new first adds a key to the embedded key file)
  portcullis keys rotate-signing [--delay-seconds N]   (adds OpenID Connect signing keys that sign after N seconds, default 86400; retires the old ones)`,
  migrate: 'portcullis migrate',
  clientCreate:
    'portcullis client create --account ID --name NAME --redirect-uri URI [--redirect-uri URI]… [--post-logout-redirect-uri URI] [--backchannel-logout-uri URI] [--launch-url URL] [--public]',
  clientList: 'portcullis client list --account ID',
  clientDelete: 'portcullis client delete --account ID --client-id ID',
  userCreate: 'portcullis user create --account ID --username NAME --role admin|agent-manager|agent [--skills "A;B"] [--email ADDRESS]   (password on standard input; the user changes it at the first sign-in)',
  userImport: 'portcullis user import --account ID FILE.csv   (columns username,role,password[,skills]; skills separated by ";")',
  userResetPassword: 'portcullis user reset-password --account ID --username NAME   (prints a one-time link, valid 24 hours, to set a new password)',
  userResetMfa: 'portcullis user reset-mfa --account ID --username NAME   (break-glass: for the day the only admin loses the phone)',
} as const;
