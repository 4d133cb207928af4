// The partials' building blocks: the escaping template, the state sentences ("pending until ~HH:MM UTC"),
// and the Accept / HX-Request negotiation. Pure functions, real code; the routes' partials are exercised
// end to end in tests-routes.test.ts.
import { describe, expect, it } from 'vitest';
import { escapeHtml, html } from '../src/results/html.js';
import { approxTime, stateSentence, wantsHtml } from '../src/results/partials.js';

describe('html template', () => {
  it('escapes every interpolated value, including inside attributes and arrays', () => {
    const hostile = `"><script>alert('x')</script>&amp;\``;
    const out = html`<td title="${hostile}">${hostile}</td>${[hostile, 1]}`.value;
    expect(out).not.toMatch(/<script/);
    expect(out).toBe(
      '<td title="&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;amp;&#96;">&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;amp;&#96;</td>' +
        '&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;amp;&#96;1',
    );
  });

  it('inserts nested templates as markup and leaves out null, undefined and false', () => {
    const inner = html`<b>${'<i>'}</b>`;
    expect(html`<p>${inner}${null}${undefined}${false}${0}</p>`.value).toBe('<p><b>&lt;i&gt;</b>0</p>');
    expect(escapeHtml('a & b < c')).toBe('a &amp; b &lt; c');
  });
});

describe('state sentences', () => {
  const now = new Date('2025-11-20T12:00:00Z');

  it('pending with a future due time says "pending until ~HH:MM UTC" and the minutes', () => {
    expect(stateSentence({ status: 'PENDING', expected_at: '2025-11-20T15:15:00.000Z', minutes_remaining: 195, reason: null }, now)).toBe(
      'Pending until ~15:15 UTC (about 195 min)',
    );
  });

  it('a due time on another day carries its date; a passed one says since when and why', () => {
    expect(approxTime('2025-11-21T01:05:00.000Z', now)).toBe('~01:05 UTC on 2025-11-21');
    expect(
      stateSentence({ status: 'PENDING', expected_at: '2025-11-20T11:30:00.000Z', minutes_remaining: 0, reason: 'not ready: view behind' }, now),
    ).toBe('Pending: due since ~11:30 UTC; not ready: view behind');
  });

  it('other states name themselves and their reason, never a number', () => {
    expect(stateSentence({ status: 'NOT_APPLICABLE', expected_at: null, minutes_remaining: null, reason: 'no usage' }, now)).toBe('Not applicable: no usage');
    expect(stateSentence({ status: 'FAILED', expected_at: null, minutes_remaining: null, reason: 'denied' }, now)).toBe('Failed: denied');
    expect(stateSentence({ status: 'NOT_QUEUED', expected_at: null, minutes_remaining: null, reason: null }, now)).toBe('Not queued');
    expect(stateSentence({ status: 'COMPLETED', expected_at: null, minutes_remaining: null, reason: null }, now, '2025-11-20T11:59:00.000Z')).toBe(
      'Completed ~11:59 UTC',
    );
  });
});

describe('content negotiation', () => {
  it('HX-Request: true asks for HTML whatever Accept says', () => {
    expect(wantsHtml({ 'hx-request': 'true', accept: 'application/json' })).toBe(true);
    expect(wantsHtml({ 'hx-request': 'TRUE' })).toBe(true);
    expect(wantsHtml({ 'hx-request': 'false' })).toBe(false);
  });

  it('Accept: HTML only when it is preferred to JSON; JSON by default', () => {
    const cases: Array<[string | undefined, boolean]> = [
      [undefined, false],
      ['*/*', false],
      ['application/json', false],
      ['text/html', true],
      ['text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8', true],
      ['application/json, text/html', false],
      ['text/html, application/json', true],
      ['text/html;q=0.5, application/json', false],
      ['application/json;q=0.1, text/html', true],
      ['text/html;q=0', false],
      ['text/html;q=abc', false],
    ];
    for (const [accept, expected] of cases) expect(wantsHtml(accept === undefined ? {} : { accept }), String(accept)).toBe(expected);
  });
});
