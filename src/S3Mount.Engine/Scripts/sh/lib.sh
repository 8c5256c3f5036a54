# S3Mount node script library (POSIX sh: dash and bash run it; shellcheck -s sh clean).
# stdout carries only the result block; everything else goes to stderr.
# shellcheck shell=sh

S3M_REC=$(mktemp "${TMPDIR:-/tmp}/s3mount-rec.XXXXXX") || { echo "s3mount: cannot create a temp file" >&2; exit 70; }
S3M_TMP=$(mktemp -d "${TMPDIR:-/tmp}/s3mount.XXXXXX") || { echo "s3mount: cannot create a temp dir" >&2; exit 70; }
S3M_EMITTED=0
trap 's3m_cleanup' EXIT
trap 'exit 130' INT TERM HUP

# shellcheck disable=SC2317  # invoked by the EXIT trap
s3m_cleanup() {
  s3m_status=$?
  if [ "$S3M_EMITTED" = 0 ]; then
    rec error S3MountScriptFailed "the node script stopped unexpectedly (exit $s3m_status); see its standard error"
    s3m_emit
    [ "$s3m_status" = 0 ] && s3m_status=1
  fi
  rm -f "$S3M_REC"
  rm -rf "$S3M_TMP"
  [ -z "${S3M_EXTRA_TMP:-}" ] || rm -rf -- "$S3M_EXTRA_TMP"
  exit "$s3m_status"
}

log() { printf 's3mount: %s\n' "$*" >&2; }

