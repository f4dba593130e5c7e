#!/bin/sh
# scripts/apt-update.sh — `apt-get update` for every install step of the project (make deps,
# cross/build.sh, board/build.sh, bench/setup.sh): one place, one behaviour.
#
# A package mirror is sometimes mid-sync: one index (often a foreign architecture's) then
# comes with the wrong size or hash and apt-get update exits 100 although every other list
# was fetched. That must not stop a newcomer's `make test` or `make cross-setup`: the update
# is tried three times, 20 s apart, and then the install goes on with the lists apt has (an
# install that really lacks a package still fails, naming it). Run as root, or with sudo.
# APT_UPDATE_PAUSE sets the pause (seconds).
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
pause=${APT_UPDATE_PAUSE:-20}
try=1
while :; do
    $SUDO apt-get update -qq -o Acquire::Retries=3 && exit 0
    [ "$try" = 3 ] && break
    echo "apt-update: apt-get update failed (a mirror syncing?); again in $pause s" >&2
    sleep "$pause"
    try=$((try + 1))
done
echo "apt-update: apt-get update failed 3 times; going on with the package lists apt has" >&2
exit 0
