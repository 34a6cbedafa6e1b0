// The wallet panel's markup, built once here for every page (index, brand, auditor): each page only
// holds an empty <section id="wallet-panel" data-title="..."> that session.js fills before wiring.

import { el } from "./ui.js";

const WALLETS = [
  ["MetaMask", "https://metamask.io/download/", "metamask.io/download"],
  ["Rabby", "https://rabby.io/", "rabby.io"],
  ["Coinbase Wallet", "https://www.coinbase.com/wallet/downloads", "coinbase.com/wallet"],
];

function networkFacts() {
  return [
    ["Network name", "Anvil (local devnet)"],
    ["RPC URL", el("code", { text: "http://127.0.0.1:8545" })],
    ["Chain ID", el("code", { class: "api-chain-id", text: "31337" })],
    ["Currency symbol", "ETH"],
  ];
}

function noWalletHelp() {
  return el(
    "div",
    { id: "no-wallet", hidden: true },
    el(
      "div",
      { class: "warning" },
      el(
        "p",
        {},
        el("strong", { text: "This page needs a browser wallet" }),
        ", and none was found in this browser. Your wallet holds the key you sign your decisions with; " +
          "nobody else can sign for you.",
      ),
    ),
    el("h3", { text: "1. Install a wallet" }),
    el("p", {
      text: "Add one of these as a browser extension (or use its mobile app's built-in browser), then reload this page:",
    }),
    el(
      "ul",
      {},
      WALLETS.map(([name, href, label]) =>
        el("li", {}, `${name}: `, el("a", { href, rel: "noopener noreferrer", text: label })),
      ),
    ),
    el("h3", { text: "2. Add the local network" }),
    el("p", {
      text: "In the wallet's network settings, add a network by hand (this page can also offer it once a wallet is installed):",
    }),
    el("dl", { class: "facts" }, networkFacts().flatMap(([term, value]) => [el("dt", { text: term }), el("dd", {}, value)])),
    el("h3", { text: "3. Import a test account" }),
    el("p", {
      text:
        "The project's README explains which devnet test key to import into the wallet. Devnet keys are public: " +
        "never send real funds to them.",
    }),
  );
}

function walletBox() {
  return el(
    "div",
    { id: "wallet-box", hidden: true },
    el("p", { id: "wallet-address", text: "Wallet not connected." }),
    el("div", { class: "actions" }, el("button", { type: "button", id: "connect-btn", text: "Connect wallet" })),
    el(
      "div",
      { id: "network-warning", class: "warning", hidden: true },
      el("p", { id: "network-text" }),
      el("button", { type: "button", id: "switch-btn", text: "Switch network" }),
    ),
    el(
      "div",
      { class: "actions" },
      el("button", { type: "button", id: "signin-btn", hidden: true, text: "Sign in with your wallet" }),
      el("button", { type: "button", id: "signout-btn", class: "secondary", hidden: true, text: "Sign out" }),
    ),
    el("p", { id: "session-text", class: "muted small" }),
    el("p", { id: "role-warning", class: "warning", hidden: true }),
  );
}

/** Fill the page's #wallet-panel section (its data-title names the heading). */
export function mountWalletPanel(section) {
  section.replaceChildren(
    el("h2", { id: "wallet-title", text: section.dataset.title || "Sign in" }),
    noWalletHelp(),
    walletBox(),
  );
}
