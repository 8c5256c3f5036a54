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

# fail ID MESSAGE: a refusal or failure with a stable id; nothing after it runs. With S3M_ONE_OF_MANY=1 (a script that
# changes many mounts, each in its own subshell) it ends only that mount's subshell, as a "fail NAME ID MESSAGE" record for the mount the globals describe.
S3M_ONE_OF_MANY=0
fail() {
  if [ "$S3M_ONE_OF_MANY" = 1 ]; then
    rec fail "$NAME" "$1" "$2"
    log "$NAME: $1: $2"
    exit 1
  fi
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
      rec health "$s3m_esn" NotMounted 0 ""
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
# unit file (the same rules as unit_path, unit_bucket and emit_unit) and also writes the selected units' records for
# emit_selected, and "$S3M_TMP/meta": NAME, 1 for S3Mount's own units (0 for others), bucket, path, file; one unit a line,
# for every unit file, selected or not.
select_units() {
  SELECTED=
  : >"$S3M_TMP/selected"
  : >"$S3M_TMP/unitrecs"
  : >"$S3M_TMP/meta"
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
        nl = 0; xp = ""; xb = ""; es = ""; fmt = 0
        while ((getline l <f) > 0) {
          line[++nl] = l
          if (index(l, "X-S3Mount-Path=") == 1) xp = substr(l, 16)
          else if (index(l, "X-S3Mount-Bucket=") == 1) xb = substr(l, 18)
          else if (index(l, "ExecStart=") == 1) es = substr(l, 11)
          else if (index(l, "X-S3Mount-Format=") == 1) fmt = 1
        }
        close(f)
        if (xp != "") p = xdec(xp)
        else { m = split(es, w); p = w[m]; while (length(p) > 1 && substr(p, length(p)) == "/") p = substr(p, 1, length(p) - 1) }
        name = f; sub(/.*\//, "", name)
        if (xb != "") b = xdec(xb)
        else { m = split(es, w); b = w[m - 1]; sub(/^s3:\/\//, "", b); sub(/\/.*/, "", b) }
        gsub(/\t/, " ", p); gsub(/\t/, " ", b)
        printf "%s\t%s\t%s\t%s\t%s\n", name, fmt, b, p, f >>(t "/meta")
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

# mount_create: the whole of create for one mount (install, adopt, or with FORCE replace one unit, start it, wait for
# the mount; roll back on failure), with its parameters as globals: NAME BUCKET BUCKET_X MPATH MPATH_X MPATH_MI SVC_USER
# SVC_GROUP UNIT_B64 MOUNTS3 CACHE_DIR NEEDS_ALLOW_OTHER REQS EXTRAS FORCE NO_START NO_ENABLE KEEP_ON_FAILURE
# WAIT_SECONDS. Ends with a "result NAME CHANGED ADOPTED STARTED" record (STARTED: this run started or restarted it)
# and s3m_unit set to the unit file; a refusal or failure calls fail (which, with S3M_ONE_OF_MANY, ends only a subshell).
# A caller that creates many mounts asks the node's mount-s3 once: S3M_MOUNTS3_VERSION (its version, live) and
# S3M_MOUNTS3_WARNED (offline: the image lacks it, already said).
mount_create() {
  rm -f -- "$S3M_TMP/unit" "$S3M_TMP/old-unit" "$S3M_TMP/old-fuse" "$S3M_TMP/unsupported"
  # The node's mount-s3: present, new enough for every option, and knowing every extra argument.
  if [ -z "$ROOT" ]; then
    [ -x "$MOUNTS3" ] || fail S3MountNotInstalled "mount-s3 is not installed at $MOUNTS3 on this node: run Install-MountpointS3 first."
    s3m_ver=${S3M_MOUNTS3_VERSION:-$(mounts3_version "$MOUNTS3")}
    [ -n "$s3m_ver" ] || fail S3MountVersionInvalid "'$MOUNTS3 --version' did not print a version."
    printf '%s\n' "$REQS" | while read -r s3m_need s3m_opt; do
      [ -n "$s3m_need" ] || continue
      if version_lt "$s3m_ver" "$s3m_need"; then printf '%s %s\n' "$s3m_need" "$s3m_opt"; fi
    done >"$S3M_TMP/unsupported"
    if [ -s "$S3M_TMP/unsupported" ]; then
      read -r s3m_need s3m_opt <"$S3M_TMP/unsupported"
      fail S3MountOptionUnsupported "$s3m_opt needs mount-s3 $s3m_need or later; this node has $s3m_ver. Upgrade with Install-MountpointS3 -Version $s3m_need (or later), or leave the option out."
    fi
    if [ -n "$EXTRAS" ]; then
      s3m_help=$("$MOUNTS3" --help 2>&1)
      for s3m_x in $EXTRAS; do
        case $s3m_help in
          *"--$s3m_x"*) ;;
          *) fail S3MountOptionUnknown "mount-s3 $s3m_ver on this node does not know --$s3m_x (from -ExtraArgument): check 'mount-s3 --help'." ;;
        esac
      done
    fi
  elif [ "${S3M_MOUNTS3_WARNED:-0}" != 1 ] && ! mounts3_in_image; then
    rec warning "mount-s3 is not installed in $ROOT yet ($MOUNTS3); install it into the image before it boots."
  fi

  resolve_ids "$SVC_USER" "$SVC_GROUP"

  # Who mounts this path already? The same bucket is adopted under its existing name; another bucket is refused.
  s3m_found=$(find_unit_for_path "$BUCKET" "$BUCKET_X" "$MPATH" "$MPATH_X")
  s3m_adopted=0
  case $s3m_found in
    "same "*)
      s3m_file=${s3m_found#same }
      if [ "${s3m_file##*/}" != "$NAME" ]; then
        NAME=${s3m_file##*/}
        s3m_adopted=1
      fi ;;
    "other "*)
      s3m_rest=${s3m_found#other }
      fail S3MountPathInUse "$MPATH is already the mount path of ${s3m_rest%% *} (bucket ${s3m_rest#* }): remove that service first, or choose another -Path." ;;
  esac

  # A mount inside another S3 mount, or around one, would hide it or be hidden: refused.
  s3m_nest=$(unit_files | while IFS= read -r s3m_nf; do
    [ "${s3m_nf##*/}" = "$NAME" ] && continue
    s3m_np=$(unit_path "$s3m_nf")
    if [ -z "$s3m_np" ] || [ "$s3m_np" = "$MPATH" ]; then continue; fi
    case $MPATH/ in "$s3m_np"/*) printf 'inside %s %s\n' "${s3m_nf##*/}" "$s3m_np"; break ;; esac
    case $s3m_np/ in "$MPATH"/*) printf 'around %s %s\n' "${s3m_nf##*/}" "$s3m_np"; break ;; esac
  done)
  case $s3m_nest in
    "inside "*) s3m_nr=${s3m_nest#inside }; fail S3MountPathNested "$MPATH is inside ${s3m_nr#* }, the mount path of ${s3m_nr%% *}: a mount there would be hidden by (or hide part of) that bucket. Choose a path outside it." ;;
    "around "*) s3m_nr=${s3m_nest#around }; fail S3MountPathNested "$MPATH contains ${s3m_nr#* }, the mount path of ${s3m_nr%% *}: mounting here would hide that mount. Choose a path that does not contain it." ;;
  esac

  s3m_existing=
  for s3m_d in "$S3M_ETC_UNITS" "$S3M_USR_UNITS" "$S3M_LIB_UNITS"; do
    if [ -f "$s3m_d/$NAME" ]; then s3m_existing="$s3m_d/$NAME"; break; fi
  done
  s3m_unitdir=${s3m_existing%/*}
  [ -n "$s3m_existing" ] || s3m_unitdir="$S3M_ETC_UNITS"
  s3m_unit="$s3m_unitdir/$NAME"

  s3m_active=inactive
  s3m_enabled=disabled
  if [ -z "$ROOT" ]; then
    s3m_active=$(systemctl is-active -- "$NAME" 2>/dev/null)
    s3m_enabled=$(systemctl is-enabled -- "$NAME" 2>/dev/null)
    # Something that is not this service's mount-s3 may not be mounted there.
    if s3m_src=$(mountinfo_any "$MPATH_MI"); then
      if [ "$s3m_src" != mountpoint-s3 ] || [ -z "$s3m_existing" ]; then
        fail S3MountPathInUse "$MPATH is already mounted (source $s3m_src) by something other than this service: unmount it or choose another -Path."
      fi
    fi
  fi

  b64d "$UNIT_B64" >"$S3M_TMP/unit" || fail S3MountScriptFailed "the unit body did not decode."
  s3m_changed=1
  if [ -n "$s3m_existing" ] && cmp -s -- "$s3m_existing" "$S3M_TMP/unit"; then
    s3m_changed=0
  elif [ -n "$s3m_existing" ] && [ "$FORCE" != 1 ]; then
    if [ "$s3m_adopted" = 1 ] || [ -z "$(unit_key "$s3m_existing" X-S3Mount-Format)" ]; then
      fail S3MountServiceExists "$NAME (not written by S3Mount) already mounts $BUCKET at $MPATH: run again with -Force to adopt it under its name (its unit is rewritten and the mount restarted)."
    fi
    fail S3MountServiceExists "$NAME already mounts $BUCKET at $MPATH with other settings: run again with -Force to replace it (the mount restarts)."
  fi

  # Remember the previous state exactly, for rollback.
  s3m_had_unit=0
  if [ -n "$s3m_existing" ]; then cp -p -- "$s3m_existing" "$S3M_TMP/old-unit"; s3m_had_unit=1; fi
  s3m_fuse=$(rp_or_fail /etc/fuse.conf "The FUSE configuration")
  s3m_had_fuse=0
  if [ -f "$s3m_fuse" ]; then cp -p -- "$s3m_fuse" "$S3M_TMP/old-fuse"; s3m_had_fuse=1; fi
  s3m_fuse_changed=0
  s3m_mdir=$(rp_or_fail "$MPATH" "The mount path")
  s3m_cdir=
  [ -n "$CACHE_DIR" ] && s3m_cdir=$(rp_or_fail "$CACHE_DIR" "The cache directory")
  s3m_dir_top=$(first_missing "$s3m_mdir")
  s3m_cache_top=
  [ -n "$CACHE_DIR" ] && s3m_cache_top=$(first_missing "$s3m_cdir")
  s3m_link="$S3M_ETC_UNITS/remote-fs.target.wants/$NAME"
  s3m_had_link=0
  [ -L "$s3m_link" ] && s3m_had_link=1

  # The directory, the cache directory and fuse.conf are prerequisites, not part of the unit: they are made whenever they
  # are missing, even when the unit is already in place byte for byte (a unit installed before fuse.conf allowed
  # user_allow_other, or a directory deleted since, must not keep failing). Each counts as a change.
  s3m_prep=0
  if [ -n "$s3m_dir_top" ]; then
    if ! { install -d -m 0755 -- "$s3m_mdir" && create_set_owner "$s3m_mdir"; }; then
      create_rollback
      fail S3MountWriteFailed "could not create $MPATH."
    fi
    s3m_prep=1
    rec created "$MPATH"
  fi
  if [ -n "$s3m_cache_top" ]; then
    if ! { install -d -m 0700 -- "$s3m_cdir" && create_set_owner "$s3m_cdir"; }; then
      create_rollback
      fail S3MountWriteFailed "could not create the cache directory $CACHE_DIR."
    fi
    s3m_prep=1
    rec created "$CACHE_DIR"
  fi
  if [ "$NEEDS_ALLOW_OTHER" = 1 ] && ! grep -Eq '^[[:space:]]*user_allow_other[[:space:]]*$' "$s3m_fuse" 2>/dev/null; then
    if grep -Eq '^[[:space:]]*#[[:space:]]*user_allow_other[[:space:]]*$' "$s3m_fuse" 2>/dev/null; then
      sed 's/^[[:space:]]*#[[:space:]]*\(user_allow_other\)[[:space:]]*$/\1/' "$s3m_fuse" | write_atomic "$s3m_fuse" 0644
    else
      { [ -f "$s3m_fuse" ] && cat -- "$s3m_fuse" && [ -n "$(tail -c 1 -- "$s3m_fuse")" ] && echo; echo user_allow_other; } | write_atomic "$s3m_fuse" 0644
    fi || { create_rollback; fail S3MountWriteFailed "could not update $s3m_fuse."; }
    s3m_fuse_changed=1
    s3m_prep=1
    rec fuseconf "user_allow_other"
  fi
  if [ "$s3m_changed" = 1 ]; then
    if ! { mkdir -p -- "$s3m_unitdir" && write_atomic "$s3m_unit" 0644 <"$S3M_TMP/unit"; }; then
      create_rollback
      fail S3MountWriteFailed "could not write $s3m_unit."
    fi
  fi
  [ "$s3m_prep" = 0 ] || s3m_changed=1

  if [ -n "$ROOT" ]; then
    if [ "$NO_ENABLE" != 1 ] && [ "$s3m_had_link" = 0 ]; then
      if ! { mkdir -p -- "${s3m_link%/*}" && ln -sf -- "${s3m_unit#"$ROOT"}" "$s3m_link"; }; then
        create_rollback
        fail S3MountWriteFailed "could not enable $NAME in $ROOT."
      fi
    fi
  else
    if [ "$s3m_changed" = 1 ]; then systemctl daemon-reload >&2; fi
    if [ "$NO_ENABLE" != 1 ] && [ "$s3m_enabled" != enabled ]; then
      systemctl enable -- "$NAME" >&2 2>&1 || { create_rollback; fail S3MountEnableFailed "systemctl enable $NAME failed."; }
      s3m_changed=1
    fi
    if [ "$NO_START" != 1 ]; then
      s3m_started=0
      s3m_restarted=1
      if [ "$s3m_active" = active ] && [ "$s3m_changed" = 1 ] && [ -n "$s3m_existing" ] && ! cmp -s -- "$S3M_TMP/unit" "$S3M_TMP/old-unit" 2>/dev/null; then
        systemctl restart -- "$NAME" >&2 2>&1 && s3m_started=1
      elif [ "$s3m_active" != active ]; then
        systemctl reset-failed -- "$NAME" >/dev/null 2>&1
        systemctl start -- "$NAME" >&2 2>&1 && s3m_started=1
        s3m_changed=1
      else
        s3m_started=1
        s3m_restarted=0
      fi
      s3m_live=0
      if [ "$s3m_started" = 1 ]; then
        wait_live "$NAME" "$MPATH" "$WAIT_SECONDS" && s3m_live=1
      fi
      if [ "$s3m_live" != 1 ]; then
        journal_tail "$NAME" "${S3M_JOURNAL_LINES:-15}"
        if [ "$KEEP_ON_FAILURE" = 1 ]; then
          fail S3MountStartFailed "$NAME did not mount $BUCKET at $MPATH within ${WAIT_SECONDS}s; the unit was kept as asked (-KeepOnFailure). See the journal lines."
        fi
        create_rollback
        fail S3MountStartFailed "$NAME did not mount $BUCKET at $MPATH within ${WAIT_SECONDS}s and was rolled back to the previous state. See the journal lines: journalctl -u $NAME."
      fi
    fi
  fi
  rec result "$NAME" "$s3m_changed" "$s3m_adopted" "${s3m_restarted:-0}"
}

# mounts3_in_image: is mount-s3 in the image (ROOT), at MOUNTS3 resolved inside it?
mounts3_in_image() {
  s3m_m3=$(rp "$MOUNTS3") && { [ -e "$s3m_m3" ] || [ -L "$s3m_m3" ]; }
}

# create_set_owner DIR (for mount_create): the service user owns its directories. Building an image without root privileges cannot chown:
# offline, that is a warning (fix ownership when the image is finalised), live it is a failure.
create_set_owner() {
  if chown -- "$s3m_uid:$s3m_gid" "$1" 2>/dev/null; then return 0; fi
  if [ -n "$ROOT" ]; then
    rec warning "could not give ${1#"$ROOT"} to $SVC_USER ($s3m_uid:$s3m_gid) without root privileges; set its owner before the image boots."
    return 0
  fi
  return 1
}

# create_rollback (for mount_create): puts back exactly what mount_create found (unit, enable link, fuse.conf,
# directories) and restarts the previous service if it was running.
create_rollback() {
  log "rolling back $NAME"
  if [ -z "$ROOT" ]; then systemctl stop -- "$NAME" >&2 2>&1; fi
  if [ "$s3m_had_unit" = 1 ]; then
    cp -p -- "$S3M_TMP/old-unit" "$s3m_unitdir/.s3mount.rollback.$NAME" && mv -f -- "$s3m_unitdir/.s3mount.rollback.$NAME" "$s3m_unit"
    selinux_relabel "$s3m_unit"
  else
    rm -f -- "$s3m_unit"
  fi
  if [ "$s3m_had_link" = 0 ]; then rm -f -- "$s3m_link"; rmdir -- "${s3m_link%/*}" 2>/dev/null; fi
  if [ "$s3m_fuse_changed" = 1 ]; then
    if [ "$s3m_had_fuse" = 1 ]; then cp -p -- "$S3M_TMP/old-fuse" "$s3m_fuse.s3mount.rollback" && mv -f -- "$s3m_fuse.s3mount.rollback" "$s3m_fuse"; else rm -f -- "$s3m_fuse"; fi
  fi
  remove_created "$s3m_dir_top"
  remove_created "$s3m_cache_top"
  if [ -z "$ROOT" ]; then
    systemctl daemon-reload >&2
    systemctl reset-failed -- "$NAME" >/dev/null 2>&1
    if [ "$s3m_active" = active ]; then systemctl start -- "$NAME" >&2 || log "the previous $NAME did not start again"; fi
  fi
}

# mount_remove NAME FILE PATH: stop and disable one unit, make sure nothing is mounted at PATH (lazy unmount only with
# FORCE), delete the unit and its drop-ins; the directory only with REMOVE_DIR and only if empty. Records "removed NAME
# UNITFILE DIR" or "fail NAME ID MESSAGE" (then returns 1); the caller daemon-reloads once for all.
mount_remove() {
  if [ -z "$ROOT" ]; then
    systemctl stop -- "$1" >&2 2>&1 || log "systemctl stop $1 failed"
    systemctl disable -- "$1" >&2 2>&1 || log "systemctl disable $1 failed"
    if mountinfo_has "$(mi_escape "$3")" || mountinfo_any "$(mi_escape "$3")" >/dev/null; then
      if [ "$FORCE" = 1 ]; then
        umount -l -- "$3" >&2 2>&1 || log "umount -l $3 failed"
      fi
      if mountinfo_any "$(mi_escape "$3")" >/dev/null; then
        rec fail "$1" S3MountStillMounted "$3 is still mounted after stopping $1; the unit was kept. Run again with -LazyUnmount to detach it lazily (umount -l), or stop what uses it."
        return 1
      fi
    fi
  fi
  for s3m_w in "$S3M_ETC_UNITS"/*.wants/"$1"; do [ -L "$s3m_w" ] && rm -f -- "$s3m_w"; done
  if ! { rm -f -- "$2" && rm -rf -- "$2.d"; }; then
    rec fail "$1" S3MountWriteFailed "could not delete $2."
    return 1
  fi
  s3m_dir=keep
  if [ "$REMOVE_DIR" = 1 ]; then
    s3m_pd=$(rp "$3")
    if [ -n "$s3m_pd" ] && rmdir -- "$s3m_pd" 2>/dev/null; then s3m_dir=removed
    elif [ -d "$s3m_pd" ]; then s3m_dir=notempty; rec warning "$3 was kept: it is not empty."
    else s3m_dir=absent; fi
  fi
  rec removed "$1" "${2#"$ROOT"}" "$s3m_dir"
}

# The unit directories of this node, or of the image (resolved inside it).
S3M_ETC_UNITS=$(rp_or_fail /etc/systemd/system "The unit directory")
S3M_USR_UNITS=$(rp_or_fail /usr/lib/systemd/system "The unit directory")
S3M_LIB_UNITS=$(rp_or_fail /lib/systemd/system "The unit directory")
