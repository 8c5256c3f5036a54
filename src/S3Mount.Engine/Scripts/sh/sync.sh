# sync: converge this node to a mount map, or (MODE plan) only say how it differs and what would be done.
# The plan is made here, on the node, from what the node has; apply carries it out at once.
# Parameters: ROOT MODE (plan, apply) PRUNE ADOPT MOUNTS3 WAIT_SECONDS COUNT, and for each mapped mount I
# (1..COUNT) create's parameters as M<I>_NAME M<I>_BUCKET ... (see load_mount).
# Records: for every mapped mount and every extra unit (IDX 0) "sync IDX NAME STATE ACTION DETAIL", STATE one of
# Missing, Drifted, Foreign, InSync, Extra, ACTION one of create, update, adopt, remove, keep, none; in apply mode the
# changes run in order (removals first, so a pruned unit frees its path), each after a "begin IDX" record (extra units:
# "begin 0 NAME") and
# followed by what mount_create or mount_remove recorded ("result", "removed" or "fail"). The unit lines of every
# Drifted, Foreign and Extra unit, as they were before any change ("unit" and "line" records, as listing writes them).
# shellcheck shell=sh

if [ -z "$ROOT" ]; then
  if [ "$MODE" = apply ]; then require_root_systemd; else require_systemd; fi
fi
rec host "$(hostname 2>/dev/null || cat /etc/hostname 2>/dev/null)"

S3M_MOUNT_KEYS='NAME BUCKET BUCKET_X MPATH MPATH_X MPATH_MI SVC_USER SVC_GROUP UNIT_B64 CACHE_DIR NEEDS_ALLOW_OTHER REQS EXTRAS'

# load_mount I: the globals mount_create reads, from mapped mount I.
load_mount() {
  for s3m_k in $S3M_MOUNT_KEYS; do
    eval "$s3m_k=\${M$1_$s3m_k}"
  done
}

