# start, stop, restart, enable, disable NAMES; start and restart wait until the mount answers. In an offline image
# (ROOT set) only enable and disable, as the image's .wants links.
# Parameters: ROOT NAMES ACTION WAIT_SECONDS
# shellcheck shell=sh

[ -n "$ROOT" ] || require_root_systemd
rec host "$(hostname 2>/dev/null || cat /etc/hostname 2>/dev/null)"
select_units
for s3m_n in $SELECTED; do
  s3m_p=$(path_of "$s3m_n")
  if [ -n "$ROOT" ]; then
    s3m_f=$(file_of "$s3m_n")
    case $ACTION in
      enable)
        s3m_l="$S3M_ETC_UNITS/remote-fs.target.wants/$s3m_n"
        if [ ! -L "$s3m_l" ] && ! { mkdir -p -- "${s3m_l%/*}" && ln -s -- "${s3m_f#"$ROOT"}" "$s3m_l"; }; then
          rec fail "$s3m_n" S3MountWriteFailed "could not enable $s3m_n in $ROOT."
          continue
        fi ;;
      disable)
        for s3m_w in "$S3M_ETC_UNITS"/*.wants/"$s3m_n"; do [ -L "$s3m_w" ] && rm -f -- "$s3m_w"; done ;;
    esac
    rec ok "$s3m_n" "$ACTION"
    continue
  fi
  if [ "$ACTION" = start ] || [ "$ACTION" = restart ]; then systemctl reset-failed -- "$s3m_n" >/dev/null 2>&1; fi
  if ! s3m_out=$(systemctl "$ACTION" -- "$s3m_n" 2>&1); then
    log "$s3m_out"
    journal_tail "$s3m_n" 10
    rec fail "$s3m_n" S3MountControlFailed "systemctl $ACTION $s3m_n failed: $(printf '%s' "$s3m_out" | tail -n 1)"
    continue
  fi
  case $ACTION in
    start | restart)
      if ! wait_live "$s3m_n" "$s3m_p" "$WAIT_SECONDS"; then
        journal_tail "$s3m_n" 10
        rec fail "$s3m_n" S3MountStartFailed "$s3m_n started but nothing answered at $s3m_p within ${WAIT_SECONDS}s: see journalctl -u $s3m_n."
      fi ;;
    stop)
      if mountinfo_has "$(mi_escape "$s3m_p")"; then
        rec fail "$s3m_n" S3MountStillMounted "$s3m_n stopped but $s3m_p is still mounted; Remove-S3MountService -LazyUnmount or 'umount -l' clears it."
      fi ;;
  esac
  rec ok "$s3m_n" "$ACTION"
done
emit_selected
finish
