// EIP-1193 provider access (MetaMask, Rabby, Coinbase Wallet, ...). Wallet errors become
// WalletError with a sentence a person can act on.

export const DEVNET_CHAIN_ID = 31337;

export class WalletError extends Error {
  constructor(message, code) {
    super(message);
    this.name = "WalletError";
    this.code = code;
  }
}

export function provider() {
  return typeof window !== "undefined" && window.ethereum ? window.ethereum : null;
}

function codeOf(error) {
  if (!error || typeof error !== "object") return undefined;
  if (typeof error.code === "number") return error.code;
  const nested = error.data && (error.data.originalError || error.data);
  return nested && typeof nested.code === "number" ? nested.code : undefined;
}

/** A sentence for an EIP-1193 error; `action` names what was asked ("signature", "transaction", ...). */
export function explain(error, action = "signature") {
  const code = codeOf(error);
  switch (code) {
    case 4001:
      return action === "transaction"
        ? "You rejected the transaction; nothing was sent."
        : action === "connection"
          ? "You declined the connection request; the site cannot see your address."
          : "You rejected the signature; nothing was sent.";
    case 4100:
      return "The wallet has not authorised this site yet: connect the wallet again.";
    case 4200:
      return "Your wallet does not support this request. Try MetaMask, Rabby or Coinbase Wallet.";
    case 4900:
    case 4901:
      return "Your wallet is not connected to the network. Check the network settings in the wallet.";
    case 4902:
      return "Your wallet does not know this network yet.";
    case -32002:
      return "Your wallet already has a request waiting: open the wallet and answer it.";
    default: {
      const message = error && error.message ? error.message : String(error);
      return `The wallet reported a problem: ${message}`;
    }
  }
}

export async function request(method, params = [], action = "signature") {
  const eth = provider();
  if (!eth) throw new WalletError("No browser wallet found: install one (see the wallet section) and reload.", 0);
  try {
    return await eth.request({ method, params });
  } catch (error) {
    throw new WalletError(explain(error, action), codeOf(error));
  }
}

/** Ask the wallet for an account (prompts). Returns the first address. */
export async function connect() {
  const accounts = await request("eth_requestAccounts", [], "connection");
  if (!Array.isArray(accounts) || accounts.length === 0) throw new WalletError("The wallet shared no account.", 0);
  return accounts[0];
}

/** The accounts already shared with this site (never prompts). */
export async function accounts() {
  try {
    const list = await request("eth_accounts", [], "connection");
    return Array.isArray(list) ? list : [];
  } catch {
    return [];
  }
}

export async function chainId() {
  const hex = await request("eth_chainId", [], "network");
  return Number.parseInt(hex, 16);
}

const toHex = (n) => `0x${Number(n).toString(16)}`;

/** Ask the wallet to switch to `wanted`; on 4902 (unknown network) offer to add the local devnet. */
export async function switchChain(wanted) {
  try {
    await request("wallet_switchEthereumChain", [{ chainId: toHex(wanted) }], "network");
  } catch (error) {
    if (error.code !== 4902) throw error;
    if (wanted !== DEVNET_CHAIN_ID) {
      throw new WalletError(`Your wallet does not know chain ${wanted}: add it in the wallet's network settings.`, 4902);
    }
    await request(
      "wallet_addEthereumChain",
      [
        {
          chainId: toHex(wanted),
          chainName: "Anvil (local devnet)",
          rpcUrls: ["http://127.0.0.1:8545"],
          nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
        },
      ],
      "network",
    );
    await request("wallet_switchEthereumChain", [{ chainId: toHex(wanted) }], "network");
  }
}

function utf8Hex(text) {
  const bytes = new TextEncoder().encode(text);
  return `0x${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** EIP-191 personal_sign of a text message (sent hex-encoded, as wallets expect). */
export function personalSign(message, address) {
  return request("personal_sign", [utf8Hex(message), address], "signature");
}

/** EIP-712 eth_signTypedData_v4 of the typed data JSON the API produced. */
export function signTypedData(address, typedData) {
  return request("eth_signTypedData_v4", [address, JSON.stringify(typedData)], "signature");
}

export function sendTransaction(tx) {
  return request("eth_sendTransaction", [tx], "transaction");
}

/** Wait for a transaction's receipt through the wallet's own node connection. */
export async function waitForReceipt(hash, { timeoutMs = 120_000, intervalMs = 1_000 } = {}) {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const receipt = await request("eth_getTransactionReceipt", [hash], "network");
    if (receipt) return receipt;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  return null;
}

/** Subscribe to the wallet's account and network changes. */
export function onChange({ accountsChanged, chainChanged }) {
  const eth = provider();
  if (!eth || typeof eth.on !== "function") return;
  if (accountsChanged) eth.on("accountsChanged", accountsChanged);
  if (chainChanged) eth.on("chainChanged", chainChanged);
}
