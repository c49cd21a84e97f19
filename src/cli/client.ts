import { parseArgs } from 'node:util';
import { openRuntime } from '../runtime.ts';
import { createApplication, deleteApplication, describeApplication, listApplications } from '../services/applications.ts';
import { printJson, UsageError } from './io.ts';
import { usages } from './usage.ts';

// portcullis client create | list | delete: the OpenID Connect applications
// of an account, for the day there is no admin page at hand (issue 13).

function cliActor(env: Record<string, string | undefined>) {
  return { userId: null, label: `cli (${env.SUDO_USER || env.USER || 'unknown'})`, ip: null };
}

export async function run(args: string[], env: Record<string, string | undefined>): Promise<number> {
  const [verb, ...rest] = args;
  if (verb === 'create') {
    const { values } = parseArgs({
      args: rest,
      options: {
        account: { type: 'string' },
        name: { type: 'string' },
        'redirect-uri': { type: 'string', multiple: true },
        'post-logout-redirect-uri': { type: 'string', multiple: true },
        'backchannel-logout-uri': { type: 'string' },
        'launch-url': { type: 'string' },
        public: { type: 'boolean' },
      },
      strict: true,
    });
    if (!values.account || !values.name || !values['redirect-uri']?.length) throw new UsageError(usages.clientCreate);
    const runtime = await openRuntime(env);
    try {
      const result = await createApplication(
        runtime.deps,
        values.account,
        {
          name: values.name,
          redirectUris: values['redirect-uri'],
          postLogoutRedirectUris: values['post-logout-redirect-uri'],
          backchannelLogoutUri: values['backchannel-logout-uri'],
          launchUrl: values['launch-url'],
          public: values.public,
        },
        cliActor(env),
      );
      if (!result.ok) {
        process.stderr.write(result.reason === 'not_found' ? `portcullis: there is no account ${values.account}\n` : `portcullis: ${result.errors.join('\nportcullis: ')}\n`);
        return 1;
      }
      printJson(result.clientSecret === null ? { clientId: result.clientId } : { clientId: result.clientId, clientSecret: result.clientSecret });
      return 0;
    } finally {
      await runtime.close();
    }
  }
  if (verb === 'list') {
    const { values } = parseArgs({ args: rest, options: { account: { type: 'string' } }, strict: true });
    if (!values.account) throw new UsageError(usages.clientList);
    const runtime = await openRuntime(env);
    try {
      const apps = await listApplications(runtime.deps, values.account);
      printJson(apps.map(describeApplication));
      return 0;
    } finally {
      await runtime.close();
    }
  }
  if (verb === 'delete') {
    const { values } = parseArgs({ args: rest, options: { account: { type: 'string' }, 'client-id': { type: 'string' } }, strict: true });
    if (!values.account || !values['client-id']) throw new UsageError(usages.clientDelete);
    const runtime = await openRuntime(env);
    try {
      const result = await deleteApplication(runtime.deps, values.account, values['client-id'], cliActor(env));
      if (!result.ok) {
        process.stderr.write(`portcullis: there is no application ${values['client-id']} in account ${values.account}\n`);
        return 1;
      }
      printJson({ deleted: true, clientId: values['client-id'] });
      return 0;
    } finally {
      await runtime.close();
    }
  }
  throw new UsageError(`${usages.clientCreate}\n  ${usages.clientList}\n  ${usages.clientDelete}`);
}
