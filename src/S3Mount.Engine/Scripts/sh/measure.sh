# measure NAMES / PATHS: the throughput of each selected mount (Measure-S3MountThroughput). In a directory of its own
# under the mount (s3mount-throughput-<uuid>), it writes FILE_COUNT files of FILE_BYTES with PARALLEL workers (dd,
# fsync'd, so the upload is in the time), drops the page cache where the node allows it, reads the first byte of
# each file (first-byte latency), reads every file back with PARALLEL workers (dd to /dev/null, timed exactly as dd by
# hand), compares every file with what was written (cmp, not timed), then deletes exactly the files it wrote and that
# directory: never anything else. With READ_PREFIX it
# writes nothing: it reads up to FILE_COUNT existing files in MOUNT/READ_PREFIX. The I/O runs as the mount's owner
# (a FUSE mount refuses other users, root included, without allow-other / allow-root). Every phase stops at
# TIME_LIMIT seconds after the start; what was done by then is reported, and the clean-up still runs.
# Fleet runs start together: the engine sets START_AT (Unix seconds) a few seconds after it sends the commands.
# Parameters: ROOT NAMES PATHS FILE_COUNT FILE_BYTES PARALLEL TIME_LIMIT READ_PREFIX START_AT
# node lock: none. It changes no node configuration, and a run lasts minutes: holding the node lock that long would
# block repairs and changes of every mount on the node. A mount removed or restarted during a run shows up as errors
# in that run's result; the clean-up deletes only this run's files, by their names.
# shellcheck shell=sh

[ -z "$ROOT" ] || fail S3MountThroughputNoImage "a throughput check measures live mounts; it cannot run on an image root (-Root)."
require_root_systemd
rec host "$(hostname 2>/dev/null || cat /etc/hostname 2>/dev/null)"

# The clock: nanoseconds from GNU date, else centiseconds from /proc/uptime (BusyBox date has no %N).
case $(date +%s%N 2>/dev/null) in
  '' | *[!0-9]*) S3M_TP_CLOCK=cs ;;
  *) S3M_TP_CLOCK=ns ;;
esac
s3m_tp_now() {
  if [ "$S3M_TP_CLOCK" = ns ]; then date +%s%N; else awk '{ printf "%.0f\n", $1 * 1000000000 }' /proc/uptime; fi
}
# s3m_tp_cs: centiseconds since boot (/proc/uptime), the clock of the deadline.
s3m_tp_cs() { awk '{ printf "%.0f\n", $1 * 100 }' /proc/uptime; }

# The worker, run as the mount's owner with sh -c: MODE (write, first, read, verify) INDEX STEP COUNT DIR SRC
# DEADLINE CLOCK LIST ERRFILE. It handles files INDEX, INDEX+STEP, ... below COUNT (DIR/f<i>, or the paths of the lines
# of LIST, "SIZE<TAB>PATH") and prints one line per file: "ok I", "err I MESSAGE", "fb I NS" (first byte) or "late I"
# (the deadline passed before it started). Per file it starts only what dd by hand would: dd (or head, or cmp), with
# its messages in ERRFILE, read only when it fails; the deadline (centiseconds of /proc/uptime) is read by the shell
# without a process. So the bookkeeping costs no time even where starting a process is slow (a loaded node). The whole
# worker runs under one timeout that ends at the deadline: a transfer that runs into it is killed, and a file with no
# line was not done.
# shellcheck disable=SC2016
S3M_TP_WORKER='
mode=$1 idx=$2 step=$3 count=$4 dir=$5 src=$6 deadline=$7 clock=$8 list=$9 errf=${10}
now() { if [ "$clock" = ns ]; then date +%s%N; else awk "{ printf \"%.0f\\n\", \$1 * 1000000000 }" /proc/uptime; fi; }
cs() { read -r up _ </proc/uptime; up=${up%.*}${up#*.}; while case $up in 0?*) true ;; *) false ;; esac; do up=${up#0}; done; }
why() { tail -n 1 "$errf" 2>/dev/null; }
one() {
  cs
  if [ "$up" -ge "$deadline" ]; then echo "late $1"; return; fi
  case $mode in
    write)
      if dd if="$src" of="$2" bs=1048576 conv=fsync 2>"$errf"; then echo "ok $1"
      else echo "err $1 writing $2 failed: $(why)"; fi ;;
    first)
      t=$(now)
      if head -c 1 -- "$2" >/dev/null 2>"$errf"; then echo "fb $1 $(( $(now) - t ))"
      else echo "err $1 reading the first byte of $2 failed: $(why)"; fi ;;
    read)
      if dd if="$2" of=/dev/null bs=1048576 2>"$errf"; then echo "ok $1"
      else echo "err $1 reading $2 failed: $(why)"; fi ;;
    verify)
      cmp -- "$2" "$src" >/dev/null 2>"$errf"
      r=$?
      if [ "$r" = 0 ]; then echo "ok $1"
      elif [ "$r" = 1 ]; then echo "err $1 $2 differs from what was written"
      else echo "err $1 cannot compare $2 with what was written: $(why)"; fi ;;
  esac
}
if [ -n "$list" ]; then
  n=0
  while IFS="	" read -r size f; do
    if [ "$n" -ge "$count" ]; then break; fi
    if [ $(( n % step )) -eq "$idx" ]; then one "$n" "$f"; fi
    n=$((n + 1))
  done <"$list"