# rp PATH: where PATH (absolute, as the node sees it) is on this machine. On a live node that is PATH itself. In an
# offline image (ROOT set) it is resolved inside the image the way a chroot would: symbolic links are followed, an
# absolute link target starts again at ROOT, and '..' never climbs above it, so the result is always under ROOT and
# nothing is ever written outside the image. Fails (status 1) on a loop of more than 40 links.
rp() {
  if [ -z "${ROOT:-}" ]; then printf '%s' "$1"; return 0; fi
  s3m_rprest=${1#/}
  s3m_rpdone=
  s3m_rphops=0
  while [ -n "$s3m_rprest" ]; do
    case $s3m_rprest in
      */*) s3m_rpc=${s3m_rprest%%/*}; s3m_rprest=${s3m_rprest#*/} ;;
      *) s3m_rpc=$s3m_rprest; s3m_rprest= ;;
    esac
    case $s3m_rpc in
      '' | .) continue ;;
      ..) s3m_rpdone=${s3m_rpdone%/*}; continue ;;
    esac
    if [ -L "$ROOT$s3m_rpdone/$s3m_rpc" ]; then
      s3m_rphops=$((s3m_rphops + 1))
      [ "$s3m_rphops" -le 40 ] || return 1
      s3m_rpt=$(readlink -- "$ROOT$s3m_rpdone/$s3m_rpc") || return 1
      case $s3m_rpt in /*) s3m_rpdone= ;; esac
      s3m_rprest=${s3m_rpt#/}${s3m_rprest:+/$s3m_rprest}
      continue
    fi
    s3m_rpdone=$s3m_rpdone/$s3m_rpc
  done
  printf '%s' "$ROOT$s3m_rpdone"
}

# rp_or_fail PATH WHAT: rp, or a refusal when the image's links loop.
rp_or_fail() {
  rp "$1" || fail S3MountPathInvalid "$2 $1 cannot be resolved inside $ROOT: its symbolic links loop."
}

# rec TAG FIELD...: one result record. Fields may hold any byte but newline; tabs become spaces. Only a field that has
# a tab or a newline costs a process (listing 200 units writes thousands of fields).
S3M_TAB=$(printf '\t')
S3M_NL='
'
rec() {
  s3m_rl=$1
  shift
  for s3m_rf in "$@"; do
    case $s3m_rf in
      *"$S3M_TAB"* | *"$S3M_NL"*) s3m_rf=$(printf '%s' "$s3m_rf" | tr '\t\n' '  ') ;;
    esac
    s3m_rl="$s3m_rl	$s3m_rf"
  done
  printf '%s\n' "$s3m_rl" >>"$S3M_REC"
}

# s3m_emit: prints the result block, every field percent-encoded over its bytes, in one awk pass.
s3m_emit() {
  S3M_EMITTED=1
  printf 'S3MOUNT-RESULT 1\n'
  LC_ALL=C awk -F '\t' '
    BEGIN { for (i = 1; i < 256; i++) ord[sprintf("%c", i)] = i }
    function enc(s,   out, i, c, n) {
      if (s == "") return "~"
      out = ""
      n = length(s)
      for (i = 1; i <= n; i++) {
        c = substr(s, i, 1)
        if (c > " " && c < "\177" && c != "%" && c != "~" && c != "+") out = out c
        else if (c == " ") out = out "+"
        else out = out sprintf("%%%02X", ord[c])
      }
      return out
    }
    { line = $1; for (i = 2; i <= NF; i++) line = line " " enc($i); print line }
  ' "$S3M_REC"
  printf 'S3MOUNT-END\n'
}

# finish: success.
finish() {
  s3m_emit
  exit 0
}

# fail ID MESSAGE: a refusal or failure with a stable id; nothing after it runs.
fail() {
  rec error "$1" "$2"
  log "$1: $2"
  s3m_emit
  exit 1
}

# require_root_systemd: live changes need root and a running systemd.
require_root_systemd() {
  [ "$(id -u)" = 0 ] || fail S3MountNotRoot "S3Mount must run as root on the node (it writes systemd units). Run pwsh with sudo, or manage the node from another machine with -InstanceId (SSM runs as root)."
  require_systemd
}

# require_systemd: reading live state needs a running systemd.
require_systemd() {
  [ -d /run/systemd/system ] || fail S3MountNoSystemd "systemd is not running on this machine (no /run/systemd/system). Use -Root to write units into an image, or -InstanceId to manage real nodes through SSM."
  command -v systemctl >/dev/null 2>&1 || fail S3MountNoSystemd "systemctl is not installed on this machine."
}

# b64d TEXT: decodes base64 (unit bodies travel encoded).
b64d() { printf '%s' "$1" | base64 -d; }

# mountinfo_has ESCAPED_PATH: is a mountpoint-s3 mount at that mount point (field as mountinfo escapes it)?
mountinfo_has() {
  M="$1" awk '{for(i=7;i<=NF;i++)if($i=="-")break} $5==ENVIRON["M"]&&$(i+2)=="mountpoint-s3"{f=1} END{exit !f}' /proc/self/mountinfo
}

# mountinfo_any ESCAPED_PATH: is anything at all mounted at that mount point? Prints its source.
mountinfo_any() {
  M="$1" awk '{for(i=7;i<=NF;i++)if($i=="-")break} $5==ENVIRON["M"]{s=$(i+2); f=1} END{if(f)print s; exit !f}' /proc/self/mountinfo
}

# probe PATH: Healthy, Stale or Hung, by a bounded stat of a mounted path (never blocks longer than the bound). A FUSE
# mount without allow-other / allow-root refuses every other user, root included, in the kernel before the daemon is
# asked: "Permission denied" says nothing about the daemon, so the stat is repeated as the mount's owner (user_id= and
# group_id= in mountinfo) with setpriv; where setpriv is missing the mount counts as answering.
probe() {
  s3m_pe=$(timeout -s KILL "${S3M_PROBE_SECONDS:-5}" stat -c %i -- "$1" 2>&1 >/dev/null)
  s3m_prc=$?
  case $s3m_prc:$s3m_pe in
    0:*) echo Healthy ;;
    124:* | 137:*) echo Hung ;;
    *"ermission denied"*)
      s3m_pug=$(M="$(mi_escape "$1")" awk '{for(i=7;i<=NF;i++)if($i=="-")break} $5==ENVIRON["M"]{o=","$(i+3)","; u=o; g=o; sub(/.*,user_id=/,"",u); sub(/,.*/,"",u); sub(/.*,group_id=/,"",g); sub(/,.*/,"",g); if (u ~ /^[0-9]+$/ && g ~ /^[0-9]+$/) r=u" "g} END{print r}' /proc/self/mountinfo)
      if [ -n "$s3m_pug" ] && command -v setpriv >/dev/null 2>&1; then
        s3m_pe=$(timeout -s KILL "${S3M_PROBE_SECONDS:-5}" setpriv --reuid "${s3m_pug% *}" --regid "${s3m_pug#* }" --clear-groups -- stat -c %i -- "$1" 2>&1 >/dev/null)
        case $? in
          0) echo Healthy ;;
          124 | 137) echo Hung ;;
          *) echo Stale ;;
        esac
      else
        echo Healthy
      fi ;;
    *) echo Stale ;;
  esac
}

