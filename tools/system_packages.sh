#!/usr/bin/env bash
# Install Debian packages the tests and the quickstart read real data from (e.g. insighttoolkit5-examples, the
# ITK example T1 of the radiome benchmark), when they are missing and this is a Debian machine run as root.
# Elsewhere it says what to install and leaves the decision to the user; tests that need the data skip.
set -u
missing=()
for package in "$@"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "note: Debian packages not installed: ${missing[*]} (apt-get install ${missing[*]}); tests that need them skip"
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    && echo "installed: ${missing[*]}" \
    || echo "note: could not install ${missing[*]}; tests that need them skip"
exit 0
