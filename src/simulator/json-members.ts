// The top-level members of one JSON object text, each value kept as its source text. Replay rewrites a row's
// keys (case, left-out columns) without parsing its values into JavaScript numbers, which would round a 19-digit
// TRANSACTION_ID; the engine parses the value text itself.

export interface JsonMember {
  key: string;
  /** The value exactly as written (`1765432109876543210`, `{"a":[1]}`, `"text"`, `null`). */
  raw: string;
}

const WHITESPACE = new Set([' ', '\t', '\n', '\r']);

function skipWhitespace(text: string, at: number): number {
  let i = at;
  while (i < text.length && WHITESPACE.has(text[i] as string)) i += 1;
  return i;
}

/** Index just past the string that starts at `at` (a `"`). */
function endOfString(text: string, at: number): number {
  let i = at + 1;
  while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
  return i + 1;
}

function endOfValue(text: string, at: number): number {
  const first = text[at];
  if (first === '"') return endOfString(text, at);
  if (first === '{' || first === '[') {
    let depth = 0;
    let i = at;
    while (i < text.length) {
      const char = text[i];
      if (char === '"') {
        i = endOfString(text, i);
        continue;
      }
      if (char === '{' || char === '[') depth += 1;
      else if (char === '}' || char === ']') {
        depth -= 1;
        if (depth === 0) return i + 1;
      }
      i += 1;
    }
    return i;
  }
  let i = at;
  while (i < text.length && !WHITESPACE.has(text[i] as string) && text[i] !== ',' && text[i] !== '}' && text[i] !== ']') i += 1;
  return i;
}

/**
 * Members of a JSON object text in the order written, duplicates included. Only for text that JSON.parse has
 * already accepted as an object: it does not validate.
 */
export function jsonObjectMembers(text: string): JsonMember[] {
  const members: JsonMember[] = [];
  let i = skipWhitespace(text, 0) + 1; // past '{'
  i = skipWhitespace(text, i);
  if (text[i] === '}') return members;
  while (i < text.length) {
    const keyEnd = endOfString(text, i);
    const key = JSON.parse(text.slice(i, keyEnd)) as string;
    i = skipWhitespace(text, skipWhitespace(text, keyEnd) + 1); // past ':'
    const valueEnd = endOfValue(text, i);
    members.push({ key, raw: text.slice(i, valueEnd) });
    i = skipWhitespace(text, valueEnd);
    if (text[i] !== ',') break;
    i = skipWhitespace(text, i + 1);
  }
  return members;
}
