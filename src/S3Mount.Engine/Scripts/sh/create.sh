# create: install (or adopt, or replace with FORCE) one mount service, start it, wait for the mount; roll back on failure.
# Parameters (set by the engine): ROOT NAME BUCKET BUCKET_X MPATH MPATH_X MPATH_MI SVC_USER SVC_GROUP UNIT_B64 MOUNTS3
#   CACHE_DIR NEEDS_ALLOW_OTHER REQS EXTRAS FORCE NO_START NO_ENABLE KEEP_ON_FAILURE WAIT_SECONDS
#   BACKOFF_DROPIN_NAME BACKOFF_DROPIN_B64 RESTART_STEPS_SYSTEMD (the drop-in for systemd >= that version)
#   HEALTH_INTERVAL HEALTH_TIMER_B64 HEALTH_SERVICE_B64 HEALTH_PROGRAM HEALTH_PROGRAM_GZ (gzip, base64; 0: no health check)
# shellcheck shell=sh

[ -n "$ROOT" ] || require_root_systemd

# The node's mount-s3: present, new enough for every option, and knowing every extra argument.
if [ -z "$ROOT" ]; then
  [ -x "$MOUNTS3" ] || fail S3MountNotInstalled "mount-s3 is not installed at $MOUNTS3 on this node: run Install-MountpointS3 first."
  s3m_ver=$(mounts3_version "$MOUNTS3")
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
elif [ ! -e "$ROOT$MOUNTS3" ]; then
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

s3m_existing=
for s3m_d in "$ROOT/etc/systemd/system" "$ROOT/usr/lib/systemd/system" "$ROOT/lib/systemd/system"; do
  if [ -f "$s3m_d/$NAME" ]; then s3m_existing="$s3m_d/$NAME"; break; fi
