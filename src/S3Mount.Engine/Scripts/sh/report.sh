# report: what this node is and which mount-s3 it has (or that it has none). Changes nothing; any user may run it.
# Parameters (set by the engine): OS_RELEASE MACHINE. Composed after lib.sh and mountpoint.sh.
# node lock: none (reads only; any user may run it)
# shellcheck shell=sh

s3m_mp_detect
s3m_mp_emit_node
[ -n "$S3M_REFUSE_ID" ] && rec unsupported "$S3M_REFUSE_ID" "$S3M_REFUSE"
[ -n "$S3M_NOTE" ] && rec warning "$S3M_NOTE"
s3m_mp_binary
if [ -n "$S3M_BIN" ]; then
  [ -n "$S3M_VER" ] || rec warning "$S3M_BIN is installed but '$S3M_BIN --version' printed no version."
  rec installed "$S3M_VERLINE" "$S3M_BIN" "$(s3m_mp_owner)"
fi
finish
