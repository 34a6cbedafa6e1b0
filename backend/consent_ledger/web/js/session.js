// The wallet panel every page shares: detect the wallet, connect, check the network, sign in.
// Its markup comes from panel.js (ids: #no-wallet, #wallet-box, #connect-btn, #wallet-address,
// #network-warning, #network-text, #switch-btn, #signin-btn, #session-text, #signout-btn,
// #role-warning, and .api-chain-id spans filled with the API's chain id).

import { onUnauthorized } from "./api.js";
import { $, busy, say } from "./ui.js";
import * as wallet from "./wallet.js";
import * as siwe from "./siwe.js";
import { mountWalletPanel } from "./panel.js";

const NETWORK_NAMES = { 1: "Ethereum mainnet", 10: "OP Mainnet", 137: "Polygon", 8453: "Base", 11155111: "Sepolia", 31337: "the local Anvil devnet" };

function networkName(id) {
  return NETWORK_NAMES[id] ? `${NETWORK_NAMES[id]} (chain ${id})` : `chain ${id}`;
}

/**
 * setupSession({scope, role, roleHelp, onSignedIn, onSignedOut}) wires the panel and returns
 * {state, ensureReady}. `role` ("brand", "auditor") is the role the page needs besides signing in.
 */
export function setupSession({ scope, role = null, roleHelp = "", onSignedIn = () => {}, onSignedOut = () => {} }) {
  mountWalletPanel($("wallet-panel"));
  const state = { address: null, walletChain: null, apiChain: null, session: null };

  const hasRole = () => !role || (state.session && state.session.roles.includes(role));
  const chainOk = () => state.walletChain !== null && state.walletChain === state.apiChain;

  function render() {
    const present = Boolean(wallet.provider());
    $("no-wallet").hidden = present;
    $("wallet-box").hidden = !present;
    for (const span of document.querySelectorAll(".api-chain-id")) span.textContent = String(state.apiChain ?? wallet.DEVNET_CHAIN_ID);
    if (!present) return;
    $("connect-btn").hidden = Boolean(state.address);
    $("wallet-address").textContent = state.address ? `Wallet connected: ${state.address}` : "Wallet not connected.";
    const wrongNetwork = Boolean(state.address) && state.apiChain !== null && state.walletChain !== null && !chainOk();
    $("network-warning").hidden = !wrongNetwork;
    if (wrongNetwork) {
      $("network-text").textContent =
        `Your wallet is on ${networkName(state.walletChain)}, but this site works on ${networkName(state.apiChain)}. ` +
        "Switch networks before you sign anything.";
    }
    $("signin-btn").hidden = !(state.address && chainOk() && !state.session);
    $("signout-btn").hidden = !state.session;
    $("session-text").textContent = state.session
      ? `Signed in as ${state.session.address} (${state.session.roles.join(", ")}); the session ends ${new Date(state.session.expires_at).toLocaleTimeString()}.`
      : "";
    $("role-warning").hidden = !state.session || hasRole();
    if (state.session && !hasRole()) $("role-warning").textContent = roleHelp.replaceAll("{address}", state.session.address);
  }

  function signedOut(message) {
    const had = Boolean(state.session);
    state.session = null;
    siwe.forget(scope);
    render();
    if (had) onSignedOut();
    if (message) say(message, "error");
  }

  async function refreshChain() {
    try {
      state.walletChain = await wallet.chainId();
    } catch {
      state.walletChain = null;
    }
    render();
  }

  async function loadApiChain() {
    try {
      state.apiChain = await siwe.apiChainId();
    } catch (error) {
      say(`Could not reach the server: ${error.message}`, "error");
    }
    render();
  }

  function signedIn(session) {
    state.session = session;
    render();
    if (hasRole()) onSignedIn(session);
    else say(`Signed in, but this address does not have the ${role} role: see the note in the sign-in box.`, "error");
  }

  async function start() {
    await loadApiChain();
    if (!wallet.provider()) {
      render();
      return;
    }
    subscribe();
    const shared = await wallet.accounts();
    if (shared.length) state.address = shared[0];
    await refreshChain();
    const saved = siwe.restore(scope);
    if (saved && state.address && saved.address.toLowerCase() === state.address.toLowerCase()) signedIn(saved);
    else if (saved) siwe.forget(scope);
  }

  /** True when the wallet is on the API's network; otherwise points the user at the switch button. */
  async function ensureReady() {
    await refreshChain();
    if (chainOk()) return true;
    say(`Your wallet is on the wrong network: switch to ${networkName(state.apiChain)} first.`, "error");
    $("switch-btn").focus();
    return false;
  }

  $("connect-btn").addEventListener("click", (event) =>
    busy(event.currentTarget, async () => {
      state.address = await wallet.connect();
      await refreshChain();
      say(chainOk() ? "Wallet connected. Now sign in." : "Wallet connected, but it is on the wrong network.", chainOk() ? "ok" : "error");
      (chainOk() ? $("signin-btn") : $("switch-btn")).focus();
    }),
  );
  $("switch-btn").addEventListener("click", (event) =>
    busy(event.currentTarget, async () => {
      await wallet.switchChain(state.apiChain);
      await refreshChain();
      if (chainOk()) {
        say(`Switched to ${networkName(state.apiChain)}.`, "ok");
        if (!$("signin-btn").hidden) $("signin-btn").focus();
      }
    }),
  );
  $("signin-btn").addEventListener("click", (event) =>
    busy(event.currentTarget, async () => {
      if (!(await ensureReady())) return;
      say("Check your wallet: sign the sign-in message (it costs nothing and sends no transaction).");
      const session = await siwe.signIn(state.address, scope);
      say(`Signed in as ${session.address}.`, "ok");
      signedIn(session);
    }),
  );
  $("signout-btn").addEventListener("click", () => {
    signedOut();
    say("Signed out.");
  });

  let subscribed = false;
  function subscribe() {
    if (subscribed) return;
    subscribed = true;
    wallet.onChange({ accountsChanged, chainChanged });
  }
  function accountsChanged(list) {
    const next = Array.isArray(list) && list.length ? list[0] : null;
    const changed = (next || "").toLowerCase() !== (state.address || "").toLowerCase();
    state.address = next;
    if (changed && state.session) signedOut("Your wallet switched accounts: sign in again with the new account.");
    else render();
  }
  function chainChanged(hex) {
    state.walletChain = Number.parseInt(hex, 16);
    render();
  }
  onUnauthorized(() => signedOut("Your session has ended: sign in again."));

  // Some wallets inject window.ethereum a moment after the page loads.
  if (!wallet.provider()) window.addEventListener("ethereum#initialized", () => start(), { once: true });
  start();
  return { state, ensureReady };
}
