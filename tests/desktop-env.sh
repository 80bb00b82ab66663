#!/usr/bin/env bash
# Runs a command inside a private desktop environment for the desktop core's tests:
#   - a private D-Bus session bus (dbus-run-session),
#   - gnome-keyring-daemon (Secret Service), started on D-Bus activation and unlocked
#     with a throwaway password (restarted the same way should it die), a
#     fresh HOME, waited for until org.freedesktop.secrets is owned on the bus,
#   - ALSA's default PCM pointed at raw capture files ($SWITCHBOARD_ALSA_CAPTURE, then
#     $SWITCHBOARD_ALSA_CAPTURE.0001, … one per opening of the device), so sound tests
#     can check that an alert really was played, and how many.
#
# Usage: bash tests/desktop-env.sh cargo test -p switchboard-core
# Needs: dbus-run-session (dbus), gnome-keyring-daemon (gnome-keyring), libasound2.
set -euo pipefail

if [[ "${SWITCHBOARD_DESKTOP_ENV_INNER:-}" != "1" ]]; then
  for tool in dbus-run-session gnome-keyring-daemon; do
    command -v "$tool" >/dev/null || {
      echo "desktop-env.sh: $tool is missing (apt-get install -y dbus gnome-keyring dbus-x11)" >&2
      exit 2
    }
  done
  work="$(mktemp -d /tmp/switchboard-desktop-env.XXXXXX)"
  mkdir -p "$work/home" "$work/runtime"
  chmod 700 "$work/runtime"
  capture="$work/alsa-capture.raw"
  cat >"$work/asound.conf" <<CONF
pcm.!default {
  type file
  slave.pcm "null"
  file "$capture"
  format "raw"
  # never overwrite: each opening of the device (one per alert) writes a new file,
  # alsa-capture.raw, alsa-capture.raw.0001, …, so tests can count the sounds played
  truncate false
}
CONF
  # The Secret Service starts on D-Bus activation, from a service file of this
  # environment's own (XDG_DATA_HOME's services come before the system's): the
  # system's starts gnome-keyring-daemon locked, and with no display its unlock
  # prompt fails. Ours unlocks it with the throwaway password — the first time
  # and, should the daemon ever die mid-run (a CI run once lost it between two
  # test binaries), again on the next request, with the same keyring file.
  # (Written before the bus starts: it reads its service folders then.)
  services="$work/home/.local/share/dbus-1/services"
  mkdir -p "$services"
  cat >"$work/keyring.sh" <<'DAEMON'
#!/usr/bin/env bash
echo -n "switchboard-test" | exec gnome-keyring-daemon --unlock --foreground --components=secrets
DAEMON
  cat >"$services/org.freedesktop.secrets.service" <<SERVICE
[D-BUS Service]
Name=org.freedesktop.secrets
Exec=/bin/bash $work/keyring.sh
SERVICE
  export SWITCHBOARD_DESKTOP_ENV_INNER=1
  export SWITCHBOARD_DESKTOP_ENV_DIR="$work"
  export SWITCHBOARD_ALSA_CAPTURE="$capture"
  export ALSA_CONFIG_PATH="/usr/share/alsa/alsa.conf:$work/asound.conf"
  # keep cargo and rustup where they are even though HOME changes
  export CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}"
  export RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}"
  export HOME="$work/home"
  export XDG_RUNTIME_DIR="$work/runtime"
  export XDG_DATA_HOME="$work/home/.local/share"
  export XDG_CONFIG_HOME="$work/home/.config"
  status=0
  dbus-run-session -- bash "$0" "$@" || status=$?
  # a document portal started by GTK may leave a FUSE mount under the runtime dir
  fusermount -u "$work/runtime/doc" 2>/dev/null || true
  rm -rf "$work" 2>/dev/null || true
  exit "$status"
fi

# inside the private bus
dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
  org.freedesktop.DBus.StartServiceByName string:org.freedesktop.secrets uint32:0 >/dev/null
for _ in $(seq 1 100); do
  if dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
      org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null \
      | grep -q "boolean true"; then
    break
  fi
  sleep 0.1
done
if ! dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
    org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets | grep -q "boolean true"; then
  echo "desktop-env.sh: gnome-keyring-daemon did not take org.freedesktop.secrets" >&2
  exit 3
fi
export SWITCHBOARD_REAL_DESKTOP=1
"$@"
