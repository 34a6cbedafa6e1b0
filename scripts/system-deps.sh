#!/usr/bin/env bash
# System packages the project needs: Node.js + npm (solc-js, anvil's npm package) and Python's venv.
# Installs what is missing with apt-get on Debian/Ubuntu; elsewhere says what to install.
set -euo pipefail

missing=()
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
python3 -c "import venv, ensurepip" >/dev/null 2>&1 || missing+=(python3-venv)

if [ ${#missing[@]} -eq 0 ]; then
  echo "    node $(node --version), npm $(npm --version), $(python3 --version)"
  exit 0
fi

if command -v apt-get >/dev/null 2>&1; then
  echo "    installing with apt-get: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${missing[@]}"
else
  echo "missing: ${missing[*]} — install them with your package manager and run make again" >&2
  exit 1
fi
