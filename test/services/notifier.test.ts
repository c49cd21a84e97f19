import nodemailer from 'nodemailer';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { mailNotifier } from '../../src/services/notifier.ts';
import type { MailTransport } from '../../src/services/notifier.ts';
import { LogSink } from '../helpers/app.ts';

// nodemailer's own stream transport builds the real message without a network.

describe('the mail notifier', () => {
  const notice = (email: string | null) => ({
    to: { username: 'bob', email },
    subject: 'Your multi-factor authentication was reset',
    text: 'An administrator (alice) reset multi-factor authentication for "bob".',
  });

  it('emails a user who has an address, from the configured sender', async () => {
    const sent: string[] = [];
    const stream = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
    const transport: MailTransport = {
      sendMail: async (message) => {
        const info = await stream.sendMail(message);
        sent.push((info.message as Buffer).toString('utf8'));
        return info;
      },
    };
    const logs = new LogSink();
    await mailNotifier(transport, 'Portcullis <no-reply@acme.example>', pino(logs)).notify(notice('bob@acme.example'));
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatch(/^To: bob@acme\.example$/m);
    expect(sent[0]).toMatch(/^From: Portcullis <no-reply@acme\.example>$/m);
    expect(sent[0]).toMatch(/^Subject: Your multi-factor authentication was reset$/m);
    expect(logs.text).toBe('');
  });

  it('logs the notice for a user without an address, and never fails the action when sending fails', async () => {
    const logs = new LogSink();
    const failing: MailTransport = { sendMail: async () => Promise.reject(new Error('connection refused')) };
    const notifier = mailNotifier(failing, 'Portcullis <no-reply@acme.example>', pino(logs));
    await notifier.notify(notice(null));
    expect(logs.text).toContain('"subject":"Your multi-factor authentication was reset"');
    await expect(notifier.notify(notice('bob@acme.example'))).resolves.toBeUndefined();
    expect(logs.text).toContain('notification email failed');
  });
});
