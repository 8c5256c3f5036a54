# health: the check a mount's health timer runs. create installs this program (composed by the engine from lib.sh and
# this file) as /usr/local/libexec/s3mount/health-check; s3mount-health-<id>.service runs it as
#   health-check s3mount-health-<id> PATH
# and so knows the mount's unit (mountpoint-s3-<id>.service). It uses the probe Test-S3MountService uses (mountinfo_has,
# probe in lib.sh). When the service is active but its mount is Stale, Hung or missing on each of PROBES tries 1 s
# apart, it takes the node lock (waiting at most 10 s: an S3Mount operation in progress is left to finish) and
# restarts the service: Hung and Stale first get SIGKILL, since neither answers a stop. A mount that answers one try is
# left alone (slow under load is not dead); a service that is not active is left to systemd and to people.
# Parameters (set by the engine): ROOT (empty) PROBES WAIT_SECONDS. Its result block goes to stdout (dropped by the
# unit); what it does goes to stderr, the journal, at notice or warning (the <N> prefix; the unit keeps nothing below
# notice, so a check that finds the mount healthy leaves no line at all).
# node lock: none (taken by the check itself, and only to act)
# shellcheck shell=sh

s3m_hu=${1:-}
MPATH=${2:-}
case $s3m_hu in
  s3mount-health-?*) ;;
  *) fail S3MountScriptFailed "usage: health-check s3mount-health-<id> PATH (as s3mount-health-<id>.service runs it)" ;;
esac
[ -n "$MPATH" ] || fail S3MountScriptFailed "usage: health-check s3mount-health-<id> PATH: the mount path is missing"
NAME="mountpoint-s3-${s3m_hu#s3mount-health-}.service"
require_systemd

# say PRIORITY MESSAGE: a journal line at that syslog priority (5 notice, 4 warning).
say() { printf '<%s>%s: %s\n' "$1" "$NAME" "$2" >&2; }

# s3m_hc_active: is the service active and running (not starting, stopping, or waiting to restart)? Sets s3m_hc_state
# (ACTIVE/SUB) and s3m_hc_pid (its main PID).
s3m_hc_active() {
  s3m_hc_state=$(systemctl show -p ActiveState -p SubState -p MainPID -- "$NAME" 2>/dev/null | awk -F= '{ v[$1] = $2 } END { print v["ActiveState"] "/" v["SubState"] " " v["MainPID"] }')
  s3m_hc_pid=${s3m_hc_state#* }
  s3m_hc_state=${s3m_hc_state% *}
  [ "$s3m_hc_state" = active/running ]
}

# s3m_hc_try: one probe; sets s3m_hc (Healthy, Stale, Hung or Missing) and s3m_hc_why.
s3m_hc_try() {
  if mountinfo_has "$(mi_escape "$MPATH")"; then
    s3m_hc=$(probe "$MPATH")
  else
    s3m_hc=Missing
  fi
  case $s3m_hc in
    Hung) s3m_hc_why="a stat of $MPATH did not answer within ${S3M_PROBE_SECONDS:-5}s" ;;
    Stale) s3m_hc_why="$MPATH answers 'Transport endpoint is not connected'" ;;
    Missing) s3m_hc_why="nothing is mounted at $MPATH" ;;
    *) s3m_hc_why="mounted and answering" ;;
  esac
}

if ! s3m_hc_active; then
  rec check "$NAME" idle "$s3m_hc_state"
  finish
fi
s3m_hc_first=$s3m_hc_pid
s3m_hc_n=1
while :; do
  s3m_hc_try
  [ "$s3m_hc" = Healthy ] && break
  [ "$s3m_hc_n" -ge "$PROBES" ] && break
  sleep 1
  if ! s3m_hc_active; then
    rec check "$NAME" idle "$s3m_hc_state"
    finish
  fi
  s3m_hc_n=$((s3m_hc_n + 1))
done
if [ "$s3m_hc" = Healthy ]; then
  [ "$s3m_hc_n" = 1 ] || say 5 "$MPATH answered on try $s3m_hc_n of $PROBES (slow, not dead): left alone"
  rec check "$NAME" healthy "$s3m_hc_n"
  finish
fi

if ! node_trylock health 10; then
  say 5 "$s3m_hc ($s3m_hc_why, $PROBES tries), but another S3Mount operation holds the node lock (${s3m_lkby:-unknown}): left to it this round"
  rec check "$NAME" busy "$s3m_hc"
  finish
fi
# Under the lock: the same daemon still running? (An operation that held the lock may just have restarted it.)
if ! s3m_hc_active || [ "$s3m_hc_pid" != "$s3m_hc_first" ]; then
  rec check "$NAME" changed "$s3m_hc_state"
  finish
fi

say 5 "$s3m_hc ($s3m_hc_why, $PROBES tries 1 s apart) while the service is active: restarting it"
case $s3m_hc in
  Hung | Stale) systemctl kill -s KILL -- "$NAME" >&2 2>&1 ;;
esac
backoff_reset "$NAME"
systemctl reset-failed -- "$NAME" >/dev/null 2>&1
if systemctl restart -- "$NAME" >&2 2>&1 && wait_live "$NAME" "$MPATH" "$WAIT_SECONDS"; then
  say 5 "$MPATH is healthy again"
  rec check "$NAME" restarted "$s3m_hc" Healthy
else
  say 4 "$MPATH is not healthy within ${WAIT_SECONDS}s of the restart; systemd goes on restarting it"
  journal_tail "$NAME" 10
  rec check "$NAME" restarted "$s3m_hc" NotHealthy
fi
finish
