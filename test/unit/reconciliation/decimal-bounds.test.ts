import assert from 'node:assert/strict';
import {
  MAX_DECIMAL_DIGITS,
  MAX_DECIMAL_EXPONENT,
  compareDecimals,
  normalizeDecimal,
  parseDecimal,
} from '../../../src/reconciliation/decimal.js';

describe('reconciliation decimals: bounded parsing', () => {
  it('refuses a huge exponent with a clear error instead of padding 100 million digits', () => {
    for (const text of ['1e100000000', '1e-100000000', '-2.5E+99999999']) {
      assert.throws(
        () => parseDecimal(text),
        (e: Error) =>
          e.message.includes(`exponent beyond ±${MAX_DECIMAL_EXPONENT}`) && e.message.includes(text.trim()),
      );
    }
    // an exponent too large for a JavaScript number is refused the same way
    assert.throws(() => parseDecimal(`1e${'9'.repeat(400)}`), /exponent beyond/);
  });

  it('refuses more digits than the bound, naming only the start of the value', () => {
    const long = '7'.repeat(200_000);
    assert.throws(
      () => parseDecimal(long),
      (e: Error) =>
        e.message.includes(`more than ${MAX_DECIMAL_DIGITS} digits`) &&
        e.message.includes('(200000 characters)') &&
        e.message.length < 300,
    );
    // just over the bound, with an exponent that is within its own
    assert.throws(() => parseDecimal(`${'1'.repeat(MAX_DECIMAL_DIGITS + 1)}e5`), /more than 1000 digits/);
  });

  it('still reads every value within the bounds exactly', () => {
    const big = '9'.repeat(MAX_DECIMAL_DIGITS);
    assert.equal(parseDecimal(big).value, BigInt(big));
    assert.equal(normalizeDecimal(`1e${MAX_DECIMAL_EXPONENT}`), `1${'0'.repeat(MAX_DECIMAL_EXPONENT)}`);
    assert.equal(
      normalizeDecimal(`1e-${MAX_DECIMAL_EXPONENT}`),
      `0.${'0'.repeat(MAX_DECIMAL_EXPONENT - 1)}1`,
    );
    assert.equal(compareDecimals('12.5e1', '125.000'), 0);
  });
});