# unit_files: every mountpoint-s3-*.service, one path a line; /etc overrides /usr/lib for the same name.
unit_files() {
  for s3m_ufd in "$S3M_ETC_UNITS" "$S3M_USR_UNITS" "$S3M_LIB_UNITS"; do
    [ -d "$s3m_ufd" ] || continue
    for s3m_ufu in "$s3m_ufd"/mountpoint-s3-*.service; do
      [ -f "$s3m_ufu" ] || continue
      s3m_ufn=${s3m_ufu##*/}
      case " $s3m_seen " in *" $s3m_ufn "*) continue ;; esac
      s3m_seen="$s3m_seen $s3m_ufn"
      printf '%s\n' "$s3m_ufu"
    done
  done
  s3m_seen=
}
s3m_seen=

# unit_key FILE KEY: the last value of KEY= in FILE (raw, as written).
unit_key() {
  K="$2" awk -F= 'index($0, ENVIRON["K"] "=") == 1 { v = substr($0, length(ENVIRON["K"]) + 2) } END { if (v != "") print v }' "$1"
}

# unit_mount_path FILE: the path a unit mounts, as S3Mount records it (X-S3Mount-Path, encoded) or, for a recipe unit,
# the last word of ExecStart without trailing slashes. Prints "x VALUE" or "r VALUE".
unit_mount_path() {
  s3m_umx=$(unit_key "$1" X-S3Mount-Path)
  if [ -n "$s3m_umx" ]; then
    printf 'x %s\n' "$s3m_umx"
    return
  fi
  unit_key "$1" ExecStart | awk '{p=$NF; while (length(p) > 1 && substr(p, length(p)) == "/") p = substr(p, 1, length(p) - 1); print "r " p}'
}

# unit_bucket FILE: the bucket a unit mounts (X-S3Mount-Bucket, or the recipe's second-to-last ExecStart word, URI reduced to its bucket).
unit_bucket() {
  s3m_ubx=$(unit_key "$1" X-S3Mount-Bucket)
  if [ -n "$s3m_ubx" ]; then
    printf '%s\n' "$s3m_ubx"
    return
  fi
  unit_key "$1" ExecStart | awk '{b=$(NF-1); sub(/^s3:\/\//, "", b); sub(/\/.*/, "", b); print b}'
}

