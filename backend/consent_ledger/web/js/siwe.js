// Sign-In with Ethereum (EIP-4361): the server writes the exact message, the wallet signs it
// with personal_sign, the server answers with a short-lived bearer token.

import { api, setToken } from "./api.js";
import { personalSign } from "./wallet.js";

const KEY = "consent-ledger";

function storageKey(scope) {
  return `${KEY}.${scope}`;
}

/** The chain the API works on (its SIWE messages name it). */
export async function apiChainId() {
  const challenge = await api("/v1/auth/nonce", { auth: false });
  return Number(challenge.chain_id);
}

/** Full round trip; returns {token, address, roles, expires_at} and keeps it for this tab. */
export async function signIn(address, scope) {
  const challenge = await api(`/v1/auth/nonce?address=${encodeURIComponent(address)}`, { auth: false });
  const signature = await personalSign(challenge.message, address);
  const login = await api("/v1/auth/login", {
    method: "POST",
    body: { message: challenge.message, signature },
    auth: false,
  });
  setToken(login.token);
  try {
    sessionStorage.setItem(storageKey(scope), JSON.stringify(login));
  } catch {
    // storage may be disabled; the session then lives in memory only
  }
  return login;
}

/** A session saved earlier in this tab, if it has not expired. */
export function restore(scope) {
  let saved = null;
  try {
    saved = JSON.parse(sessionStorage.getItem(storageKey(scope)) || "null");
  } catch {
    saved = null;
  }
  if (!saved || !saved.token || Date.parse(saved.expires_at) <= Date.now() + 5_000) {
    forget(scope);
    return null;
  }
  setToken(saved.token);
  return saved;
}

export function forget(scope) {
  setToken(null);
  try {
    sessionStorage.removeItem(storageKey(scope));
  } catch {
    // nothing to remove
  }
}
