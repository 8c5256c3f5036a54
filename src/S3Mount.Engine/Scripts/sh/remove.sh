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
  emit_unit "$s3m_f"
  mount_remove "$s3m_n" "$s3m_f" "$(path_of "$s3m_n")" && s3m_reload=1
done
if [ -z "$ROOT" ] && [ "$s3m_reload" = 1 ]; then
  systemctl daemon-reload >&2
  # shellcheck disable=SC2086
  systemctl reset-failed -- $SELECTED >/dev/null 2>&1
fi
finish
