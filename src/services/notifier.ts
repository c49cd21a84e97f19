import type { Logger } from 'pino';

// Telling users what happened to their sign-in (an authenticator enrolled, MFA
// reset). Email when SMTP is configured; otherwise a log line an operator can
// ship anywhere. A failed notification never fails the action that caused it.

export interface Notice {
  to: { username: string; email: string | null };
  subject: string;
  text: string;
}

export interface Notifier {
  notify(notice: Notice): Promise<void>;
}

export function logNotifier(logger: Logger): Notifier {
  return {
    async notify(notice) {
      logger.info({ notification: { to: notice.to.username, email: notice.to.email, subject: notice.subject, text: notice.text } }, 'notification');
    },
  };
}

export interface MailTransport {
  sendMail(message: { from: string; to: string; subject: string; text: string }): Promise<unknown>;
}

/** Sends by email to users who have an address; logs for those who have none. */
export function mailNotifier(transport: MailTransport, from: string, logger: Logger): Notifier {
  const fallback = logNotifier(logger);
  return {
    async notify(notice) {
      if (!notice.to.email) return fallback.notify(notice);
      try {
        await transport.sendMail({ from, to: notice.to.email, subject: notice.subject, text: notice.text });
      } catch (err) {
        logger.warn({ err, to: notice.to.username }, 'notification email failed');
      }
    },
  };
}
