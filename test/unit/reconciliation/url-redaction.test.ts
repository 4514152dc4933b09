/**
 * No secret through a malformed URL: the userinfo is everything between // and the last @,
 * whatever a URL parser would make of it; connection labels and URL errors never carry it.
 */
import assert from 'node:assert/strict';
import { redactUrls, splitConnectionUrl } from '../../../src/runtime/url-redaction.js';
import { redactSecrets, redactText } from '../../../src/runtime/logger.js';
import { connect, ConnectionUrlError } from '../../../src/reconciliation/connection.js';

const PASSWORDS = ['12/Sekret9', 'Se/cr#et9', 'p@ss@Sekret9', 'ab?Sekret9', 'Sek ret9', 'x:y/Sekret9'];

describe('URL redaction', () => {
  it('removes everything between // and the last @, however malformed the password', () => {
    for (const pw of PASSWORDS) {
      for (const url of [`postgres://app:${pw}@db:5432/x`, `mysql://app:${pw}@db/x?ssl=true`]) {
        const text = `connect ${url} failed; retrying`;
        for (const r of [redactUrls(text), redactText(text), redactSecrets(text)]) {
          assert.ok(!r.includes('Sekret') && !r.includes('ret9'), `${pw} leaked in ${r}`);
          assert.match(r, /:\/\/(app:)?\*\*\*@db/);
        }
      }
    }
    // a plain user name is kept; two URLs on one line are each redacted
    assert.equal(
      redactUrls('legacy mysql://u:p1@h1/a, target postgres://v:p2@h2/b'),
      'legacy mysql://u:***@h1/a, target postgres://v:***@h2/b',
    );
    assert.equal(redactUrls('no credentials: postgres://h/x'), 'no credentials: postgres://h/x');
  });

  it('splits a connection URL at the last @ and refuses a password a parser would misread', () => {
    assert.deepEqual(splitConnectionUrl('postgres://app:s%2Fecret@db:5432/orders?sslmode=require'), {
      scheme: 'postgres',
      host: 'db:5432',
      path: '/orders',
      hasUserinfo: true,
    });
    for (const pw of PASSWORDS) {
      const parts = splitConnectionUrl(`postgres://app:${pw}@db:5432/orders`);
      assert.ok('problem' in parts, pw);
      assert.match(parts.problem, /percent-encoded/);
      assert.ok(!parts.problem.includes('Sekret'));
    }
  });

  it('connect: the label has no userinfo; a misreadable URL is a ConnectionUrlError that never quotes it', async () => {
    // `12/Sekret9` once parsed as port 12 and a path: the label showed part of the password
    for (const pw of PASSWORDS)
      assert.throws(
        () =>
          connect('postgres', `postgres://app:${pw}@db:5432/orders`, {
            role: 'target',
            statementTimeoutSeconds: 5,
          }),
        (e: unknown) =>
          e instanceof ConnectionUrlError &&
          e.message.startsWith('target: the connection URL cannot be used') &&
          !e.message.includes('Sekret'),
      );
    const c = connect('mysql', 'mysql://app:s%2FSekret9@127.0.0.1:1/orders', {
      role: 'legacy',
      statementTimeoutSeconds: 5,
    });
    try {
      assert.equal(c.label, 'legacy (mysql 127.0.0.1:1/orders)');
      await assert.rejects(c.query('SELECT 1'), (e: Error) => !e.message.includes('Sekret'));
    } finally {
      await c.close();
    }
  });
});
