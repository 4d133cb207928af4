// JSON text → values without rounding large integers. A VARIANT can hold NUMBER(38,0) ids such as
// LOCK_WAIT_HISTORY.BLOCKER_QUERIES[].transaction_id (19 digits, above 2^53), which JSON.parse rounds to the
// nearest double. Integers outside the safe range come back as their decimal text, the same convention the
// adapters use for NUMBER columns; every other value parses as JSON.parse would. Snowflake's VARIANT may also
// hold NaN and ±Infinity, which are not JSON (the driver's default parser evaluates such text as JavaScript):
// they come back as the strings 'NaN', 'Infinity', '-Infinity'.

/** A string literal (kept whole, so digits inside it are never touched), a number, or a non-JSON constant. */
const TOKEN = /"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|-?Infinity|NaN/g;

/** Text without a 16-digit run or a non-JSON constant cannot hold an unsafe integer: JSON.parse alone is exact. */
const MAYBE_INEXACT = /\d{16}|NaN|Infinity/;

export function parseJsonExact(text: string): unknown {
  if (!MAYBE_INEXACT.test(text)) return JSON.parse(text);
  const quoted = text.replace(TOKEN, (token) => {
    if (token.startsWith('"')) return token;
    if (/^-?\d+$/.test(token)) return Number.isSafeInteger(Number(token)) ? token : `"${token.replace(/^(-?)0+(?=\d)/, '$1')}"`;
    return /\d/.test(token) ? token : `"${token}"`;
  });
  return JSON.parse(quoted);
}
