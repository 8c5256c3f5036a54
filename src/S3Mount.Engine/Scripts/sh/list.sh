# list / test: every mountpoint-s3 unit (or NAMES), with its lines, state and health. Parameters: ROOT NAMES
# node lock: none (reads unit files, which are replaced atomically; Get/Test never wait behind a change)
# shellcheck shell=sh

[ -n "$ROOT" ] || require_systemd
rec host "$(hostname 2>/dev/null || cat /etc/hostname 2>/dev/null)"
select_units
emit_selected
finish
