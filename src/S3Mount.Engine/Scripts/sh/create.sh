# create: install (or adopt, or replace with FORCE) one mount service, start it, wait for the mount; roll back on failure.
# Parameters (set by the engine): ROOT NAME BUCKET BUCKET_X MPATH MPATH_X MPATH_MI SVC_USER SVC_GROUP UNIT_B64 MOUNTS3
#   CACHE_DIR NEEDS_ALLOW_OTHER REQS EXTRAS FORCE NO_START NO_ENABLE KEEP_ON_FAILURE WAIT_SECONDS
#   BACKOFF_DROPIN_NAME BACKOFF_DROPIN_B64 RESTART_STEPS_SYSTEMD (the drop-in for systemd >= that version)
#   HEALTH_INTERVAL HEALTH_TIMER_B64 HEALTH_SERVICE_B64 HEALTH_PROGRAM HEALTH_PROGRAM_GZ (gzip, base64; 0: no health check)
# shellcheck shell=sh

[ -n "$ROOT" ] || require_root_systemd
mount_create
emit_unit "$s3m_unit"
remember_path "$NAME" "$MPATH"
emit_states "$NAME"
finish
