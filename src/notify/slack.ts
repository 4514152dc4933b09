/**
 * A Slack-compatible incoming webhook, never blocking: `send()` queues a message and returns at
 * once; a background loop posts it with retries (exponential backoff, at most `maxAttempts`),
 * and `results()` says what it has: still being delivered (Sending), delivered or given up on.
 * Each event key is sent at most once per process; across restarts the Cutover's status records
 * each event as Sending before it is handed over, so a restarted operator never posts it again
 * (controllers/cutover/notifications.ts). The URL is a secret: it is never logged.
 */
import { createLogger } from '../runtime/logger.js';

const log = createLogger('notify.slack');

export interface WebhookMessage {
  event: string;
  text: string;
  channel?: string;
}

export interface NotifierOptions {
  maxAttempts?: number;
  firstDelayMs?: number;
  timeoutMs?: number;
}

interface Entry {
  msg: WebhookMessage;
  attempts: number;
  state: 'Pending' | 'Sent' | 'Failed';
}

export class WebhookNotifier {
  private readonly entries = new Map<string, Entry>();
  private running: Promise<void> | undefined;

  constructor(
    private readonly url: () => Promise<string | undefined>,
    private readonly opts: NotifierOptions = {},
  ) {}

  /** Queues the message unless its event is known; never waits for the network. */
  send(msg: WebhookMessage): void {
    if (this.entries.has(msg.event)) return;
    this.entries.set(msg.event, { msg, attempts: 0, state: 'Pending' });
    this.running ??= this.drain().finally(() => {
      this.running = undefined;
    });
  }

  /** Every event it has, with its attempts: Sending while it is being delivered. */
  results(): Record<string, { state: 'Sending' | 'Sent' | 'Failed'; attempts: number }> {
    const out: Record<string, { state: 'Sending' | 'Sent' | 'Failed'; attempts: number }> = {};
    for (const [k, e] of this.entries)
      out[k] = { state: e.state === 'Pending' ? 'Sending' : e.state, attempts: e.attempts };
    return out;
  }

  /** Resolves when nothing is pending (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async drain(): Promise<void> {
    const max = this.opts.maxAttempts ?? 5;
    for (;;) {
      const pending = [...this.entries.values()].filter((e) => e.state === 'Pending');
      if (!pending.length) return;
      for (const e of pending) {
        e.attempts++;
        try {
          await this.post(e.msg);
          e.state = 'Sent';
        } catch (err) {
          log.warn(
            { event: e.msg.event, attempt: e.attempts, err: (err as Error).message },
            'webhook failed',
          );
          if (e.attempts >= max) e.state = 'Failed';
          else
            await new Promise((r) => setTimeout(r, (this.opts.firstDelayMs ?? 500) * 2 ** (e.attempts - 1)));
        }
      }
    }
  }

  private async post(msg: WebhookMessage): Promise<void> {
    const url = await this.url();
    if (!url) throw new Error('no webhook URL (Secret missing)');
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: msg.text, ...(msg.channel ? { channel: msg.channel } : {}) }),
      signal: AbortSignal.timeout(this.opts.timeoutMs ?? 10_000),
    });
    if (!res.ok) throw new Error(`webhook answered HTTP ${res.status}`);
  }
}
