# bootstrap: runs S3Mount's node scripts one after another when a node boots (EC2 user data, cloud-init, a
# ParallelCluster OnNodeConfigured action). Composed by the engine after its parameters (S3B_TOTAL) and followed by
# s3b_file / s3b_step calls and s3b_finish. A step is the script the cmdlet itself would run (its prologue and its
# embedded files, comments removed), rebuilt in a private directory and run with /bin/sh in a process of its own:
# it takes the node lock itself, and its result block stays whole.
# Output: stdout carries each step's result block (S3MOUNT-RESULT 1 ... S3MOUNT-END), whole and in order. Diagnostics
# (each step's stderr once the step has ended, one line per step, one closing line) go to stderr and also to the
# journal (systemd-cat) or syslog (logger) with the tag s3mount-bootstrap, unless stderr already is the journal.
# Exit status: 0 when every step succeeded; 1 when a step failed (the other mounts are still tried, but after a
# failed install no mount is); 70 when the bootstrap cannot start.
# Variables use the S3B_ / s3b_ prefix.
# shellcheck shell=sh

S3B_TAG=s3mount-bootstrap
S3B_DIR=$(mktemp -d "${TMPDIR:-/tmp}/s3mount-bootstrap.XXXXXX") || { printf '%s: cannot create a temporary directory\n' "$S3B_TAG" >&2; exit 70; }
trap 'rm -rf -- "$S3B_DIR"' EXIT
trap 'exit 130' INT TERM HUP
S3B_STEP=0 S3B_DONE=0 S3B_CHANGED=0 S3B_FAILED='' S3B_SKIP=''

# Copy diagnostics to the journal only when stderr is not the journal already (a systemd unit's stderr is; cloud-init
# and ParallelCluster send it to their own log files). JOURNAL_STREAM names the journal stream as device:inode.
S3B_COPY=1
if [ -n "${JOURNAL_STREAM:-}" ] && [ "$(stat -L -c %d:%i /proc/self/fd/2 2>/dev/null)" = "$JOURNAL_STREAM" ]; then S3B_COPY=0; fi

# s3b_journal PRIORITY: stdin to the journal, or to syslog where there is no systemd. A writer that is missing, cannot
# start or stops early costs its copy, never the rest of the stream (what it leaves is drained).
s3b_journal() {
  if [ -d /run/systemd/system ] && command -v systemd-cat >/dev/null 2>&1; then
    systemd-cat -t "$S3B_TAG" -p "$1"
  else
    logger -t "$S3B_TAG" -p "user.$1"
  fi 2>/dev/null || cat >/dev/null
}

# s3b_relay PRIORITY: stdin to stderr, and a copy to the journal. SIGPIPE is ignored here only (a consumer that went
# away must not end the bootstrap); the steps themselves run with the signals they were given.
s3b_relay() {
  if [ "$S3B_COPY" = 1 ]; then
    (
      trap '' PIPE
      while IFS= read -r s3b_line || [ -n "$s3b_line" ]; do
        printf '%s\n' "$s3b_line" >&2
        printf '%s\n' "$s3b_line"
      done | s3b_journal "$1"
    )
  else
    cat >&2
  fi
}

# s3b_log PRIORITY MESSAGE: one line of the bootstrap's own.
s3b_log() { printf '%s: %s\n' "$S3B_TAG" "$2" | s3b_relay "$1"; }

# s3b_file NAME: stdin into the private directory: src.NAME, an embedded file steps are composed of; text.NAME, a text
# a step's prologue names as NAME_B64=@NAME (the unit file travels readable, and reaches the step in the engine's base64).
s3b_file() { cat >"$S3B_DIR/$1" || { s3b_log err "cannot write $S3B_DIR/$1"; exit 70; }; }

# s3b_program NAME SOURCE...: a program a step installs (the health check), rebuilt here as the engine composes it: its
# prologue (stdin), then the named sources. A step's prologue names it as NAME_GZ=@@NAME.
s3b_program() {
  s3b_pn=$1
  shift
  cat >"$S3B_DIR/prog.$s3b_pn" || { s3b_log err "cannot write $S3B_DIR/prog.$s3b_pn"; exit 70; }
  for s3b_s in "$@"; do
    cat -- "$S3B_DIR/src.$s3b_s" >>"$S3B_DIR/prog.$s3b_pn" || { s3b_log err "cannot compose $s3b_pn ($s3b_s)"; exit 70; }
  done
}

