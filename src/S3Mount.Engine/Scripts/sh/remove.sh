# remove NAMES: stop, disable, make sure nothing is mounted (lazy unmount only with FORCE, -LazyUnmount), delete the unit (and its
# drop-ins), daemon-reload; the directory only with REMOVE_DIR and only if empty. fuse.conf is left alone.
# Parameters: ROOT NAMES FORCE REMOVE_DIR
# shellcheck shell=sh

[ -n "$ROOT" ] || require_root_systemd
rec host "$(hostname 2>/dev/null || cat /etc/hostname 2>/dev/null)"
select_units
s3m_reload=0
for s3m_n in $SELECTED; do
  s3m_f=$(file_of "$s3m_n")
  s3m_p=$(path_of "$s3m_n")
  emit_unit "$s3m_f"
  if [ -z "$ROOT" ]; then
    systemctl stop -- "$s3m_n" >&2 2>&1 || log "systemctl stop $s3m_n failed"
    systemctl disable -- "$s3m_n" >&2 2>&1 || log "systemctl disable $s3m_n failed"
    if mountinfo_has "$(mi_escape "$s3m_p")" || mountinfo_any "$(mi_escape "$s3m_p")" >/dev/null; then
      if [ "$FORCE" = 1 ]; then
        umount -l -- "$s3m_p" >&2 2>&1 || log "umount -l $s3m_p failed"
      fi
      if mountinfo_any "$(mi_escape "$s3m_p")" >/dev/null; then
        rec fail "$s3m_n" S3MountStillMounted "$s3m_p is still mounted after stopping $s3m_n; the unit was kept. Run again with -LazyUnmount to detach it lazily (umount -l), or stop what uses it."
        continue
      fi
    fi
  fi
  for s3m_w in "$S3M_ETC_UNITS"/*.wants/"$s3m_n"; do [ -L "$s3m_w" ] && rm -f -- "$s3m_w"; done
  if ! { rm -f -- "$s3m_f" && rm -rf -- "$s3m_f.d"; }; then
    rec fail "$s3m_n" S3MountWriteFailed "could not delete $s3m_f."
    continue
  fi
  s3m_reload=1
  s3m_dir=keep
  if [ "$REMOVE_DIR" = 1 ]; then
    s3m_pd=$(rp "$s3m_p")
    if [ -n "$s3m_pd" ] && rmdir -- "$s3m_pd" 2>/dev/null; then s3m_dir=removed
    elif [ -d "$s3m_pd" ]; then s3m_dir=notempty; rec warning "$s3m_p was kept: it is not empty."
    else s3m_dir=absent; fi
  fi
  rec removed "$s3m_n" "${s3m_f#"$ROOT"}" "$s3m_dir"
done
if [ -z "$ROOT" ] && [ "$s3m_reload" = 1 ]; then
  systemctl daemon-reload >&2
  # shellcheck disable=SC2086
  systemctl reset-failed -- $SELECTED >/dev/null 2>&1
fi
finish
