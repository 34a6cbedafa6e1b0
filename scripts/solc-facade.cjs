#!/usr/bin/env node
// A minimal `solc` command line over the npm `solc` package (solc-js), so py-solc-x can drive it
// as `solc_binary` on a machine with no native compiler and no internet.
//
// Supported: --version, --standard-json (JSON on stdin, JSON on stdout), --base-path DIR,
// --include-path DIR (repeatable), --allow-paths A,B. Imports are resolved from the base path,
// then from each include path (e.g. node_modules, so "@openzeppelin/..." works), and never
// outside the allowed directories.
"use strict";

const fs = require("fs");
const path = require("path");

function loadSolc() {
  const here = path.resolve(__dirname, "..");
  const candidates = [path.join(here, "node_modules", "solc"), "solc"];
  for (const candidate of candidates) {
    try {
      return require(candidate);
    } catch (err) {
      if (err.code !== "MODULE_NOT_FOUND") throw err;
    }
  }
  process.stderr.write("solc-facade: the npm package 'solc' is not installed (run `npm ci`)\n");
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { version: false, standardJson: false, basePath: process.cwd(), includePaths: [], allowPaths: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) fail(`missing value after ${arg}`);
      return argv[++i];
    };
    if (arg === "--version") opts.version = true;
    else if (arg === "--standard-json") opts.standardJson = true;
    else if (arg === "--base-path") opts.basePath = path.resolve(value());
    else if (arg === "--include-path") opts.includePaths.push(path.resolve(value()));
    else if (arg === "--allow-paths") opts.allowPaths.push(...value().split(",").filter(Boolean).map((p) => path.resolve(p)));
    else fail(`unsupported option ${arg} (this facade knows --version, --standard-json, --base-path, --include-path, --allow-paths)`);
  }
  return opts;
}

function fail(message) {
  process.stderr.write(`solc-facade: ${message}\n`);
  process.exit(2);
}

function inside(dir, file) {
  const rel = path.relative(dir, file);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}

function importResolver(opts) {
  const roots = [opts.basePath, ...opts.includePaths];
  const allowed = [...roots, ...opts.allowPaths];
  return (sourceUnitName) => {
    for (const root of roots) {
      const file = path.resolve(root, sourceUnitName);
      if (!allowed.some((dir) => inside(dir, file))) continue;
      if (fs.existsSync(file) && fs.statSync(file).isFile()) {
        return { contents: fs.readFileSync(file, "utf8") };
      }
    }
    return { error: `File not found: ${sourceUnitName} (looked in ${roots.join(", ")})` };
  };
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  const solc = loadSolc();
  if (opts.version) {
    process.stdout.write(`solc, the solidity compiler commandline interface (solc-js facade)\nVersion: ${solc.version()}\n`);
    return;
  }
  if (!opts.standardJson) fail("nothing to do: pass --version or --standard-json");
  const input = fs.readFileSync(0, "utf8");
  const output = solc.compile(input, { import: importResolver(opts) });
  process.stdout.write(output);
  process.stdout.write("\n");
}

main();