# s3b_prologue: stdin to stdout, each NAME_B64=@TEXT line replaced by NAME_B64='<base64 of TEXT, one line>', each
# NAME_GZ=@@PROGRAM line by NAME_GZ='<base64 of the gzip of that program, one line>'.
s3b_prologue() {
  while IFS= read -r s3b_pl || [ -n "$s3b_pl" ]; do
    case $s3b_pl in
      [A-Z]*_GZ=@@*)
        [ -f "$S3B_DIR/prog.${s3b_pl#*=@@}" ] || return 1
        s3b_pb=$(gzip -n -c <"$S3B_DIR/prog.${s3b_pl#*=@@}" | base64 | tr -d '\n') || return 1
        printf "%s='%s'\n" "${s3b_pl%%=@@*}" "$s3b_pb" ;;
      [A-Z]*_B64=@*)
        [ -f "$S3B_DIR/text.${s3b_pl#*=@}" ] || return 1
        s3b_pb=$(base64 <"$S3B_DIR/text.${s3b_pl#*=@}" | tr -d '\n')
        printf "%s='%s'\n" "${s3b_pl%%=@*}" "$s3b_pb" ;;
      *) printf '%s\n' "$s3b_pl" ;;
    esac
  done
}

# s3b_step KIND LABEL SOURCE...: one step. Its prologue (header and parameters) is stdin; the script is that prologue
# followed by the named sources, as the engine composes it. KIND install: when it fails, no mount is attempted.
s3b_step() {
  S3B_STEP=$((S3B_STEP + 1))
  s3b_kind=$1
  s3b_label=$2
  shift 2
  s3b_f="$S3B_DIR/step$S3B_STEP"
  s3b_prologue >"$s3b_f.sh" || { s3b_log err "cannot write $s3b_f.sh"; exit 70; }
  if [ -n "$S3B_SKIP" ]; then
    s3b_log warning "step $S3B_STEP of $S3B_TOTAL, $s3b_label: not run, $S3B_SKIP"
    S3B_FAILED="$S3B_FAILED, $s3b_label (not run)"
    return 0
  fi
  for s3b_s in "$@"; do
    cat -- "$S3B_DIR/src.$s3b_s" >>"$s3b_f.sh" || { s3b_log err "cannot compose step $S3B_STEP ($s3b_s)"; exit 70; }
  done
  s3b_log info "step $S3B_STEP of $S3B_TOTAL, $s3b_label"
  # The step writes into files, not into a pipe: nothing downstream (the journal, a closed stderr) can stop it half-way.
  /bin/sh "$s3b_f.sh" </dev/null >"$s3b_f.out" 2>"$s3b_f.err"
  s3b_rc=$?
  s3b_relay info <"$s3b_f.err"
  cat -- "$s3b_f.out"
  # The step's own verdict from its result block: the error id, or whether it changed anything.
  s3b_what=$(awk '$1 == "error" && e == "" { e = $2 } $1 == "result" { c = $3 } $1 == "changed" { c = $2 }
    END { if (e != "") print e; else if (c == "1") print "changed"; else if (c == "0") print "unchanged"; else print "no result" }' "$s3b_f.out" 2>/dev/null)
  if [ "$s3b_rc" = 0 ]; then
    S3B_DONE=$((S3B_DONE + 1))
    [ "$s3b_what" = changed ] && S3B_CHANGED=$((S3B_CHANGED + 1))
    s3b_log info "step $S3B_STEP of $S3B_TOTAL, $s3b_label: done, $s3b_what"
  else
    s3b_log err "step $S3B_STEP of $S3B_TOTAL, $s3b_label: FAILED ($s3b_what, exit $s3b_rc)"
    S3B_FAILED="$S3B_FAILED, $s3b_label ($s3b_what)"
    [ "$s3b_kind" = install ] && S3B_SKIP="mount-s3 was not installed"
  fi
  return 0
}

# s3b_finish: the closing line and the exit status.
s3b_finish() {
  if [ -z "$S3B_FAILED" ]; then
    s3b_log info "all $S3B_TOTAL steps succeeded ($S3B_CHANGED changed the node)"
    exit 0
  fi
  s3b_log err "FAILED: ${S3B_FAILED#, }; $S3B_DONE of $S3B_TOTAL steps succeeded. See the lines above (journalctl -t $S3B_TAG)."
  exit 1
}
