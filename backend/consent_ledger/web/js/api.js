// fetch() for our API: JSON in and out, the bearer token, and RFC 9457 problems turned into
// errors whose message is the problem's `detail` (what the user should do), ready to show.

const hooks = { unauthorized: null };
let token = null;

export class ApiError extends Error {
  constructor(status, problem) {
    super(describe(status, problem));
    this.name = "ApiError";
    this.status = status;
    this.problem = problem;
  }
}

function describe(status, problem) {
  if (!problem || typeof problem !== "object") return `The server answered ${status}.`;
  let text = problem.detail || problem.title || `The server answered ${status}.`;
  if (Array.isArray(problem.errors) && problem.errors.length) {
    const parts = problem.errors.slice(0, 5).map((e) => `${e.location}: ${e.message}`);
    text += ` (${parts.join("; ")})`;
  }
  return text;
}

export function setToken(value) {
  token = value || null;
}

export function hasToken() {
  return token !== null;
}

/** Called (once per failing request) when the server says the token is missing or expired. */
export function onUnauthorized(handler) {
  hooks.unauthorized = handler;
}

async function send(path, { method = "GET", body, auth = true } = {}) {
  const headers = { accept: "application/json, application/problem+json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (auth && token) headers.authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch {
    throw new ApiError(0, { detail: "The server cannot be reached. Check that it is running (`make run`) and try again." });
  }
  if (!response.ok) {
    let problem = null;
    const type = response.headers.get("content-type") || "";
    try {
      problem = type.includes("json") ? await response.json() : { detail: (await response.text()).slice(0, 300) };
    } catch {
      problem = null;
    }
    if (response.status === 401 && auth && hooks.unauthorized) hooks.unauthorized(problem);
    throw new ApiError(response.status, problem);
  }
  return response;
}

/** Call the API; resolves to the parsed JSON (null for 204). Rejects with ApiError. */
export async function api(path, options = {}) {
  const response = await send(path, options);
  if (response.status === 204) return null;
  const type = response.headers.get("content-type") || "";
  return type.includes("json") ? response.json() : response.text();
}

/** Fetch with the token and save the answer as a file named `filename`. */
export async function download(path, filename) {
  const response = await send(path);
  const blob = await response.blob();
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  return blob.size;
}
