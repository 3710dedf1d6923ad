#!/usr/bin/env bash
# Sets up video2music on a Debian machine: system libraries, a virtual environment in .venv and
# the package with its dependencies at the versions constraints.txt pins (setup.cfg states the
# compatible ranges). Safe to rerun: each step is skipped once done.
#   bash setup.sh         what generate.py needs
#   bash setup.sh --dev   also the test tools, the web app, Ray (--ray), a browser for its tests and MuseScore 3
set -euo pipefail
cd "$(dirname "$0")"
extras=""
# MuseScore General, uncompressed (the bank that renders; its SF3 twin costs seconds of decoding
# per render), and FluidR3_GM, the fallback (soundfonts/README.md).
packages=(libfluidsynth3 musescore-general-soundfont-lossless fluid-soundfont-gm libgl1 libglib2.0-0)
if [ "${1:-}" = "--dev" ]; then
  extras="[dev,app,ray]"
  packages+=(chromium chromium-driver espeak-ng)  # espeak-ng speaks the test clips' voice-over
  packages+=(musescore3)  # the lead-sheet test opens the pages in MuseScore, as a musician would
  packages+=(musescore-general-soundfont)  # the SF3, for the test that this FluidSynth reads it
fi
if ! python3 -c "import venv, ensurepip" 2>/dev/null; then packages+=(python3-venv); fi
missing=()
for pkg in "${packages[@]}"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
if ((${#missing[@]})); then
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
# A --dev install also satisfies a plain one, so alternating the README's two commands is fast.
hash="$(cat setup.cfg pyproject.toml constraints.txt | sha1sum | cut -c1-12)"
if [ ! -f ".venv/.installed-$hash-dev" ] && { [ -n "$extras" ] || [ ! -f ".venv/.installed-$hash" ]; }; then
  echo "setup: installing the package${extras:+ with $extras} into .venv"
  # constraints.txt pins torch. Only pip's configured indexes are asked by default, so a machine
  # that reaches nothing but its package registries (CI) spends no time on PyTorch's index;
  # TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu takes torch's small CPU build from there.
  torch_index="${TORCH_INDEX_URL-}"
  .venv/bin/pip install -q --disable-pip-version-check -c constraints.txt \
    ${torch_index:+--extra-index-url "$torch_index"} -e ".${extras}"
  rm -f .venv/.installed-*
  touch ".venv/.installed-$hash${extras:+-dev}"
fi