else
  i=$idx
  while [ "$i" -lt "$count" ]; do
    one "$i" "$dir/f$i"
    i=$((i + step))
  done
fi
'

# s3m_tp_as CMD...: runs CMD as the mount's owner (S3M_TP_UID / S3M_TP_GID), as root where that is root.
s3m_tp_as() {
  if [ "$S3M_TP_UID" = 0 ] || [ -z "$S3M_TP_SETPRIV" ]; then "$@"
  else setpriv --reuid "$S3M_TP_UID" --regid "$S3M_TP_GID" --clear-groups -- "$@"; fi
}

# s3m_tp_phase MODE WORKERS: runs the workers of a phase at once, waits for all; sets S3M_TP_NS (wall time), and
# leaves their lines in $S3M_TMP/phase.MODE.
s3m_tp_phase() {
  S3M_TP_PHASE=$1
  s3m_tp_workers=$2
  export S3M_TP_MODE S3M_TP_PHASE
  rm -f -- "$S3M_TMP"/w."$1".*
  # One timeout per worker, to the deadline (at least a second).
  s3m_tp_left=$(( (S3M_TP_DEADLINE - $(s3m_tp_cs)) / 100 + 1 ))
  [ "$s3m_tp_left" -ge 1 ] || s3m_tp_left=1
  # The workers' message files, made before the clock starts (chown is a process).
  s3m_tp_w=0
  while [ "$s3m_tp_w" -lt "$2" ]; do
    : >"$S3M_TP_SRCDIR/err.$s3m_tp_w"
    s3m_tp_w=$((s3m_tp_w + 1))
  done
  chown "$S3M_TP_UID:$S3M_TP_GID" "$S3M_TP_SRCDIR"/err.* 2>/dev/null
  s3m_tp_t0=$(s3m_tp_now)
  s3m_tp_w=0
  s3m_tp_pids=
  while [ "$s3m_tp_w" -lt "$2" ]; do
    s3m_tp_err="$S3M_TP_SRCDIR/err.$s3m_tp_w"
    # exec'd in its subshell, so that $! is the timeout itself: a stopped run signals it, and it passes the signal to
    # the worker and its dd (they run in its own process group, which a signal to ours misses).
    (
      if [ "$S3M_TP_UID" = 0 ] || [ -z "$S3M_TP_SETPRIV" ]; then set -- timeout
      else set -- setpriv --reuid "$S3M_TP_UID" --regid "$S3M_TP_GID" --clear-groups -- timeout; fi
      exec "$@" -s KILL "$s3m_tp_left" /bin/sh -c "$S3M_TP_WORKER" s3m-worker "$S3M_TP_PHASE" "$s3m_tp_w" "$s3m_tp_workers" \
        "$S3M_TP_COUNT" "$S3M_TP_DIR" "$S3M_TP_SRC" "$S3M_TP_DEADLINE" "$S3M_TP_CLOCK" "$S3M_TP_LIST" "$s3m_tp_err"
    ) >"$S3M_TMP/w.$S3M_TP_PHASE.$s3m_tp_w" 2>/dev/null &
    s3m_tp_pids="$s3m_tp_pids $!"
    s3m_tp_w=$((s3m_tp_w + 1))
  done
  for s3m_tp_p in $s3m_tp_pids; do wait "$s3m_tp_p"; done
  s3m_tp_pids=
  S3M_TP_NS=$(( $(s3m_tp_now) - s3m_tp_t0 ))
  cat -- "$S3M_TMP"/w."$1".* >"$S3M_TMP/phase.$1" 2>/dev/null
  # A file without a line was cut off by the deadline.
  if [ "$(awk '$1 == "ok" || $1 == "err" || $1 == "fb" { n++ } END { print n + 0 }' "$S3M_TMP/phase.$1")" -lt "$S3M_TP_COUNT" ]; then S3M_TP_TIMEDOUT=1; fi
  # The errors of the phase, except for files the write phase did not write (their own error is already there).
  awk 'FILENAME == ARGV[1] { w[$1] = 1; next } $1 == "err" && (ENVIRON["S3M_TP_MODE"] != "write" || ENVIRON["S3M_TP_PHASE"] == "write" || ($2 in w)) { $1 = ""; $2 = ""; sub(/^ +/, ""); print }' \
    "$S3M_TMP/written" "$S3M_TMP/phase.$1" >>"$S3M_TMP/errors"
}