# emit_unit FILE: the unit's name and directory, then the lines the engine parses back into the model: for S3Mount's
# own units only what the model needs (kept small: SSM returns 2,500 characters per node), for others what the
# engine reports defects from.
emit_unit() {
  rec unit "${1##*/}" "$(dirname -- "${1#"$ROOT"}")"
  if grep -q '^X-S3Mount-Format=' "$1"; then
    s3m_eup='^(ExecStart|User|Group|Environment|X-S3Mount-[A-Za-z]+)='
  else
    s3m_eup='^(ExecStart|User|Group|Environment|X-S3Mount-[A-Za-z]+|ExecStop|After|Restart|Assert[A-Za-z_]*)='
  fi
  grep -E "$s3m_eup" "$1" | while IFS= read -r s3m_eul || [ -n "$s3m_eul" ]; do
    rec line "$s3m_eul"
  done
}

# emit_states UNIT...: a "state" and a "health" record per unit, at a cost that does not grow by processes per unit.
# Offline (ROOT set), the enablement comes from the image's .wants links and nothing runs. Live: one
# `systemctl list-units` (one D-Bus call) gives the active and sub state of every loaded mount unit (a unit that is
# not loaded is inactive); one `systemctl show` only for the units that are not inactive gives Result and NRestarts
# (show costs about a millisecond per unit: all of 200 would be the whole budget); the enablement is read from the
# .wants/.requires links as systemctl does for "enabled" (UnitFileState over D-Bus is as slow); one awk joins it all
# with the units' paths and the mount table. Only mounted paths are probed, all with one bounded stat (each on its
# own only when that one does not answer cleanly).
emit_states() {
  [ $# -gt 0 ] || return 0
  if [ -n "$ROOT" ]; then
    for s3m_esn in "$@"; do
      s3m_ese=disabled
      for s3m_esw in "$S3M_ETC_UNITS"/*.wants/"$s3m_esn"; do [ -L "$s3m_esw" ] && s3m_ese=enabled; done
      rec state "$s3m_esn" inactive dead "$s3m_ese" "" 0
      rec health "$s3m_esn" NotMounted 0 "an offline image: nothing is mounted until it boots"
    done
    return 0
  fi
  for s3m_esn in "$@"; do printf '%s\n' "$s3m_esn"; done >"$S3M_TMP/want"
  {
    for s3m_esw in /etc/systemd/system/*.wants/mountpoint-s3-*.service /etc/systemd/system/*.requires/mountpoint-s3-*.service; do
      [ -L "$s3m_esw" ] && printf 'enabled\t%s\n' "${s3m_esw##*/}"
    done
    for s3m_esw in /run/systemd/system/*.wants/mountpoint-s3-*.service /run/systemd/system/*.requires/mountpoint-s3-*.service; do
      [ -L "$s3m_esw" ] && printf 'enabled-runtime\t%s\n' "${s3m_esw##*/}"
    done
    for s3m_esw in /etc/systemd/system/mountpoint-s3-*.service /run/systemd/system/mountpoint-s3-*.service; do
      [ -L "$s3m_esw" ] && [ ! -f "$s3m_esw" ] && printf 'masked\t%s\n' "${s3m_esw##*/}"
    done
  } >"$S3M_TMP/enabled"
  systemctl list-units --all --plain --no-legend --full -- 'mountpoint-s3-*' >"$S3M_TMP/units" 2>/dev/null
  s3m_esl=$(awk 'FILENAME == ARGV[1] { w[$1] = 1; next } ($1 in w) && $3 != "inactive" { print $1 }' "$S3M_TMP/want" "$S3M_TMP/units")
  : >"$S3M_TMP/show"
  # shellcheck disable=SC2086  # unit names are single words
  [ -z "$s3m_esl" ] || systemctl show -p Id,Result,NRestarts -- $s3m_esl >"$S3M_TMP/show" 2>/dev/null
  : >"$S3M_TMP/probe"
  S3M_T="$S3M_TMP" S3M_R="$S3M_REC" LC_ALL=C awk '
    function esc(v,   o, i, c) {
      o = ""
      for (i = 1; i <= length(v); i++) {
        c = substr(v, i, 1)
        if (c == "\\") o = o "\\134"; else if (c == " ") o = o "\\040"; else if (c == "\t") o = o "\\011"; else if (c == "\n") o = o "\\012"; else o = o c
      }
      return o
    }
    BEGIN {
      t = ENVIRON["S3M_T"]; rec = ENVIRON["S3M_R"]
      while ((getline l <(t "/paths")) > 0) { k = index(l, "\t"); pth[substr(l, 1, k - 1)] = substr(l, k + 1) }
      while ((getline l <(t "/enabled")) > 0) { k = index(l, "\t"); en[substr(l, k + 1)] = substr(l, 1, k - 1) }
      while ((getline l <(t "/units")) > 0) { split(l, f, " "); act[f[1]] = f[3]; sub_[f[1]] = f[4] }
      id = r = n = ""
      while ((getline l <(t "/show")) > 0) {
        if (l == "") { if (id != "") { res[id] = r; nr[id] = n } id = r = n = ""; continue }
        k = substr(l, 1, index(l, "=") - 1); v = substr(l, index(l, "=") + 1)
        if (k == "Id") id = v; else if (k == "Result") r = v; else if (k == "NRestarts") n = v
      }
      if (id != "") { res[id] = r; nr[id] = n }
      while ((getline l <"/proc/self/mountinfo") > 0) {
        m = split(l, f, " ")
        for (i = 7; i <= m; i++) if (f[i] == "-") break
        if (f[i + 2] == "mountpoint-s3") mi[f[5]] = 1
      }
      while ((getline id <(t "/want")) > 0) {
        a = (id in act) ? act[id] : "inactive"; s = (id in sub_) ? sub_[id] : "dead"
        u = (id in en) ? en[id] : "disabled"; r = (id in res) ? res[id] : (a == "inactive" ? "success" : ""); n = (id in nr) ? nr[id] : 0
        printf "state\t%s\t%s\t%s\t%s\t%s\t%s\n", id, a, s, u, r, n >>rec
        if (!(id in pth)) continue
        if (esc(pth[id]) in mi) { printf "%s\t%s\t%s\n", id, a, pth[id] >(t "/probe"); continue }
        if (a == "failed") h = "Failed\t0\tthe service failed (" (r == "" ? "unknown" : r) ")"
        else if (a == "active") h = "NotMounted\t0\tthe service is active but nothing is mounted"
        else if (a == "activating" || a == "reloading") h = "NotMounted\t0\tthe service is starting"
        else h = "NotMounted\t0\tthe service is " a
        printf "health\t%s\t%s\n", id, h >>rec
      }
    }'
  [ -s "$S3M_TMP/probe" ] || return 0
  set --
  while IFS='	' read -r s3m_esi s3m_esa s3m_esp; do set -- "$@" "$s3m_esp"; done <"$S3M_TMP/probe"
  if timeout -s KILL "${S3M_PROBE_SECONDS:-5}" stat -c %i -- "$@" >/dev/null 2>&1; then
    while IFS='	' read -r s3m_esi s3m_esa s3m_esp; do
      if [ "$s3m_esa" = active ]; then
        printf 'health\t%s\tHealthy\t1\tmounted and answering\n' "$s3m_esi"
      else
        printf 'health\t%s\tHealthy\t1\tmounted and answering, but the service is %s\n' "$s3m_esi" "$s3m_esa"
      fi
    done <"$S3M_TMP/probe" >>"$S3M_REC"
  else
    while IFS='	' read -r s3m_esi s3m_esa s3m_esp; do
      printf 'health\t%s\t%s\n' "$s3m_esi" "$(health "$s3m_esa" "" "$s3m_esp")"
    done <"$S3M_TMP/probe" >>"$S3M_REC"
  fi
}

