// The JSON routes, with the tab's API token when one was given. The token lives in sessionStorage only:
// it ends with the tab, never reaches localStorage, a cookie or the URL of the page.

const TOKEN_KEY = 'flakebench-dashboard-token';

export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY),
  set: (value) => sessionStorage.setItem(TOKEN_KEY, value),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

/** An answer other than 2xx, with the problem body's `detail` (or why there was no answer). */
export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
    this.detail = detail;
  }
}

async function call(method, path, body) {
  const headers = { accept: 'application/json' };
  const stored = token.get();
  if (stored) headers.authorization = `Bearer ${stored}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' });
  } catch {
    throw new ApiError(0, 'the service does not answer');
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) throw new ApiError(response.status, (data && typeof data.detail === 'string' && data.detail) || `${response.status} ${response.statusText}`);
  return data;
}

export const getJson = (path) => call('GET', path);
export const postJson = (path, body = {}) => call('POST', path, body);

/** `/api/tests/<id>/<what>` with the id encoded. */
export const testPath = (testId, what) => `/api/tests/${encodeURIComponent(testId)}/${what}`;
