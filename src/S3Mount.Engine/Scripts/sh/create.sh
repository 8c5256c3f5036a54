# create: install (or adopt, or replace with FORCE) one mount service, start it, wait for the mount; roll back on failure.
# Parameters (set by the engine): ROOT NAME BUCKET BUCKET_X MPATH MPATH_X MPATH_MI SVC_USER SVC_GROUP UNIT_B64 MOUNTS3
#   CACHE_DIR NEEDS_ALLOW_OTHER REQS EXTRAS FORCE NO_START NO_ENABLE KEEP_ON_FAILURE WAIT_SECONDS
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
elif ! { s3m_m3=$(rp "$MOUNTS3") && { [ -e "$s3m_m3" ] || [ -L "$s3m_m3" ]; }; }; then
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

rollback() {
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

# The directory, the cache directory and fuse.conf are prerequisites, not part of the unit: they are made whenever they
# are missing, even when the unit is already in place byte for byte (a unit installed before fuse.conf allowed
# user_allow_other, or a directory deleted since, must not keep failing). Each counts as a change.
s3m_prep=0
if [ -n "$s3m_dir_top" ]; then
  if ! { install -d -m 0755 -- "$s3m_mdir" && set_owner "$s3m_mdir"; }; then
    rollback
    fail S3MountWriteFailed "could not create $MPATH."
  fi
  s3m_prep=1
  rec created "$MPATH"
fi
if [ -n "$s3m_cache_top" ]; then
  if ! { install -d -m 0700 -- "$s3m_cdir" && set_owner "$s3m_cdir"; }; then
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
      systemctl restart -- "$NAME" >&2 2>&1 && s3m_started=1
    elif [ "$s3m_active" != active ]; then
      systemctl reset-failed -- "$NAME" >/dev/null 2>&1
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
  fi
fi

rec result "$NAME" "$s3m_changed" "$s3m_adopted"
emit_unit "$s3m_unit"
remember_path "$NAME" "$MPATH"
emit_states "$NAME"
finish