# in_sync FILE UNIT: why mapped mount (the globals) differs from its unit UNIT in FILE, one reason a line; nothing when
# it is in sync.
in_sync() {
  b64d "$UNIT_B64" >"$S3M_TMP/desired"
  cmp -s -- "$1" "$S3M_TMP/desired" || echo "the unit differs"
  s3m_en=0
  for s3m_w in "$S3M_ETC_UNITS"/*.wants/"$2"; do [ -L "$s3m_w" ] && s3m_en=1; done
  [ "$s3m_en" = 1 ] || echo "not enabled"
  if [ -z "$ROOT" ]; then
    case " $s3m_running " in
      *" $2 "*) ;;
      *) echo "not running" ;;
    esac
    mountinfo_any "$MPATH_MI" >/dev/null || [ -d "$MPATH" ] || echo "the directory $MPATH is missing"
  else
    [ -d "$(rp "$MPATH")" ] || echo "the directory $MPATH is missing"
  fi
  [ -z "$CACHE_DIR" ] || [ -d "$(rp "$CACHE_DIR")" ] || echo "the cache directory $CACHE_DIR is missing"
  if [ "$NEEDS_ALLOW_OTHER" = 1 ] && ! grep -Eq '^[[:space:]]*user_allow_other[[:space:]]*$' "$(rp /etc/fuse.conf)" 2>/dev/null; then
    echo "fuse.conf lacks user_allow_other"
  fi
}

# Every unit file, once (names, paths, buckets, whether S3Mount wrote it, and its lines for the report).
NAMES=
PATHS=
select_units
s3m_running=
if [ -z "$ROOT" ]; then
  s3m_running=$(systemctl list-units --all --plain --no-legend --full -- 'mountpoint-s3-*' 2>/dev/null | awk '$3 == "active" { printf "%s ", $1 }')
fi

# The map, one mount a line: index, unit name, bucket, path.
: >"$S3M_TMP/map"
s3m_i=1
while [ "$s3m_i" -le "$COUNT" ]; do
  load_mount "$s3m_i"
  printf '%s\t%s\t%s\t%s\n' "$s3m_i" "$NAME" "$BUCKET" "$MPATH" >>"$S3M_TMP/map"
  s3m_i=$((s3m_i + 1))
done

# What each mapped mount finds on the node: its own S3Mount unit (under its name, or under the name of a recipe unit it
# adopted), nothing, a unit of somebody else at its path (foreign: same or other bucket), or an S3Mount unit of another
# bucket at its path (blocked: that one is extra); then the extra S3Mount units. One line each: KIND IDX UNIT BUCKET PATH FILE.
LC_ALL=C awk -F '\t' '
  FILENAME == ARGV[1] { n++; u[n] = $1; fmt[$1] = $2; bk[$1] = $3; pth[$1] = $4; fl[$1] = $5; next }
  {
    mapped[$2] = 1
    if (($2 in fmt) && fmt[$2] == 1) { printf "own\t%s\t%s\t%s\t%s\t%s\n", $1, $2, bk[$2], pth[$2], fl[$2]; next }
    f = ""
    if ($2 in fmt) f = $2
    else for (i = 1; i <= n; i++) if (pth[u[i]] == $4) { f = u[i]; break }
    if (f == "") printf "missing\t%s\t\t\t\t\n", $1
    else if (fmt[f] == 1 && bk[f] == $3) { mapped[f] = 1; printf "own\t%s\t%s\t%s\t%s\t%s\n", $1, f, bk[f], pth[f], fl[f] }
    else if (fmt[f] == 1) printf "blocked\t%s\t%s\t%s\t%s\t%s\n", $1, f, bk[f], pth[f], fl[f]
    else printf "%s\t%s\t%s\t%s\t%s\t%s\n", (bk[f] == $3 ? "foreign" : "foreign-other"), $1, f, bk[f], pth[f], fl[f]
  }
  END { for (i = 1; i <= n; i++) if (fmt[u[i]] == 1 && !(u[i] in mapped)) printf "extra\t0\t%s\t%s\t%s\t%s\n", u[i], bk[u[i]], pth[u[i]], fl[u[i]] }
' "$S3M_TMP/meta" "$S3M_TMP/map" >"$S3M_TMP/found"

# The plan: "IDX STATE ACTION UNIT FILE UNITPATH DETAIL" a line, in the order it runs (removals first).
: >"$S3M_TMP/plan"
s3m_show=
while IFS='	' read -r s3m_kind s3m_i s3m_u s3m_b s3m_p s3m_f; do
  [ "$s3m_i" = 0 ] || load_mount "$s3m_i"
  s3m_detail=
  case $s3m_kind in
    own)
      s3m_detail=$(in_sync "$s3m_f" "$s3m_u" | awk 'NR > 1 { printf "; " } { printf "%s", $0 }')
      if [ -z "$s3m_detail" ]; then s3m_state=InSync; s3m_action=none
      else s3m_state=Drifted; s3m_action=update; s3m_show="$s3m_show $s3m_u"; fi ;;
    missing) s3m_state=Missing; s3m_action=create ;;
    blocked)
      s3m_state=Missing; s3m_action=create
      if [ "$PRUNE" = 1 ]; then s3m_detail="$s3m_u (bucket $s3m_b, not in the map) mounts $MPATH now and is removed first"
      else s3m_detail="$s3m_u (bucket $s3m_b, not in the map) mounts $MPATH: the create is refused unless -Prune removes it"; fi ;;
    foreign | foreign-other)
      s3m_state=Foreign; s3m_show="$s3m_show $s3m_u"
      if [ "$s3m_kind" = foreign-other ]; then s3m_detail="$s3m_u, not written by S3Mount, mounts bucket $s3m_b at $MPATH"
      else s3m_detail="$s3m_u, not written by S3Mount, mounts $BUCKET at $MPATH"; fi
      if [ "$ADOPT" = 1 ]; then s3m_action=adopt; else s3m_action=keep; fi ;;
    extra)
      s3m_state=Extra; s3m_show="$s3m_show $s3m_u"; s3m_detail="not in the map"
      if [ "$PRUNE" = 1 ]; then s3m_action=remove; else s3m_action=keep; fi ;;
  esac
  # An extra or foreign item is about the unit found (it keeps its name when adopted); the others about the mapped one.
  case $s3m_kind in
    own | extra | foreign | foreign-other) s3m_name=$s3m_u ;;
    *) s3m_name=$NAME ;;
  esac
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$s3m_i" "$s3m_state" "$s3m_action" "$s3m_name" "$s3m_f" "$s3m_p" "$s3m_detail" >>"$S3M_TMP/plan"
done <"$S3M_TMP/found"
LC_ALL=C sort -s -t '	' -k 1,1n -o "$S3M_TMP/plan" "$S3M_TMP/plan"

# The unit lines of what differs, as found.
S3M_SHOW="$s3m_show" awk -F '\t' '
  BEGIN { n = split(ENVIRON["S3M_SHOW"], w, " "); for (i = 1; i <= n; i++) show[w[i]] = 1 }
  $1 == "unit" { on = ($2 in show) } on { print }
' "$S3M_TMP/unitrecs" >>"$S3M_REC"

# Apply: removals (PRUNE), then creates, updates and adoptions, each mount on its own: a mount that fails is rolled
# back by mount_create and reported, and the others go on.
if [ "$MODE" = apply ]; then
  FORCE=0
  REMOVE_DIR=0
  NO_START=0
  NO_ENABLE=0
  KEEP_ON_FAILURE=0
  S3M_JOURNAL_LINES=5
  s3m_reload=0
  # mount-s3 is asked once for all mounts.
  if [ -z "$ROOT" ]; then
    [ -x "$MOUNTS3" ] && S3M_MOUNTS3_VERSION=$(mounts3_version "$MOUNTS3")
  elif ! mounts3_in_image && grep -q '	create	\|	update	\|	adopt	' "$S3M_TMP/plan"; then
    rec warning "mount-s3 is not installed in $ROOT yet ($MOUNTS3); install it into the image before it boots."
    S3M_MOUNTS3_WARNED=1
  fi
  while IFS='	' read -r s3m_i s3m_state s3m_action s3m_name s3m_f s3m_p s3m_detail; do
    case $s3m_action in
      remove)
        rec begin 0 "$s3m_name"
        mount_remove "$s3m_name" "$s3m_f" "$s3m_p" && s3m_reload=1 ;;
      create | update | adopt)
        rec begin "$s3m_i"
        [ "$s3m_reload" = 0 ] || [ -n "$ROOT" ] || { systemctl daemon-reload >&2; s3m_reload=0; }
        (
          load_mount "$s3m_i"
          S3M_ONE_OF_MANY=1
          [ "$s3m_action" = create ] || FORCE=1
          mount_create
        ) ;;
    esac
  done <"$S3M_TMP/plan"
  if [ "$s3m_reload" = 1 ] && [ -z "$ROOT" ]; then systemctl daemon-reload >&2; fi
fi

while IFS='	' read -r s3m_i s3m_state s3m_action s3m_name s3m_f s3m_p s3m_detail; do
  rec sync "$s3m_i" "$s3m_name" "$s3m_state" "$s3m_action" "$s3m_detail"
done <"$S3M_TMP/plan"
finish
