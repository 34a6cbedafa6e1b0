// Sign EIP-712 typed data (JSON on stdin, exactly as the API serves it) with a third-party library,
// as the wallets built on it do: `node sign_typed_data.mjs <eth-sig-util|ethers|viem> <0x private key>`.
// Prints the 65-byte signature as 0x hex. Used by tests/integration/test_third_party_signers.py.
import { readFileSync } from "node:fs";
import { SignTypedDataVersion, signTypedData } from "@metamask/eth-sig-util";
import { Wallet } from "ethers";
import { privateKeyToAccount } from "viem/accounts";

const [library, key] = process.argv.slice(2);
const typed = JSON.parse(readFileSync(0, "utf8"));
const { EIP712Domain, ...types } = typed.types; // ethers and viem derive the domain type themselves

async function sign() {
  if (library === "eth-sig-util") {
    // MetaMask's own implementation of eth_signTypedData_v4
    return signTypedData({ privateKey: Buffer.from(key.slice(2), "hex"), data: typed, version: SignTypedDataVersion.V4 });
  }
  if (library === "ethers") return new Wallet(key).signTypedData(typed.domain, types, typed.message);
  if (library === "viem") {
    return privateKeyToAccount(key).signTypedData({ domain: typed.domain, types, primaryType: typed.primaryType, message: typed.message });
  }
  throw new Error(`unknown library ${library}`);
}

process.stdout.write(`${await sign()}\n`);