# Paths of the units this run looks at: remember_path NAME PATH, path_of NAME.
remember_path() { printf '%s\t%s\n' "$1" "$2" >>"$S3M_TMP/paths"; }
path_of() { N="$1" awk -F '\t' '$1 == ENVIRON["N"] { print $2; exit }' "$S3M_TMP/paths" 2>/dev/null; }

# xdecode VALUE: reverses the percent-encoding of X-S3Mount-* values.
xdecode() {
  s3m_xo=$(printf '%s' "$1" | LC_ALL=C awk '
    function hex(h) { return (index("0123456789ABCDEF", toupper(substr(h, 1, 1))) - 1) * 16 + index("0123456789ABCDEF", toupper(substr(h, 2, 1))) - 1 }
    { out = ""; n = length($0)
      for (i = 1; i <= n; i++) { c = substr($0, i, 1)
        if (c == "%" && i + 2 <= n) { out = out sprintf("\\0%o", hex(substr($0, i + 1, 2))); i += 2 }
        else if (c == "\\") out = out "\\\\"
        else out = out c }
      printf "%s", out }')
  printf '%b' "$s3m_xo"
}

# mi_escape PATH: the path as /proc/self/mountinfo writes it.
mi_escape() { printf '%s' "$1" | sed 's/\\/\\134/g; s/ /\\040/g; s/	/\\011/g'; }

# unit_path FILE: the real mount path of a unit (decoded X-S3Mount-Path, or the recipe's last ExecStart word).
unit_path() {
  s3m_upm=$(unit_mount_path "$1")
  case $s3m_upm in
    "x "*) xdecode "${s3m_upm#x }" ;;
    *) printf '%s' "${s3m_upm#r }" ;;
  esac
}