# s3m_tp_bytes MODE: the bytes of the files a phase did without error (their sizes from the list, or FILE_BYTES each).
s3m_tp_bytes() {
  awk -v each="$FILE_BYTES" 'FILENAME == ARGV[1] { n[NR - 1] = $1; next } $1 == "ok" { b += ($2 in n) ? n[$2] : each } END { printf "%.0f\n", b }' \
    "${S3M_TP_LIST:-/dev/null}" "$S3M_TMP/phase.$1"
}

# s3m_tp_drop: sync, then drop the page cache (root on a node that allows it; not in most containers).
s3m_tp_drop() {
  sync
  if { echo 3 >/proc/sys/vm/drop_caches; } 2>/dev/null; then S3M_TP_DROPPED=1; else S3M_TP_DROPPED=0; fi
}

# s3m_tp_cleanup: deletes this run's files by name, then its directory, and the local source; says what is left. A
# transfer that was killed (time limit, cancel) may still be finishing its upload, and then reappear: up to five
# passes, a second apart, until the directory is gone.
s3m_tp_cleanup() {
  if [ -n "${S3M_TP_DIR-}" ] && [ "$S3M_TP_MODE" = write ]; then
    s3m_tp_pass=0
    while [ "$s3m_tp_pass" -lt 5 ] && s3m_tp_as test -e "$S3M_TP_DIR" 2>/dev/null; do
      [ "$s3m_tp_pass" = 0 ] || sleep 1
      # The names this run gives its files, f0 to f<COUNT-1>, as the directory lists them: one rm for all.
      set --
      for s3m_tp_f in $(s3m_tp_as ls -A -- "$S3M_TP_DIR" 2>/dev/null | awk -v n="$S3M_TP_COUNT" '/^f[0-9]+$/ && substr($0, 2) + 0 < n'); do
        set -- "$@" "$S3M_TP_DIR/$s3m_tp_f"
      done
      [ $# = 0 ] || s3m_tp_as rm -f -- "$@" 2>/dev/null
      s3m_tp_as rmdir -- "$S3M_TP_DIR" 2>/dev/null
      s3m_tp_pass=$((s3m_tp_pass + 1))
    done
    if s3m_tp_as test -e "$S3M_TP_DIR" 2>/dev/null; then
      printf '%s\n' "could not delete everything this run wrote: $S3M_TP_DIR is still there (delete it by hand)" >>"$S3M_TMP/errors"
    fi
  fi
  S3M_TP_DIR=
  [ -z "${S3M_TP_SRCDIR-}" ] || rm -rf -- "$S3M_TP_SRCDIR"
  S3M_TP_SRCDIR=
}

# A cancelled run (SSM CancelCommand, Ctrl+C) still deletes its files.
s3m_tp_abort() {
  # shellcheck disable=SC2086  # process ids
  [ -z "${s3m_tp_pids-}" ] || kill $s3m_tp_pids 2>/dev/null
  wait
  s3m_tp_cleanup
  fail S3MountThroughputStopped "the throughput check was stopped before it finished; the files it had written were deleted$([ -s "$S3M_TMP/errors" ] && printf ', except: %s' "$(tail -n 1 "$S3M_TMP/errors")")."
}
trap 's3m_tp_abort' INT TERM HUP
s3m_tp_pids=
S3M_TP_DIR=
S3M_TP_SRCDIR=
S3M_TP_MODE="write"

# free_kib DIR: the KiB available on DIR's file system.
s3m_tp_free_kib() { df -Pk -- "$1" 2>/dev/null | awk 'NR == 2 { print $4 }'; }

# ExecStart words of a unit: is FLAG there; the value after OPTION.
s3m_tp_has_flag() { unit_key "$1" ExecStart | awk -v f="$2" '{ for (i = 1; i <= NF; i++) if ($i == f) x = 1 } END { exit !x }'; }
s3m_tp_value_of() { unit_key "$1" ExecStart | awk -v f="$2" '{ for (i = 1; i < NF; i++) if ($i == f) { v = $(i + 1); gsub(/^"|"$/, "", v); print v; exit } }'; }

# s3m_tp_refuse NAME ID MESSAGE: this mount is not measured (nothing of it was written, or it is deleted again).
s3m_tp_refuse() {
  s3m_tp_cleanup
  rec fail "$1" "$2" "$3"
}

select_units
S3M_TP_SETPRIV=$(command -v setpriv 2>/dev/null)
: >"$S3M_TMP/errors"
for s3m_n in $SELECTED; do
  : >"$S3M_TMP/written"
  s3m_p=$(path_of "$s3m_n")
  s3m_f=$(file_of "$s3m_n")
  s3m_mi=$(mi_escape "$s3m_p")
  if ! mountinfo_has "$s3m_mi" || [ "$(probe "$s3m_p")" != Healthy ]; then
    rec fail "$s3m_n" S3MountThroughputNotMounted "$s3m_p is not a healthy mount on this node (Test-S3MountService says why); nothing was measured."
    continue
  fi

  # The mount's owner and whether it is read-only, from the mount table.
  s3m_ow=$(M="$s3m_mi" awk '{for(i=7;i<=NF;i++)if($i=="-")break} $5==ENVIRON["M"]{o=","$(i+3)","; u=o; g=o; sub(/.*,user_id=/,"",u); sub(/,.*/,"",u); sub(/.*,group_id=/,"",g); sub(/,.*/,"",g); ro=($6 ~ /^ro(,|$)/) ? 1 : 0; r=u" "g" "ro} END{print r}' /proc/self/mountinfo)
  S3M_TP_UID=${s3m_ow%% *}
  s3m_ow=${s3m_ow#* }
  S3M_TP_GID=${s3m_ow%% *}
  s3m_ro=${s3m_ow#* }
  case $S3M_TP_UID in '' | *[!0-9]*) S3M_TP_UID=0 ;; esac
  case $S3M_TP_GID in '' | *[!0-9]*) S3M_TP_GID=0 ;; esac
  s3m_tp_has_flag "$s3m_f" --read-only && s3m_ro=1
  if [ "$S3M_TP_UID" != 0 ] && [ -z "$S3M_TP_SETPRIV" ]; then
    printf '%s\n' "setpriv (util-linux) is missing, so the I/O ran as root instead of the mount's owner (uid $S3M_TP_UID)" >>"$S3M_TMP/errors"
  fi

  # A directory the mount's owner can read: the test data, the list of existing files.
  S3M_TP_SRCDIR=$(mktemp -d /tmp/s3mount-throughput.XXXXXX) || fail S3MountScriptFailed "cannot create a temp directory in /tmp."
  chmod 0755 "$S3M_TP_SRCDIR"
  S3M_TP_COUNT=$FILE_COUNT
  S3M_TP_LIST=
  S3M_TP_SRC=/dev/null
  s3m_bytes_each=$FILE_BYTES
  s3m_total=$((FILE_BYTES * FILE_COUNT))
  if [ -n "$READ_PREFIX" ]; then
    S3M_TP_MODE=existing
    s3m_d="$s3m_p/$READ_PREFIX"
    S3M_TP_LIST="$S3M_TP_SRCDIR/list"
    # shellcheck disable=SC2016
    s3m_tp_as find "$s3m_d" -maxdepth 1 -type f 2>/dev/null | LC_ALL=C sort | head -n "$FILE_COUNT" |
      s3m_tp_as /bin/sh -c 'while IFS= read -r f; do printf "%s\t%s\n" "$(wc -c <"$f" 2>/dev/null)" "$f"; done' >"$S3M_TP_LIST"
    chmod 0644 "$S3M_TP_LIST"
    S3M_TP_COUNT=$(wc -l <"$S3M_TP_LIST")
    if [ "$S3M_TP_COUNT" -eq 0 ]; then
      s3m_tp_refuse "$s3m_n" S3MountThroughputNoFiles "there are no files in $s3m_d to read (-ReadPrefix is a directory of the mount, relative to $s3m_p)."
      continue
    fi
    s3m_total=$(awk -F '\t' '{ s += $1 } END { printf "%.0f\n", s }' "$S3M_TP_LIST")
    s3m_bytes_each=0
  else
    S3M_TP_MODE="write"
    if [ "$s3m_ro" = 1 ]; then
      s3m_tp_refuse "$s3m_n" S3MountThroughputReadOnly "$s3m_p is mounted read-only, so nothing can be written to measure: give -ReadPrefix to measure reads of existing files instead."
      continue
    fi
    if ! s3m_tp_has_flag "$s3m_f" --allow-delete; then
      s3m_tp_refuse "$s3m_n" S3MountThroughputNoDelete "$s3m_p is mounted without --allow-delete, so the test files could not be deleted afterwards: nothing was written. Give -ReadPrefix to measure reads of existing files instead."
      continue
    fi
    s3m_free=$(s3m_tp_free_kib "$S3M_TP_SRCDIR")
    if [ -z "$s3m_free" ] || [ "$s3m_free" -lt $((FILE_BYTES / 1024 + 16384)) ]; then
      s3m_tp_refuse "$s3m_n" S3MountThroughputNoSpace "/tmp has ${s3m_free:-?} KiB free; the test needs one file's size ($FILE_BYTES bytes) plus 16 MiB there for the data it writes."
      continue
    fi
  fi

  # The mount's local data cache fills with what is read.
  s3m_cache=$(s3m_tp_value_of "$s3m_f" --cache)
  if [ -n "$s3m_cache" ] && [ -d "$s3m_cache" ]; then
    s3m_free=$(s3m_tp_free_kib "$s3m_cache")
    if [ -z "$s3m_free" ] || [ "$s3m_free" -lt $((s3m_total * 11 / 10240 + 65536)) ]; then
      s3m_tp_refuse "$s3m_n" S3MountThroughputNoSpace "the mount's cache directory $s3m_cache has ${s3m_free:-?} KiB free; reading $s3m_total bytes through the cache needs that plus 10% and 64 MiB. Use fewer or smaller files."
      continue
    fi
  fi

  if [ "$S3M_TP_MODE" = write ]; then
    S3M_TP_SRC="$S3M_TP_SRCDIR/source"
    if ! head -c "$FILE_BYTES" /dev/urandom >"$S3M_TP_SRC" || ! chmod 0644 "$S3M_TP_SRC"; then
      s3m_tp_cleanup
      fail S3MountScriptFailed "cannot write the test data to $S3M_TP_SRCDIR."
    fi
    s3m_uuid=$(cat /proc/sys/kernel/random/uuid 2>/dev/null || od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
    S3M_TP_DIR="$s3m_p/s3mount-throughput-$s3m_uuid"
    if ! s3m_e=$(s3m_tp_as mkdir -- "$S3M_TP_DIR" 2>&1); then
      S3M_TP_DIR=
      s3m_tp_refuse "$s3m_n" S3MountThroughputFailed "cannot create the test directory under $s3m_p: $s3m_e"
      continue
    fi
  fi

  # All nodes of a fleet start together: wait for START_AT (at most 120 s, in case the clocks disagree).
  s3m_late=0
  if [ "$START_AT" -gt 0 ]; then
    s3m_now=$(date +%s)
    if [ "$START_AT" -gt "$s3m_now" ] && [ $((START_AT - s3m_now)) -le 120 ]; then
      while [ "$(date +%s)" -lt "$START_AT" ]; do sleep 0.1; done
    elif [ "$START_AT" -lt "$s3m_now" ]; then
      s3m_late=$(( (s3m_now - START_AT) * 1000 ))
    fi
  fi

  S3M_TP_TIMEDOUT=0
  S3M_TP_DEADLINE=$(( $(s3m_tp_cs) + TIME_LIMIT * 100 ))
  s3m_wbytes=0 s3m_wns=0 s3m_verified=-
  if [ "$S3M_TP_MODE" = write ]; then
    s3m_tp_phase write "$PARALLEL"
    s3m_wns=$S3M_TP_NS
    s3m_wbytes=$(s3m_tp_bytes write)
    # Read back only what was written.
    awk '$1 == "ok" { print $2 }' "$S3M_TMP/phase.write" >"$S3M_TMP/written"
  fi
  s3m_tp_drop
  s3m_fb_count=$S3M_TP_COUNT
  [ "$s3m_fb_count" -le 32 ] || s3m_fb_count=32
  s3m_keep=$S3M_TP_COUNT
  S3M_TP_COUNT=$s3m_fb_count
  s3m_tp_phase first 1
  S3M_TP_COUNT=$s3m_keep
  s3m_fb=$(awk '$1 == "fb" { print $3 }' "$S3M_TMP/phase.first" | sort -n | awk '{ v[NR] = $1 } END { if (NR) printf "%.0f %.0f\n", v[int((NR + 1) / 2)], v[NR]; else print "- -" }')
  s3m_tp_drop
  s3m_tp_phase read "$PARALLEL"
  s3m_rns=$S3M_TP_NS
  s3m_rbytes=$(s3m_tp_bytes read)
  # Existing files are read to their end; what was written is compared with the source, byte for byte.
  if [ "$S3M_TP_MODE" = write ] && [ -s "$S3M_TMP/written" ]; then
    s3m_tp_phase verify "$PARALLEL"
    if awk 'FILENAME == ARGV[1] { w[$1] = 1; next } $1 == "err" && ($2 in w) { bad = 1 } END { exit !bad }' "$S3M_TMP/written" "$S3M_TMP/phase.verify"; then s3m_verified=0
    elif grep -q '^late ' "$S3M_TMP/phase.verify"; then s3m_verified=-
    else s3m_verified=1; fi
  fi
  s3m_dirname=${S3M_TP_DIR##*/}
  s3m_tp_cleanup
  s3m_errors=$(wc -l <"$S3M_TMP/errors")
  rec tput "$s3m_n" "$s3m_p" "$S3M_TP_MODE" "$S3M_TP_COUNT" "$s3m_bytes_each" "$PARALLEL" "$s3m_wbytes" "$s3m_wns" "$s3m_rbytes" "$s3m_rns" \
    "${s3m_fb% *}" "${s3m_fb#* }" "$s3m_verified" "$S3M_TP_DROPPED" "$S3M_TP_CLOCK" "$s3m_dirname" "$s3m_late" "$S3M_TP_TIMEDOUT" "$s3m_errors"
  head -n 10 "$S3M_TMP/errors" | while IFS= read -r s3m_l; do rec tputerr "$s3m_n" "$s3m_l"; done
  : >"$S3M_TMP/errors"
done
emit_selected
finish
