// HTML for the per-test partials: a tagged template that escapes every interpolated value unless it is
// already SafeHtml, so a value read from the warehouse (TEST_NAME, QUERY_TEXT, an error message) can
// never become markup. Fragments only: no <html> shell, no scripts.

/** Markup this module built (its interpolations were escaped); the only thing `html` inserts unescaped. */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };

/** Text for an element body or a quoted attribute value. */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"'`]/g, (char) => ENTITIES[char]!);
}

function render(value: unknown): string {
  if (value === null || value === undefined || value === false) return '';
  if (value instanceof SafeHtml) return value.value;
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(value);
}

/** `html\`<td>${value}</td>\``: values escaped, arrays concatenated, null/undefined/false left out. */
export function html(strings: TemplateStringsArray, ...values: unknown[]): SafeHtml {
  let out = strings[0] ?? '';
  values.forEach((value, index) => {
    out += render(value) + (strings[index + 1] ?? '');
  });
  return new SafeHtml(out);
}