# health ACTIVE RESULT PATH: "STATUS<TAB>MOUNTED<TAB>REASON" with STATUS one of Healthy, NotMounted, Stale, Hung, Failed.
health() {
  if mountinfo_has "$(mi_escape "$3")"; then
    case $(probe "$3") in
      Healthy)
        if [ "$1" = active ]; then printf 'Healthy\t1\tmounted and answering\n'
        else printf 'Healthy\t1\tmounted and answering, but the service is %s\n' "$1"; fi ;;
      Hung) printf 'Hung\t1\ta stat of the path did not answer within %ss\n' "${S3M_PROBE_SECONDS:-5}" ;;
      *) printf "Stale\\t1\\tthe path answers 'Transport endpoint is not connected': the mount-s3 daemon is gone\\n" ;;
    esac
    return
  fi
  case $1 in
    failed) printf 'Failed\t0\tthe service failed (%s)\n' "${2:-unknown}" ;;
    active) printf 'NotMounted\t0\tthe service is active but nothing is mounted\n' ;;
    activating | reloading) printf 'NotMounted\t0\tthe service is starting\n' ;;
    *) printf 'NotMounted\t0\tthe service is %s\n' "$1" ;;
  esac
}

# journal_tail UNIT: the unit's last journal lines as "journal" records (for failed starts).
journal_tail() {
  command -v journalctl >/dev/null 2>&1 || return 0
  journalctl -u "$1" -n "${2:-15}" --no-pager -o cat 2>/dev/null | while IFS= read -r s3m_jt; do
    rec journal "$s3m_jt"
  done
}

# version_lt A B: is release A older than release B (numeric major.minor.patch)?
version_lt() {
  awk -v a="$1" -v b="$2" 'BEGIN { split(a, x, "."); split(b, y, "."); for (i = 1; i <= 3; i++) { if (x[i] + 0 < y[i] + 0) exit 0; if (x[i] + 0 > y[i] + 0) exit 1 } exit 1 }'
}

# mounts3_version BINARY: "1.23.0" from "mount-s3 1.23.0" or "mount-s3 1.21.0+1.amzn2023"; empty when it does not answer.
mounts3_version() {
  "$1" --version 2>/dev/null | awk 'NR == 1 { v = $NF; sub(/^v/, "", v); sub(/[+-].*/, "", v); print v }'
}

# selinux_relabel FILE: restores the SELinux label of a file moved into place, where SELinux is on.
selinux_relabel() {
  if command -v selinuxenabled >/dev/null 2>&1 && selinuxenabled && command -v restorecon >/dev/null 2>&1; then
    restorecon -- "$1" >&2 || log "restorecon $1 failed"
  fi
}

# write_atomic DEST MODE: stdin to DEST through a temp file in the same directory and a rename.
write_atomic() {
  s3m_wat="$(dirname -- "$1")/.s3mount.$$.$(basename -- "$1")"
  if ! { cat >"$s3m_wat" && chmod "$2" "$s3m_wat" && mv -f -- "$s3m_wat" "$1"; }; then
    rm -f -- "$s3m_wat"
    return 1
  fi
  selinux_relabel "$1"
}

