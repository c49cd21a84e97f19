// One line of help per command, kept apart so `--help` loads no command.
export const usages = {
  accountCreate: 'portcullis account create --name NAME --admin USERNAME   (admin password on standard input)',
  accountAccess: 'portcullis account access clear --account ID   (break-glass: removes the allowed networks of Account Access Control)',
  keys: `portcullis keys generate [--id KEYID]   (prints a new PORTCULLIS_SECRET_KEY entry)
  portcullis keys rotate [--new]          (re-encrypts TOTP secrets under the first key; --new first adds a key to the embedded key file)`,
  migrate: 'portcullis migrate',
  userCreate: 'portcullis user create --account ID --username NAME --role admin|agent-manager|agent [--skills "A;B"] [--email ADDRESS]   (password on standard input)',
  userImport: 'portcullis user import --account ID FILE.csv   (columns username,role,password[,skills]; skills separated by ";")',
  userResetMfa: 'portcullis user reset-mfa --account ID --username NAME   (break-glass: for the day the only admin loses the phone)',
} as const;
