# repair: for Stale, NotMounted and Failed mounts (Hung too with FORCE, -IncludeHung): lazily unmount the dead mount, reset-failed,
# start, wait; report the health before and after. Parameters: ROOT NAMES FORCE WAIT_SECONDS
# shellcheck shell=sh

require_root_systemd
rec host "$(hostname 2>/dev/null || cat /etc/hostname 2>/dev/null)"
select_units
for s3m_n in $SELECTED; do
  s3m_p=$(path_of "$s3m_n")
  s3m_before=$(health "$(systemctl is-active -- "$s3m_n" 2>/dev/null)" "$(systemctl show -p Result --value -- "$s3m_n" 2>/dev/null)" "$s3m_p")
  s3m_status=${s3m_before%%	*}
  s3m_action=none
  case $s3m_status in
    Healthy) ;;
    Hung)
      if [ "$FORCE" = 1 ]; then s3m_action=repair; else s3m_action=skipped; fi ;;
    *) s3m_action=repair ;;
  esac
  if [ "$s3m_action" = repair ]; then
    log "repairing $s3m_n ($s3m_status)"
    if mountinfo_has "$(mi_escape "$s3m_p")"; then
      [ "$s3m_status" = Hung ] && systemctl kill -s KILL -- "$s3m_n" >&2 2>&1
      umount -l -- "$s3m_p" >&2 2>&1 || log "umount -l $s3m_p failed"
    fi
    systemctl reset-failed -- "$s3m_n" >/dev/null 2>&1
    if systemctl is-active --quiet -- "$s3m_n"; then
      systemctl restart -- "$s3m_n" >&2 2>&1
    else
      systemctl start -- "$s3m_n" >&2 2>&1
    fi
    if ! wait_live "$s3m_n" "$s3m_p" "$WAIT_SECONDS"; then
      journal_tail "$s3m_n" 10
    fi
  fi
  s3m_after=$(health "$(systemctl is-active -- "$s3m_n" 2>/dev/null)" "$(systemctl show -p Result --value -- "$s3m_n" 2>/dev/null)" "$s3m_p")
  printf 'repair\t%s\t%s\t%s\t%s\n' "$s3m_n" "$s3m_action" "$s3m_before" "$s3m_after" >>"$S3M_REC"
done
emit_selected
finish