# first_missing DIR: the highest ancestor of DIR (or DIR itself) that does not exist yet; empty if DIR exists. A mount
# point counts as existing even when root cannot stat it (a non-root FUSE mount without allow-other / allow-root
# answers EACCES, a dead one ENOTCONN): test -e says no there, and creating it would fail.
first_missing() {
  s3m_fmd=$1
  s3m_fmt=
  while [ -n "$s3m_fmd" ] && [ ! -e "$s3m_fmd" ] && ! mountinfo_any "$(mi_escape "$s3m_fmd")" >/dev/null; do
    s3m_fmt=$s3m_fmd
    s3m_fmd=${s3m_fmd%/*}
  done
  printf '%s' "$s3m_fmt"
}

# remove_created TOP: removes directories this script created under TOP, only while they are empty.
remove_created() {
  [ -n "$1" ] && [ -d "$1" ] && find "$1" -depth -type d -empty -delete 2>/dev/null
  return 0
}

# resolve_ids USER GROUP: sets s3m_uid and s3m_gid from the node (or, offline, from the image's passwd and group files).
resolve_ids() {
  if [ -n "$ROOT" ]; then
    case $1 in
      *[!0-9]*) s3m_uid=$(U="$1" awk -F: '$1 == ENVIRON["U"] { print $3; exit }' "$(rp /etc/passwd)" 2>/dev/null)
                s3m_gid=$(U="$1" awk -F: '$1 == ENVIRON["U"] { print $4; exit }' "$(rp /etc/passwd)" 2>/dev/null)
                # root is uid 0 in every image, even one whose passwd is not laid down yet.
                if [ -z "$s3m_uid" ] && [ "$1" = root ]; then s3m_uid=0; s3m_gid=0; fi ;;
      *) s3m_uid=$1; s3m_gid=$1 ;;
    esac
    if [ -n "$2" ]; then
      case $2 in
        *[!0-9]*) s3m_gid=$(G="$2" awk -F: '$1 == ENVIRON["G"] { print $3; exit }' "$(rp /etc/group)" 2>/dev/null) ;;
        *) s3m_gid=$2 ;;
      esac
    fi
  else
    s3m_uid=$(id -u -- "$1" 2>/dev/null)
    s3m_gid=$(id -g -- "$1" 2>/dev/null)
    if [ -n "$2" ]; then
      case $2 in
        *[!0-9]*) s3m_gid=$(getent group "$2" 2>/dev/null | awk -F: '{ print $3 }') ;;
        *) s3m_gid=$2 ;;
      esac
    fi
  fi
  [ -n "$s3m_uid" ] || fail S3MountUserUnknown "the user '$1' does not exist on this node${ROOT:+ (in $ROOT/etc/passwd)}: create it first, or choose another -User."
  [ -n "$s3m_gid" ] || fail S3MountUserUnknown "the group '$2' does not exist on this node${ROOT:+ (in $ROOT/etc/group)}: create it first, or choose another -Group."
}

# find_unit_for_path BUCKET BUCKET_X PATH PATH_X: prints the unit file already mounting PATH ("same FILE" for the same
# bucket, "other FILE BUCKET" for another bucket); nothing when the path is free.
find_unit_for_path() {
  unit_files | while IFS= read -r s3m_fuf; do
    s3m_fum=$(unit_mount_path "$s3m_fuf")
    case $s3m_fum in
      "x $4" | "r $3") ;;
      *) continue ;;
    esac
    s3m_fub=$(unit_bucket "$s3m_fuf")
    if [ "$s3m_fub" = "$1" ] || [ "$s3m_fub" = "$2" ]; then
      printf 'same %s\n' "$s3m_fuf"
    else
      printf 'other %s %s\n' "$s3m_fuf" "$s3m_fub"
    fi
    break
  done
}

# select_units: the unit files this run acts on (NAMES and PATHS, or every mount unit when both are empty); remembers
# their paths, and reports names and paths that match nothing. Sets SELECTED to the unit names. One awk reads every
# unit file (the same rules as unit_path and emit_unit) and also writes the selected units' records for emit_selected.
select_units() {
  SELECTED=
  : >"$S3M_TMP/selected"
  : >"$S3M_TMP/unitrecs"
  unit_files >"$S3M_TMP/files"
  S3M_T="$S3M_TMP" S3M_ROOTDIR="$ROOT" S3M_NAMES="${NAMES-}" S3M_PATHS="${PATHS-}" LC_ALL=C awk '
    function hex(h) { return index("0123456789ABCDEF", toupper(h)) - 1 }
    function xdec(v,   o, i, c) {
      o = ""
      for (i = 1; i <= length(v); i++) {
        c = substr(v, i, 1)
        if (c == "%" && i + 2 <= length(v) && hex(substr(v, i + 1, 1)) >= 0 && hex(substr(v, i + 2, 1)) >= 0) {
          o = o sprintf("%c", hex(substr(v, i + 1, 1)) * 16 + hex(substr(v, i + 2, 1))); i += 2
        } else o = o c
      }
      return o
    }
    BEGIN {
      t = ENVIRON["S3M_T"]; root = ENVIRON["S3M_ROOTDIR"]
      nn = split(ENVIRON["S3M_NAMES"], w, " "); for (i = 1; i <= nn; i++) want[w[i]] = 1
      np = split(ENVIRON["S3M_PATHS"], w, "\n"); for (i = 1; i <= np; i++) if (w[i] != "") wantp[w[i]] = 1
      all = (ENVIRON["S3M_NAMES"] == "" && ENVIRON["S3M_PATHS"] == "")
      while ((getline f <(t "/files")) > 0) {
        nl = 0; xp = ""; es = ""; fmt = 0
        while ((getline l <f) > 0) {
          line[++nl] = l
          if (index(l, "X-S3Mount-Path=") == 1) xp = substr(l, 16)
          else if (index(l, "ExecStart=") == 1) es = substr(l, 11)
          else if (index(l, "X-S3Mount-Format=") == 1) fmt = 1
        }
        close(f)
        if (xp != "") p = xdec(xp)
        else { m = split(es, w); p = w[m]; while (length(p) > 1 && substr(p, length(p)) == "/") p = substr(p, 1, length(p) - 1) }
        name = f; sub(/.*\//, "", name)
        if (!all && !(name in want) && !(p in wantp)) continue
        dir = substr(f, length(root) + 1); sub(/\/[^\/]*$/, "", dir); if (dir == "") dir = "/"
        gsub(/\t/, " ", dir)
        printf "%s\t%s\n", name, f >>(t "/selected")
        printf "%s\t%s\n", name, p >>(t "/paths")
        printf "unit\t%s\t%s\n", name, dir >>(t "/unitrecs")
        re = fmt ? "^(ExecStart|User|Group|Environment|X-S3Mount-[A-Za-z]+)=" : "^(ExecStart|User|Group|Environment|X-S3Mount-[A-Za-z]+|ExecStop|After|Restart|Assert[A-Za-z_]*)="
        for (i = 1; i <= nl; i++) if (line[i] ~ re) { l = line[i]; gsub(/\t/, " ", l); printf "line\t%s\n", l >>(t "/unitrecs") }
      }
    }'
  while IFS='	' read -r s3m_sun _; do SELECTED="$SELECTED $s3m_sun"; done <"$S3M_TMP/selected"
  for s3m_sun in $NAMES; do
    case " $SELECTED " in
      *" $s3m_sun "*) ;;
      *) rec fail "$s3m_sun" S3MountServiceNotFound "$s3m_sun does not exist on this node${ROOT:+ (in $ROOT)}." ;;
    esac
  done
  if [ -n "$PATHS" ]; then
    printf '%s\n' "$PATHS" | while IFS= read -r s3m_sup; do
      [ -n "$s3m_sup" ] || continue
      N="$s3m_sup" awk -F '\t' '$2 == ENVIRON["N"] { f = 1 } END { exit !f }' "$S3M_TMP/paths" 2>/dev/null ||
        rec fail "$s3m_sup" S3MountServiceNotFound "no mount service mounts $s3m_sup on this node${ROOT:+ (in $ROOT)}."
    done
  fi
}

# file_of NAME: the unit file of a selected unit.
file_of() { N="$1" awk -F '\t' '$1 == ENVIRON["N"] { print $2; exit }' "$S3M_TMP/selected" 2>/dev/null; }

# emit_selected: the unit lines of every selected unit, then their states and health.
emit_selected() {
  cat -- "$S3M_TMP/unitrecs" >>"$S3M_REC"
  # shellcheck disable=SC2086
  emit_states $SELECTED
}

# wait_live NAME PATH SECONDS: until a healthy mountpoint-s3 mount answers at PATH, for at most SECONDS of wall time
# (plus one probe). Counting rounds instead would wait 20 times longer when the mount is there but hangs: each probe
# of a hung mount takes its full bound.
wait_live() {
  s3m_wld=$(($(date +%s) + $3))
  while :; do
    if mountinfo_has "$(mi_escape "$2")" && [ "$(probe "$2")" = Healthy ]; then return 0; fi
    [ "$(date +%s)" -lt "$s3m_wld" ] || return 1
    sleep 0.25
  done
}

# The unit directories of this node, or of the image (resolved inside it).
S3M_ETC_UNITS=$(rp_or_fail /etc/systemd/system "The unit directory")
S3M_USR_UNITS=$(rp_or_fail /usr/lib/systemd/system "The unit directory")
S3M_LIB_UNITS=$(rp_or_fail /lib/systemd/system "The unit directory")
