# create: install (or adopt, or replace with FORCE) one mount service, start it, wait for the mount; roll back on failure.
# Parameters (set by the engine): ROOT NAME BUCKET BUCKET_X MPATH MPATH_X MPATH_MI SVC_USER SVC_GROUP UNIT_B64 MOUNTS3
#   CACHE_DIR NEEDS_ALLOW_OTHER REQS EXTRAS FORCE NO_START NO_ENABLE KEEP_ON_FAILURE WAIT_SECONDS
# shellcheck shell=sh

[ -n "$ROOT" ] || require_root_systemd
mount_create
emit_unit "$s3m_unit"
remember_path "$NAME" "$MPATH"
emit_states "$NAME"
finish
