import { loadKeyRing } from '../config/secret-key.ts';
import type { Runtime } from '../runtime.ts';
import { systemRandom } from '../runtime.ts';
import { issuerFor } from '../services/oidc/index.ts';
import { standaloneLogoutChannel } from '../services/oidc/logout-channel.ts';
import type { LogoutDelivery } from '../services/oidc/revocation.ts';
import { createSecretBox } from '../services/secret-box.ts';
import type { SecretBox } from '../services/secret-box.ts';

// A command that ends a user's sessions tells the applications, as serve
// does (issue 13, "Revocation reaches the applications"): it sets the
// runtime's logout channel before the change, and settle() waits for the
// deliveries (each bounded by LOGOUT_DELIVERY_TIMEOUT_MS, all at once) before
// the command exits. A delivery that fails is a warning, not a failure of the
// command: the revocation in the database is committed already.

export interface CliLogouts {
  /** Waits for every delivery, prints a warning on stderr for each that failed, and answers how many were sent. */
  settle(): Promise<{ sent: number; failed: number }>;
}

export function sendLogoutsFrom(runtime: Runtime, env: Record<string, string | undefined>, stderr: { write(text: string): unknown } = process.stderr): CliLogouts {
  const issuer = issuerFor(runtime.settings);
  let secrets: SecretBox | undefined;
  // The key file is read, never created: a new key would open no signing key.
  const openSecrets = () => (secrets ??= createSecretBox(loadKeyRing(env, runtime.database.dataDir, { create: false }).ring, systemRandom));
  const channel = standaloneLogoutChannel(runtime.deps, issuer, openSecrets);
  const pending: Array<Promise<LogoutDelivery[]>> = [];
  runtime.deps.logoutChannel = {
    send(logouts) {
      if (!runtime.settings.publicUrl && pending.length === 0) {
        stderr.write(
          `portcullis: warning: PORTCULLIS_PUBLIC_URL is not set, so the logout tokens name the issuer ${issuer}; an application accepts them only if serve's issuer is the same\n`,
        );
      }
      const delivered = channel.send(logouts);
      pending.push(delivered);
      return delivered;
    },
  };
  return {
    async settle() {
      const deliveries = (await Promise.all(pending)).flat();
      let sent = 0;
      let failed = 0;
      for (const d of deliveries) {
        if (d.sent) sent++;
        else if ('error' in d) {
          failed++;
          stderr.write(`portcullis: warning: the back-channel logout to application ${d.clientId} failed (${d.error}); its tokens are revoked all the same\n`);
        }
      }
      return { sent, failed };
    },
  };
}