done
s3m_unitdir=${s3m_existing%/*}
[ -n "$s3m_existing" ] || s3m_unitdir="$ROOT/etc/systemd/system"
s3m_unit="$s3m_unitdir/$NAME"

s3m_hname=$(health_name "$NAME")
s3m_active=inactive
s3m_enabled=disabled
s3m_timer_was=inactive
if [ -z "$ROOT" ]; then
  s3m_timer_was=$(systemctl is-active -- "$s3m_hname.timer" 2>/dev/null)
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
s3m_fuse="$ROOT/etc/fuse.conf"
s3m_had_fuse=0
if [ -f "$s3m_fuse" ]; then cp -p -- "$s3m_fuse" "$S3M_TMP/old-fuse"; s3m_had_fuse=1; fi
s3m_fuse_changed=0
s3m_dir_top=$(first_missing "$ROOT$MPATH")
s3m_cache_top=
[ -n "$CACHE_DIR" ] && s3m_cache_top=$(first_missing "$ROOT$CACHE_DIR")
s3m_link="$ROOT/etc/systemd/system/remote-fs.target.wants/$NAME"
s3m_had_link=0
[ -L "$s3m_link" ] && s3m_had_link=1

# set_owner DIR: the service user owns its directories. Building an image without root privileges cannot chown:
# offline, that is a warning (fix ownership when the image is finalised), live it is a failure.
set_owner() {
  if chown -- "$s3m_uid:$s3m_gid" "$1" 2>/dev/null; then return 0; fi
  if [ -n "$ROOT" ]; then
    rec warning "could not give ${1#"$ROOT"} to $SVC_USER ($s3m_uid:$s3m_gid) without root privileges; set its owner before the image boots."
    return 0
  fi
  return 1
}

# The files that follow the unit: the back-off drop-in, the health timer, service, enable link and program. stage
# remembers how each was, for rollback; unstage puts them back, newest first.
: >"$S3M_TMP/staged"
: >"$S3M_TMP/tops"
s3m_staged=0
s3m_stage_n=0

# stage DEST MODE SRC: DEST gets SRC's bytes (SRC empty: DEST goes). Sets s3m_staged=1 when that changed anything.
stage() {
  if [ -n "$3" ]; then
    cmp -s -- "$3" "$1" && return 0
  else
    [ -e "$1" ] || [ -L "$1" ] || return 0
  fi
  stage_save "$1"
  if [ -n "$3" ]; then
    printf '%s\n' "$(first_missing "${1%/*}")" >>"$S3M_TMP/tops"
    mkdir -p -- "${1%/*}" && write_atomic "$1" "$2" <"$3"
  else
    rm -f -- "$1"
  fi
}

# stage_link DEST TARGET: DEST becomes a symlink to TARGET.
stage_link() {
  [ -L "$1" ] && [ "$(readlink -- "$1")" = "$2" ] && return 0
  stage_save "$1"
  printf '%s\n' "$(first_missing "${1%/*}")" >>"$S3M_TMP/tops"
  mkdir -p -- "${1%/*}" && ln -sfn -- "$2" "$1"
}

stage_save() {
  s3m_stage_n=$((s3m_stage_n + 1))
  s3m_staged=1
  if [ -e "$1" ] || [ -L "$1" ]; then
    cp -P -p -- "$1" "$S3M_TMP/staged.$s3m_stage_n" && printf '%s\thad\t%s\n' "$s3m_stage_n" "$1" >>"$S3M_TMP/staged"
  else
    printf '%s\tnew\t%s\n' "$s3m_stage_n" "$1" >>"$S3M_TMP/staged"
  fi
}

unstage() {
  sort -t '	' -k1,1nr -- "$S3M_TMP/staged" | while IFS='	' read -r s3m_un s3m_uh s3m_ud; do
    if [ "$s3m_uh" = had ]; then
      cp -P -p -- "$S3M_TMP/staged.$s3m_un" "$s3m_ud.s3mount.rollback" && mv -f -- "$s3m_ud.s3mount.rollback" "$s3m_ud"
    else
      rm -f -- "$s3m_ud"
    fi
  done
  while IFS= read -r s3m_ut; do remove_created "$s3m_ut"; done <"$S3M_TMP/tops"
}

rollback() {
  log "rolling back $NAME"
  if [ -z "$ROOT" ]; then
    systemctl stop -- "$NAME" >&2 2>&1
    [ "$s3m_timer_was" = active ] || systemctl stop -- "$s3m_hname.timer" "$s3m_hname.service" >/dev/null 2>&1
  fi
  unstage
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
    backoff_reset "$NAME"
    if [ "$s3m_active" = active ]; then systemctl start -- "$NAME" >&2 || log "the previous $NAME did not start again"; fi
    if [ "$s3m_timer_was" = active ]; then systemctl restart -- "$s3m_hname.timer" >&2 2>&1 || log "the previous $s3m_hname.timer did not start again"; fi
  fi
}

# systemd_version: the node's systemd release (252), or, offline, the image's (from libsystemd-shared-NNN*.so); empty
# when it cannot be told.
systemd_version() {
  if [ -z "$ROOT" ]; then
    systemctl --version 2>/dev/null | awk 'NR == 1 && $2 ~ /^[0-9]+$/ { print $2 }'
    return
  fi
  for s3m_svf in "$ROOT"/usr/lib/systemd/libsystemd-shared-*.so "$ROOT"/usr/lib64/systemd/libsystemd-shared-*.so \
    "$ROOT"/usr/lib/*/systemd/libsystemd-shared-*.so "$ROOT"/lib/systemd/libsystemd-shared-*.so; do
    [ -e "$s3m_svf" ] || continue
    s3m_svf=${s3m_svf##*/libsystemd-shared-}
    s3m_svf=${s3m_svf%%[!0-9]*}
    [ -n "$s3m_svf" ] && { printf '%s\n' "$s3m_svf"; return; }
  done
}

# The directory, the cache directory and fuse.conf are prerequisites, not part of the unit: they are made whenever they
# are missing, even when the unit is already in place byte for byte (a unit installed before fuse.conf allowed
# user_allow_other, or a directory deleted since, must not keep failing). Each counts as a change.
s3m_prep=0
if [ -n "$s3m_dir_top" ]; then
  if ! { install -d -m 0755 -- "$ROOT$MPATH" && set_owner "$ROOT$MPATH"; }; then
    rollback
    fail S3MountWriteFailed "could not create $MPATH."
  fi
  s3m_prep=1
  rec created "$MPATH"
fi
if [ -n "$s3m_cache_top" ]; then
  if ! { install -d -m 0700 -- "$ROOT$CACHE_DIR" && set_owner "$ROOT$CACHE_DIR"; }; then
    rollback
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
  fi || { rollback; fail S3MountWriteFailed "could not update $s3m_fuse."; }
  s3m_fuse_changed=1
  s3m_prep=1
  rec fuseconf "user_allow_other"
fi
if [ "$s3m_changed" = 1 ]; then
  if ! { mkdir -p -- "$s3m_unitdir" && write_atomic "$s3m_unit" 0644 <"$S3M_TMP/unit"; }; then
    rollback
    fail S3MountWriteFailed "could not write $s3m_unit."
  fi
fi
[ "$s3m_prep" = 0 ] || s3m_changed=1

# systemd >= 254 backs off itself (RestartSteps=): the drop-in beside the unit says so; older ones use the unit's own.
s3m_dropin="$s3m_unitdir/$NAME.d/$BACKOFF_DROPIN_NAME"
s3m_sdv=$(systemd_version)
if [ "${s3m_sdv:-0}" -ge "$RESTART_STEPS_SYSTEMD" ]; then
  b64d "$BACKOFF_DROPIN_B64" >"$S3M_TMP/dropin" || fail S3MountScriptFailed "the drop-in did not decode."
  stage "$s3m_dropin" 0644 "$S3M_TMP/dropin" || { rollback; fail S3MountWriteFailed "could not write $s3m_dropin."; }
else
  stage "$s3m_dropin" 0644 "" || { rollback; fail S3MountWriteFailed "could not remove $s3m_dropin."; }
fi

# The health check: its timer and service beside the unit's name, the timer's enable link, and the program they run.
s3m_htimer="$ROOT/etc/systemd/system/$s3m_hname.timer"
s3m_hservice="$ROOT/etc/systemd/system/$s3m_hname.service"
s3m_hlink="$ROOT/etc/systemd/system/timers.target.wants/$s3m_hname.timer"
if [ "$HEALTH_INTERVAL" != 0 ]; then
  { b64d "$HEALTH_TIMER_B64" >"$S3M_TMP/htimer" && b64d "$HEALTH_SERVICE_B64" >"$S3M_TMP/hservice" &&
    b64d "$HEALTH_PROGRAM_GZ" | gzip -dc >"$S3M_TMP/hprogram"; } ||
    { rollback; fail S3MountScriptFailed "the health check files did not decode (is gzip installed?)."; }
  { stage "$ROOT$HEALTH_PROGRAM" 0755 "$S3M_TMP/hprogram" && stage "$s3m_hservice" 0644 "$S3M_TMP/hservice" &&
    stage "$s3m_htimer" 0644 "$S3M_TMP/htimer" && stage_link "$s3m_hlink" "/etc/systemd/system/$s3m_hname.timer"; } ||
    { rollback; fail S3MountWriteFailed "could not write the health check of $NAME ($s3m_htimer, $s3m_hservice, $ROOT$HEALTH_PROGRAM)."; }
else
  [ -n "$ROOT" ] || [ "$s3m_timer_was" != active ] || systemctl stop -- "$s3m_hname.timer" "$s3m_hname.service" >&2 2>&1
  { stage "$s3m_hlink" 0644 "" && stage "$s3m_htimer" 0644 "" && stage "$s3m_hservice" 0644 ""; } ||
    { rollback; fail S3MountWriteFailed "could not remove the health check of $NAME."; }
  if health_program_unused; then stage "$ROOT$HEALTH_PROGRAM" 0755 "" && rmdir -- "$ROOT${HEALTH_PROGRAM%/*}" 2>/dev/null; fi
fi
[ "$s3m_staged" = 0 ] || s3m_changed=1

if [ -n "$ROOT" ]; then
  if [ "$NO_ENABLE" != 1 ] && [ "$s3m_had_link" = 0 ]; then
    if ! { mkdir -p -- "${s3m_link%/*}" && ln -sf -- "${s3m_unit#"$ROOT"}" "$s3m_link"; }; then
      rollback
      fail S3MountWriteFailed "could not enable $NAME in $ROOT."
    fi
  fi
else
  if [ "$s3m_changed" = 1 ]; then systemctl daemon-reload >&2; fi
  if [ "$NO_ENABLE" != 1 ] && [ "$s3m_enabled" != enabled ]; then
    systemctl enable -- "$NAME" >&2 2>&1 || { rollback; fail S3MountEnableFailed "systemctl enable $NAME failed."; }
    s3m_changed=1
  fi
  if [ "$NO_START" != 1 ]; then
    s3m_started=0
    if [ "$s3m_active" = active ] && [ "$s3m_changed" = 1 ] && [ -n "$s3m_existing" ] && ! cmp -s -- "$S3M_TMP/unit" "$S3M_TMP/old-unit" 2>/dev/null; then
      backoff_reset "$NAME"
      systemctl restart -- "$NAME" >&2 2>&1 && s3m_started=1
    elif [ "$s3m_active" != active ]; then
      systemctl reset-failed -- "$NAME" >/dev/null 2>&1
      backoff_reset "$NAME"
      systemctl start -- "$NAME" >&2 2>&1 && s3m_started=1
      s3m_changed=1
    else
      s3m_started=1
    fi
    s3m_live=0
    if [ "$s3m_started" = 1 ]; then
      wait_live "$NAME" "$MPATH" "$WAIT_SECONDS" && s3m_live=1
    fi
    if [ "$s3m_live" != 1 ]; then
      journal_tail "$NAME" 15
      if [ "$KEEP_ON_FAILURE" = 1 ]; then
        fail S3MountStartFailed "$NAME did not mount $BUCKET at $MPATH within ${WAIT_SECONDS}s; the unit was kept as asked (-KeepOnFailure). See the journal lines."
      fi
      rollback
      fail S3MountStartFailed "$NAME did not mount $BUCKET at $MPATH within ${WAIT_SECONDS}s and was rolled back to the previous state. See the journal lines: journalctl -u $NAME."
    fi
    # The health check watches the mount from now on (restarted when its interval changed).
    if [ "$HEALTH_INTERVAL" != 0 ] && { [ "$s3m_staged" = 1 ] || [ "$s3m_timer_was" != active ]; }; then
      systemctl restart -- "$s3m_hname.timer" >&2 2>&1 || { rollback; fail S3MountStartFailed "the health check timer $s3m_hname.timer of $NAME did not start; $NAME was rolled back to the previous state."; }
      s3m_changed=1
    fi
  fi
fi

rec result "$NAME" "$s3m_changed" "$s3m_adopted"
emit_unit "$s3m_unit"
remember_path "$NAME" "$MPATH"
emit_states "$NAME"
finish
