#!/usr/bin/env bash
# S3Mount node lab: real systemd nodes (systemd-nspawn over a shared overlay
# base), a loopback S3 server and a loopback package server. See README.md.
#
#   lab.sh base                       build/cache the base tree (prints timings)
#   lab.sh up [--bind-ro=SRC[:DEST]]... NAME...
#                                     create and boot nodes in parallel; host
#                                     paths bound read-only (kept for reboots)
#   lab.sh exec NAME CMD...           run CMD inside NAME (stdin/exit status pass through)
#   lab.sh cp-in NAME SRC DEST [MODE] copy a host file into a node
#   lab.sh cp-out NAME SRC DEST       copy a node file to the host
#   lab.sh reboot NAME                clean halt, boot again on the same overlay
#   lab.sh down NAME... | destroy-all | reap | status
#   lab.sh prune                      drop cache entries of older inputs
#   lab.sh root NAME                  print the host path of the node's root
#   lab.sh s3 start|stop|endpoint     loopback S3 server (s3rver)
#   lab.sh pkg [build|serve|stop]     stand-in .debs, signatures, HTTP server
#
# Environment: S3MOUNT_LAB_CACHE (/var/cache/s3mount-lab), S3MOUNT_LAB_RUN
# (/run/s3mount-lab), S3MOUNT_LAB_ID (default), S3MOUNT_LAB_OWNER (owner PID,
# default: the caller), S3MOUNT_LAB_STANDIN (1: stand-in preinstalled in new
# nodes, 0: not), S3MOUNT_LAB_MIRROR (default: from the host's apt sources).
set -euo pipefail

LAB_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${S3MOUNT_LAB_CACHE:-/var/cache/s3mount-lab}
RUN_ROOT=${S3MOUNT_LAB_RUN:-/run/s3mount-lab}
LAB_ID=${S3MOUNT_LAB_ID:-default}
LAB=$RUN_ROOT/$LAB_ID
OWNER=${S3MOUNT_LAB_OWNER:-$PPID}
SUITE=bookworm
INCLUDE=systemd,systemd-sysv,dbus,fuse3,procps,util-linux,ca-certificates
# s3fs depends on "fuse"; fuse3 provides it, but debootstrap's resolver does
# not know that, so s3fs is installed with apt afterwards.
EXTRA_PACKAGES=(s3fs gpg gpg-agent curl less)
S3RVER_VERSION=3.7.1
BUCKETS=(lab-bucket lab-bucket-2)
S3_KEY=S3RVER
S3_SECRET=S3RVER
PKG_VERSIONS=(1.22.0 1.23.0)
PKG_LATEST=1.23.0
PKG_BAD=1.99.0
NODE_PATH_ENV=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# spawn PIDFILE CMD...: start CMD in its own session in the background,
# recording its PID (setsid would fork when already a group leader).
spawn() {
  # shellcheck disable=SC2016
  setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$@" &
}

log() { printf 'lab: %s\n' "$*" >&2; }
die() { printf 'lab: error: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

valid_name() { [[ $1 =~ ^[a-z][a-z0-9-]{0,30}$ ]] || die "bad name '$1' (lowercase letters, digits, dashes)"; }

# ---------------------------------------------------------------- cache lock
with_cache_lock() {
  mkdir -p "$CACHE"
  exec {lockfd}>"$CACHE/.lock"
  flock "$lockfd"
  "$@"
  flock -u "$lockfd"
  exec {lockfd}>&-
}

# --------------------------------------------------------------------- base
host_mirror() {
  if [[ -n ${S3MOUNT_LAB_MIRROR:-} ]]; then echo "$S3MOUNT_LAB_MIRROR"; return; fi
  local f uri
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] || continue
    # deb822: the first stanza with a URIs line and a plain suite
    uri=$(awk '/^URIs:/ { u = $2 } /^Suites:/ { for (i = 2; i <= NF; i++) if ($i !~ /-/) { print u; exit } }' "$f")
    if [[ -n $uri ]]; then echo "$uri"; return; fi
  done
  if [[ -f /etc/apt/sources.list ]]; then
    uri=$(awk '$1 == "deb" && $2 !~ /^\[/ && $3 !~ /-/ { print $2; exit } $1 == "deb" && $2 ~ /^\[/ && $4 !~ /-/ { print $3; exit }' /etc/apt/sources.list)
    if [[ -n $uri ]]; then echo "$uri"; return; fi
  fi
  echo http://deb.debian.org/debian
}

# Everything the base tree is made from; its hash names the cache entry.
base_recipe() {
  local root=$1
  mount -t proc proc "$root/proc"
  # shellcheck disable=SC2064
  trap "umount -l '$root/proc' 2>/dev/null || true" RETURN
  printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
  chmod 755 "$root/usr/sbin/policy-rc.d"
  chroot "$root" env -i PATH="$NODE_PATH_ENV" DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${EXTRA_PACKAGES[@]}" >>"$CACHE/build.log" 2>&1 ||
    { tail -20 "$CACHE/build.log" >&2; return 1; }
  chroot "$root" apt-get clean
  rm -f "$root/usr/sbin/policy-rc.d"
  # Background apt jobs would take the dpkg lock in the middle of a test.
  chroot "$root" systemctl mask apt-daily.timer apt-daily-upgrade.timer >/dev/null 2>&1 || true
  # Each node gets its own identity at "up".
  : >"$root/etc/machine-id"
  rm -f "$root/var/lib/dbus/machine-id"
  # Stand-in configuration: credentials of the loopback S3 server.
  mkdir -p "$root/etc/mount-s3-standin"
  printf '%s:%s\n' "$S3_KEY" "$S3_SECRET" >"$root/etc/mount-s3-standin/passwd-s3fs"
  chmod 644 "$root/etc/mount-s3-standin/passwd-s3fs"
  echo 'root:lab' | chroot "$root" chpasswd
}

base_key() {
  {
    declare -f base_recipe
    echo "$SUITE $INCLUDE ${EXTRA_PACKAGES[*]} $(host_mirror) $S3_KEY $S3_SECRET"
  } | sha256sum | cut -c1-16
}

base_dir() { echo "$CACHE/base-$(base_key)"; }

build_base_locked() {
  local key dir tarball tmp t0
  key=$(base_key)
  dir=$CACHE/base-$key
  tarball=$CACHE/base-$key.tar.zst
  [[ -f $dir/.lab-complete ]] && return 0
  t0=$(now)
  tmp=$CACHE/.tmp-base-$key-$$
  rm -rf "$tmp"
  mkdir -p "$tmp"
  if [[ -f $tarball ]]; then
    log "extracting cached base $tarball"
    tar -C "$tmp" --zstd -xpf "$tarball"
    log "extracted base in $(elapsed "$t0") s"
  else
    local mirror
    mirror=$(host_mirror)
    log "debootstrap $SUITE from $mirror (cold, about a minute)"
    : >"$CACHE/build.log"
    debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$tmp" "$mirror" >>"$CACHE/build.log" 2>&1 ||
      { tail -20 "$CACHE/build.log" >&2; rm -rf "$tmp"; die "debootstrap failed"; }
    log "debootstrap done in $(elapsed "$t0") s"
    base_recipe "$tmp" || { rm -rf "$tmp"; die "base recipe failed"; }
    log "packages installed at $(elapsed "$t0") s"
    tar -C "$tmp" --zstd -cpf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
    log "cached $tarball at $(elapsed "$t0") s"
  fi
  touch "$tmp/.lab-complete"
  rm -rf "$dir"
  mv "$tmp" "$dir"
  log "base ready in $(elapsed "$t0") s: $dir"
}

build_base() { with_cache_lock build_base_locked; }

# Optional layer holding the installed stand-in package (an overlay upper dir
# used as a second lower dir), so nodes with and without it share the base.
standin_layer_locked() {
  local base deb key layer tmp
  base=$(base_dir)
  deb=$(pkg_dir)/$PKG_LATEST/x86_64/mount-s3-$PKG_LATEST-x86_64.deb
  key=$( { echo "$base"; sha256sum "$deb"; } | sha256sum | cut -c1-16)
  layer=$CACHE/layer-standin-$key
  if [[ -f $layer/.lab-complete ]]; then echo "$layer"; return 0; fi
  tmp=$CACHE/.tmp-layer-$key-$$
  rm -rf "$tmp"
  mkdir -p "$tmp/upper" "$tmp/work" "$tmp/merged"
  mount -t overlay overlay -o "lowerdir=$base,upperdir=$tmp/upper,workdir=$tmp/work" "$tmp/merged"
  cp "$deb" "$tmp/merged/tmp/mount-s3.deb"
  if ! chroot "$tmp/merged" env -i PATH="$NODE_PATH_ENV" dpkg -i /tmp/mount-s3.deb >>"$CACHE/build.log" 2>&1; then
    umount "$tmp/merged"; rm -rf "$tmp"; die "installing the stand-in into the layer failed"
  fi
  rm -f "$tmp/merged/tmp/mount-s3.deb"
  umount "$tmp/merged"
  rm -f "$tmp/upper/.lab-complete"
  touch "$tmp/upper/.lab-complete"
  rm -rf "$layer"
  mv "$tmp/upper" "$layer"
  rm -rf "$tmp"
  echo "$layer"
}

cmd_base() {
  local t0
  t0=$(now)
  build_base
  pkg_build
  with_cache_lock standin_layer_locked >/dev/null
  log "base + packages + stand-in layer ready in $(elapsed "$t0") s"
  base_dir
}

# prune: remove cache entries of older inputs that no running overlay uses.
prune_locked() {
  local keep_base keep_pkg e used l
  # Running labs (of any checkout) may serve or mount older entries.
  for l in "$RUN_ROOT"/*/; do
    [[ -d $l ]] && die "labs are running ($(basename "$l"), ...): not pruning"
  done
  keep_base=$(base_dir)
  keep_pkg=$(pkg_dir)
  used=$(findmnt -rn -t overlay -o OPTIONS 2>/dev/null || true)
  for e in "$CACHE"/base-* "$CACHE"/layer-standin-* "$CACHE"/pkg-*; do
    [[ -e $e ]] || continue
    case $e in "$keep_base" | "$keep_base.tar.zst" | "$keep_pkg") continue ;; esac
    if [[ $used == *"${e%.tar.zst}"* ]]; then continue; fi
    # The current stand-in layer is kept when it sits on the current base.
    if [[ $e == "$CACHE"/layer-standin-* && -f $keep_pkg/.lab-complete ]]; then
      local key
      key=$( { echo "$keep_base"; sha256sum "$keep_pkg/$PKG_LATEST/x86_64/mount-s3-$PKG_LATEST-x86_64.deb"; } | sha256sum | cut -c1-16)
      [[ $e == "$CACHE/layer-standin-$key" ]] && continue
    fi
    log "pruning $e"
    rm -rf "$e"
  done
}

# ---------------------------------------------------------------- lab state
lab_init() {
  if [[ ! -f $LAB/owner ]]; then
    # Appear atomically with the owner file, or a concurrent reap (another test
    # run) sees an ownerless lab and destroys it.
    local tmp=$RUN_ROOT/.new-$LAB_ID-$$
    mkdir -p "$tmp/nodes"
    printf '%s %s\n' "$OWNER" "$(proc_start "$OWNER")" >"$tmp/owner"
    if ! mv -T "$tmp" "$LAB" 2>/dev/null; then
      rm -rf "$tmp"
      [[ -f $LAB/owner ]] || die "cannot create lab $LAB"
    fi
  fi
  mkdir -p "$LAB/nodes"
  # A watchdog tears the lab down as soon as its owner dies (even by SIGKILL).
  if ! { [[ -f $LAB/watchdog.pid ]] && alive "$(<"$LAB/watchdog.pid")"; }; then
    spawn "$LAB/watchdog.pid" "${BASH_SOURCE[0]}" watchdog </dev/null >/dev/null 2>&1
  fi
}

cmd_watchdog() {
  while owner_alive "$LAB"; do sleep 1; done
  [[ -d $LAB ]] || return 0
  rm -f "$LAB/watchdog.pid"
  log "owner of lab $LAB_ID is gone, destroying it"
  destroy_lab "$LAB"
}

proc_start() {
  local st
  st=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
  st=${st##*) }
  # Field 22 overall; field 20 after "pid (comm)".
  awk '{ print $20 }' <<<"$st"
}

# alive PID: the process exists and is not a zombie (PID 1 here reaps orphans late).
alive() {
  local st
  [[ -n ${1:-} ]] || return 1
  st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  st=${st##*) }
  [[ ${st%% *} != Z ]]
}

owner_alive() {
  local pid start
  read -r pid start <"$1/owner" 2>/dev/null || return 1
  alive "$pid" && [[ $(proc_start "$pid") == "$start" ]]
}

node_dir() { echo "$LAB/nodes/$1"; }

nspawn_pid() {
  local f=$LAB/nodes/$1/nspawn.pid pid
  [[ -f $f ]] || return 1
  pid=$(<"$f")
  alive "$pid" || return 1
  echo "$pid"
}

# The container's PID 1: the child of nspawn whose innermost PID is 1.
node_pid1() {
  local np c
  np=$(nspawn_pid "$1") || return 1
  for c in $(pgrep -P "$np" || true); do
    if awk '/^NSpid:/ { exit !($NF == 1) }' "/proc/$c/status" 2>/dev/null; then echo "$c"; return 0; fi
  done
  return 1
}

node_enter() {
  local name=$1 pid1
  shift
  pid1=$(node_pid1 "$name") || die "node $name is not running"
  nsenter -t "$pid1" -a -r -w -- env -i PATH="$NODE_PATH_ENV" HOME=/root LANG=C.UTF-8 TERM=dumb "$@"
}

boot_node() {
  local name=$1 d binds=()
  d=$(node_dir "$name")
  : >"$d/console.log"
  # Read-only binds given at "up", one nspawn argument per line: every boot gets them.
  [[ -f $d/bind-ro ]] && mapfile -t binds <"$d/bind-ro"
  # setsid: its own session, so a Ctrl-C of the caller does not hit the node.
  spawn "$d/nspawn.pid" \
    systemd-nspawn -q -D "$d/root" -M "$name" -b --register=no --keep-unit --console=passive \
    --bind="$d/fuse:/dev/fuse" "${binds[@]}" \
    </dev/null >>"$d/console.log" 2>&1
}

# bind_ro_arg SRC[:DEST]: the nspawn argument binding host path SRC read-only at DEST
# (default SRC) in the node. Both must be absolute; colons and backslashes are escaped.
bind_ro_arg() {
  local spec=$1 src dest
  [[ $spec != *$'\n'* ]] || die "--bind-ro: no newlines in paths"
  src=${spec%%:*}
  dest=${spec#*:}
  [[ $spec == *:* ]] || dest=$src
  [[ $src == /* && $dest == /* ]] || die "--bind-ro=$spec: both paths must be absolute"
  [[ -e $src ]] || die "--bind-ro=$spec: $src does not exist"
  src=$(realpath -e "$src")
  case $dest in / | /dev | /dev/* | /proc | /proc/* | /sys | /sys/*) die "--bind-ro=$spec: not over $dest" ;; esac
  src=${src//\\/\\\\}
  dest=${dest//\\/\\\\}
  printf -- '--bind-ro=%s:%s\n' "${src//:/\\:}" "${dest//:/\\:}"
}

node_failed() {
  local d
  d=$(node_dir "$1")
  { echo "--- console of $1:"; tail -30 "$d/console.log"; } >&2 2>/dev/null || true
  cp "$d/console.log" "$LAB/failed-$1.log" 2>/dev/null || true
  die "$2"
}

wait_node() {
  local name=$1 deadline state pidf retried=0
  pidf=$(node_dir "$name")/nspawn.pid
  deadline=$((SECONDS + 90))
  until node_pid1 "$name" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || node_failed "$name" "node $name did not start"
    if [[ -s $pidf ]] && ! nspawn_pid "$name" >/dev/null; then
      sleep 0.2
      if [[ -s $pidf ]] && ! nspawn_pid "$name" >/dev/null; then
        # Seen once, not reproducible: nspawn exiting at once. Retry one time.
        ((retried)) && node_failed "$name" "nspawn for $name exited"
        retried=1
        log "nspawn for $name exited at once; console: $(tail -5 "$(node_dir "$name")/console.log" | tr '\n' ' '); retrying"
        cp "$(node_dir "$name")/console.log" "$LAB/retried-$name.log" 2>/dev/null || true
        boot_node "$name"
        sleep 0.1
      fi
    fi
    sleep 0.05
  done
  while :; do
    state=$(node_enter "$name" systemctl is-system-running 2>/dev/null || true)
    case $state in
      running | degraded) return 0 ;;
    esac
    ((SECONDS < deadline)) || node_failed "$name" "node $name stuck in '$state'"
    sleep 0.1
  done
}

write_node_config() {
  local root=$1 endpoint
  mkdir -p "$root/etc/mount-s3-standin"
  if [[ -f $LAB/s3.endpoint ]]; then
    endpoint=$(<"$LAB/s3.endpoint")
    printf '%s\n' "$endpoint" >"$root/etc/mount-s3-standin/endpoint"
  fi
}

cmd_up() {
  local name d base lower t0 standin=${S3MOUNT_LAB_STANDIN:-1} created=() bind_lines=""
  while [[ ${1:-} == --bind-ro=* ]]; do
    bind_lines+=$(bind_ro_arg "${1#--bind-ro=}")$'\n'
    shift
  done
  (($# > 0)) || die "usage: lab.sh up [--bind-ro=SRC[:DEST]]... NAME..."
  for name in "$@"; do valid_name "$name"; done
  cmd_reap
  t0=$(now)
  build_base
  base=$(base_dir)
  lower=$base
  if [[ $standin == 1 ]]; then
    pkg_build
    lower="$(with_cache_lock standin_layer_locked):$base"
  fi
  lab_init
  log "base ready in $(elapsed "$t0") s"
  # On any failure, take down what this call created.
  trap 'cmd_down "${created[@]}" >/dev/null 2>&1 || true' EXIT
  trap 'exit 130' INT TERM
  for name in "$@"; do
    d=$(node_dir "$name")
    [[ ! -e $d ]] || die "node $name exists in lab $LAB_ID"
    created+=("$name")
    mkdir -p "$d/upper" "$d/work" "$d/root"
    # Only root may reach the node's files and its world-writable FUSE device node.
    chmod 700 "$d"
    mount -t overlay "s3mount-lab-$name" -o "lowerdir=$lower,upperdir=$d/upper,workdir=$d/work" "$d/root"
    echo "$name" >"$d/root/etc/hostname"
    systemd-id128 new >"$d/root/etc/machine-id"
    write_node_config "$d/root"
    printf '%s' "$bind_lines" >"$d/bind-ro"
    # A private FUSE device node; the host's /dev/fuse is never changed.
    mknod -m 666 "$d/fuse" c 10 229
  done
  local t1
  t1=$(now)
  for name in "$@"; do boot_node "$name"; done
  for name in "$@"; do wait_node "$name"; done
  trap - EXIT INT TERM
  log "booted $# node(s) in $(elapsed "$t1") s (total $(elapsed "$t0") s)"
  for name in "$@"; do printf '%s %s\n' "$name" "$(node_dir "$name")/root"; done
}

# Ask nodes to halt (SIGTERM to nspawn = clean shutdown), then wait for all.
stop_nodes() {
  local name np i pids=() names=()
  for name in "$@"; do
    np=$(nspawn_pid "$name") || continue
    kill -TERM "$np" 2>/dev/null || true
    pids+=("$np")
    names+=("$name")
  done
  for ((i = 0; i < 300; i++)); do
    local alive=0
    for np in "${pids[@]}"; do alive "$np" && alive=1; done
    ((alive)) || break
    sleep 0.1
  done
  for np in "${pids[@]}"; do
    if alive "$np"; then
      log "nspawn $np did not halt in 30 s, killing it"
      pkill -KILL -P "$np" 2>/dev/null || true
      kill -KILL "$np" 2>/dev/null || true
    fi
  done
  for name in "${names[@]}"; do rm -f "$(node_dir "$name")/nspawn.pid"; done
}

stop_node() { stop_nodes "$1"; }

unmount_under() {
  local dir=$1 m
  # Deepest first.
  while read -r m; do
    [[ -n $m ]] || continue
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done < <(findmnt -rn -o TARGET | awk -v d="$dir" 'index($0, d) == 1' | sort -r)
}

cmd_down() {
  local name d
  stop_nodes "$@"
  for name in "$@"; do
    d=$(node_dir "$name")
    [[ -d $d ]] || continue
    unmount_under "$d"
    rm -rf "$d"
  done
}

cmd_reboot() {
  local name=${1:?usage: lab.sh reboot NAME} t0
  [[ -d $(node_dir "$name") ]] || die "no node $name"
  t0=$(now)
  stop_node "$name"
  boot_node "$name"
  wait_node "$name"
  log "rebooted $name in $(elapsed "$t0") s"
}

stop_pidfile() {
  local f=$1 pid i
  [[ -f $f ]] || return 0
  pid=$(<"$f")
  if alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do alive "$pid" || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

destroy_lab() {
  local lab=$1 saved=$LAB n names=() lock lockfd
  [[ -d $lab ]] || return 0
  # The owner's exit path, the watchdog and a reap may race: one at a time.
  lock=$RUN_ROOT/.$(basename "$lab").lock
  exec {lockfd}>"$lock"
  flock "$lockfd"
  if [[ ! -d $lab ]]; then
    exec {lockfd}>&-
    return 0
  fi
  LAB=$lab
  for n in "$LAB"/nodes/*/; do
    [[ -d $n ]] && names+=("$(basename "$n")")
  done
  ((${#names[@]} == 0)) || cmd_down "${names[@]}"
  stop_pidfile "$LAB/s3.pid"
  stop_pidfile "$LAB/http.pid"
  stop_pidfile "$LAB/watchdog.pid"
  unmount_under "$LAB"
  rm -rf "$LAB"
  rm -f "$lock"
  exec {lockfd}>&-
  LAB=$saved
}

cmd_destroy_all() { destroy_lab "$LAB"; }

cmd_reap() {
  local l
  [[ -d $RUN_ROOT ]] || return 0
  for l in "$RUN_ROOT"/*/; do
    [[ -d $l ]] || continue
    l=${l%/}
    [[ $l == "$LAB" ]] && continue
    # A lab without an owner file may be in the middle of being created by an
    # older lab.sh: leave it alone for two minutes.
    if [[ ! -f $l/owner ]] && (($(date +%s) - $(stat -c %Y "$l" 2>/dev/null || echo 0) < 120)); then continue; fi
    if ! owner_alive "$l"; then
      log "reaping lab $(basename "$l") (owner gone)"
      destroy_lab "$l"
    fi
  done
}

cmd_status() {
  local n name
  echo "lab $LAB_ID at $LAB"
  [[ -f $LAB/s3.endpoint ]] && echo "s3 $(<"$LAB/s3.endpoint")"
  [[ -f $LAB/http.base ]] && echo "pkg $(<"$LAB/http.base")"
  for n in "$LAB"/nodes/*/; do
    [[ -d $n ]] || continue
    name=$(basename "$n")
    if node_pid1 "$name" >/dev/null 2>&1; then echo "node $name running"; else echo "node $name stopped"; fi
  done
}

cmd_exec() {
  local name=${1:?usage: lab.sh exec NAME CMD...}
  shift
  (($# > 0)) || die "usage: lab.sh exec NAME CMD..."
  node_enter "$name" "$@"
}

cmd_cp_in() {
  local name=${1:?} src=${2:?} dest=${3:?} mode=${4:-}
  # shellcheck disable=SC2016
  node_enter "$name" sh -c 'cat >"$1" && { [ -z "$2" ] || chmod "$2" "$1"; }' sh "$dest" "$mode" <"$src"
}

cmd_cp_out() {
  local name=${1:?} src=${2:?} dest=${3:?}
  node_enter "$name" cat "$src" >"$dest"
}

# ---------------------------------------------------------------- servers
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 20000))
    if ! ss -Htln "sport = :$p" | grep -q .; then echo "$p"; return; fi
  done
}

# wait_port PORT PIDFILE: the server in PIDFILE listens on 127.0.0.1:PORT
# (checked by owner, so a port taken by someone else in the meantime fails).
wait_port() {
  local port=$1 pidf=$2 i pid
  pid=$(<"$pidf")
  for ((i = 0; i < 300; i++)); do
    alive "$pid" || return 1
    if ss -Htlnp "sport = :$port" | grep -q "pid=$pid,"; then return 0; fi
    sleep 0.05
  done
  return 1
}

# start_server NAME LOG CMD... (CMD contains the word PORT): retries on a port race.
start_server() {
  local name=$1 logf=$2 port attempt a args
  shift 2
  for attempt in 1 2 3; do
    port=$(free_port)
    args=()
    for a in "$@"; do args+=("${a//@PORT@/$port}"); done
    spawn "$LAB/$name.pid" "${args[@]}" </dev/null >"$logf" 2>&1
    sleep 0.1
    if [[ -s $LAB/$name.pid ]] && wait_port "$port" "$LAB/$name.pid"; then
      echo "$port"
      return 0
    fi
    stop_pidfile "$LAB/$name.pid"
    log "$name did not start on port $port (attempt $attempt)"
  done
  cat "$logf" >&2
  return 1
}

s3rver_install_locked() {
  local dir=$CACHE/npm-s3rver-$S3RVER_VERSION
  if [[ ! -f $dir/.lab-complete ]]; then
    log "installing s3rver $S3RVER_VERSION from npm"
    mkdir -p "$dir"
    npm install --no-audit --no-fund --no-save --prefix "$dir" "s3rver@$S3RVER_VERSION" >>"$CACHE/build.log" 2>&1 ||
      { tail -20 "$CACHE/build.log" >&2; die "npm install s3rver failed"; }
    touch "$dir/.lab-complete"
  fi
}

cmd_s3() {
  case ${1:-} in
    start) s3_start ;;
    stop) stop_pidfile "$LAB/s3.pid"; rm -f "$LAB/s3.endpoint" ;;
    endpoint) cat "$LAB/s3.endpoint" ;;
    *) die "usage: lab.sh s3 start|stop|endpoint" ;;
  esac
}

s3_start() {
  local port args=() b n
  cmd_reap
  lab_init
  if [[ -f $LAB/s3.pid ]] && alive "$(<"$LAB/s3.pid")"; then cat "$LAB/s3.endpoint"; return 0; fi
  with_cache_lock s3rver_install_locked
  mkdir -p "$LAB/s3data"
  for b in "${BUCKETS[@]}"; do args+=(--configure-bucket "$b"); done
  port=$(start_server s3 "$LAB/s3.log" \
    node "$CACHE/npm-s3rver-$S3RVER_VERSION/node_modules/s3rver/bin/s3rver.js" \
    -d "$LAB/s3data" -a 127.0.0.1 -p @PORT@ --allow-mismatched-signatures "${args[@]}") ||
    die "s3rver did not start"
  echo "http://127.0.0.1:$port" >"$LAB/s3.endpoint"
  for n in "$LAB"/nodes/*/; do
    [[ -d $n/root/etc ]] && write_node_config "$n/root"
  done
  cat "$LAB/s3.endpoint"
}

# ---------------------------------------------------------------- packages
pkg_key() {
  {
    declare -f pkg_build_locked pkg_make_deb
    cat "$LAB_SRC/mount-s3-standin"
    echo "${PKG_VERSIONS[*]} $PKG_LATEST $PKG_BAD"
  } | sha256sum | cut -c1-16
}

pkg_dir() { echo "$CACHE/pkg-$(pkg_key)"; }

gnupg_home() { echo "$CACHE/gnupg"; }

pkg_key_fpr() {
  GNUPGHOME=$(gnupg_home) gpg --batch --with-colons --list-secret-keys 2>/dev/null | awk -F: '/^fpr:/ { print $10; exit }'
}

pkg_make_deb() {
  local ver=$1 depends=$2 out=$3 extra=${4:-} tmp
  tmp=$(mktemp -d)
  mkdir -p "$tmp/DEBIAN" "$tmp/opt/aws/mountpoint-s3/bin" "$tmp/usr/bin" "$tmp/usr/sbin"
  install -m 755 "$LAB_SRC/mount-s3-standin" "$tmp/opt/aws/mountpoint-s3/bin/mount-s3"
  echo "$ver" >"$tmp/opt/aws/mountpoint-s3/VERSION"
  ln -s /opt/aws/mountpoint-s3/bin/mount-s3 "$tmp/usr/bin/mount-s3"
  ln -s /opt/aws/mountpoint-s3/bin/mount-s3 "$tmp/usr/sbin/mount.mount-s3"
  cat >"$tmp/DEBIAN/control" <<EOF
Package: mount-s3
Version: $ver
Architecture: amd64
Maintainer: S3Mount lab <lab@s3mount.invalid>
Depends: $depends${extra:+
$extra}
Section: utils
Priority: optional
Homepage: https://github.com/awslabs/mountpoint-s3
Description: Mountpoint for Amazon S3 (S3Mount lab stand-in)
 A stand-in with mount-s3's command line that mounts through s3fs.
EOF
  dpkg-deb --root-owner-group -Zgzip --build "$tmp" "$out" >/dev/null
  rm -rf "$tmp"
}

pkg_build_locked() {
  local dir tmp v gh fpr
  dir=$(pkg_dir)
  [[ -f $dir/.lab-complete ]] && return 0
  gh=$(gnupg_home)
  if [[ ! -f $gh/.lab-complete ]]; then
    rm -rf "$gh"
    mkdir -p "$gh"
    chmod 700 "$gh"
    GNUPGHOME=$gh gpg --batch --quiet --passphrase '' \
      --quick-gen-key 'S3Mount Lab Test Key <lab@s3mount.invalid>' ed25519 sign never
    touch "$gh/.lab-complete"
  fi
  tmp=$CACHE/.tmp-pkg-$$
  rm -rf "$tmp"
  mkdir -p "$tmp/latest/x86_64" "$tmp/public_keys"
  # The real package needs fuse + libfuse2; on Debian 12, fuse3 provides
  # "fuse" and s3fs (the stand-in's engine) brings libfuse2.
  for v in "${PKG_VERSIONS[@]}"; do
    mkdir -p "$tmp/$v/x86_64"
    pkg_make_deb "$v" 'fuse3 | fuse, libfuse2, s3fs, bash' "$tmp/$v/x86_64/mount-s3-$v-x86_64.deb"
  done
  # Deliberately bad: needs fuse 2 and conflicts with fuse3, so installing it
  # removes fuse3 (what installing "fuse" does on Ubuntu 22.04).
  mkdir -p "$tmp/$PKG_BAD/x86_64"
  pkg_make_deb "$PKG_BAD" 'fuse (<< 3), libfuse2, bash' "$tmp/$PKG_BAD/x86_64/mount-s3-$PKG_BAD-x86_64.deb" "Conflicts: fuse3"
  cp "$tmp/$PKG_LATEST/x86_64/mount-s3-$PKG_LATEST-x86_64.deb" "$tmp/latest/x86_64/mount-s3.deb"
  while read -r f; do
    GNUPGHOME=$gh gpg --batch --yes --armor --detach-sign -o "$f.asc" "$f"
  done < <(find "$tmp" -name '*.deb')
  GNUPGHOME=$gh gpg --batch --armor --export >"$tmp/public_keys/KEYS"
  fpr=$(pkg_key_fpr)
  echo "$fpr" >"$tmp/FINGERPRINT"
  # gpg starts an agent; leave no process behind.
  GNUPGHOME=$gh gpgconf --kill all 2>/dev/null || true
  touch "$tmp/.lab-complete"
  rm -rf "$dir"
  mv "$tmp" "$dir"
  log "packages built in $dir (key $fpr)"
}

pkg_build() { with_cache_lock pkg_build_locked; }

cmd_pkg() {
  case ${1:-serve} in
    build) pkg_build; pkg_dir ;;
    serve) pkg_serve ;;
    stop) stop_pidfile "$LAB/http.pid"; rm -f "$LAB/http.base" ;;
    fingerprint) cat "$(pkg_dir)/FINGERPRINT" ;;
    *) die "usage: lab.sh pkg [build|serve|stop|fingerprint]" ;;
  esac
}

pkg_serve() {
  local dir port py=/usr/bin/python3
  cmd_reap
  lab_init
  pkg_build
  dir=$(pkg_dir)
  if ! { [[ -f $LAB/http.pid ]] && alive "$(<"$LAB/http.pid")"; }; then
    [[ -x $py ]] || py=python3
    port=$(start_server http "$LAB/http.log" \
      "$py" -m http.server --bind 127.0.0.1 --directory "$dir" @PORT@) ||
      die "http server did not start"
    echo "http://127.0.0.1:$port" >"$LAB/http.base"
  fi
  printf 'base=%s\nfingerprint=%s\ndir=%s\n' "$(<"$LAB/http.base")" "$(<"$dir/FINGERPRINT")" "$dir"
}

# ---------------------------------------------------------------- main
main() {
  [[ $(id -u) == 0 ]] || die "the lab needs root"
  local cmd=${1:-}
  (($# > 0)) && shift
  case $cmd in
    base) cmd_base ;;
    up) cmd_up "$@" ;;
    exec) cmd_exec "$@" ;;
    cp-in) cmd_cp_in "$@" ;;
    cp-out) cmd_cp_out "$@" ;;
    reboot) cmd_reboot "$@" ;;
    down) cmd_down "$@" ;;
    destroy-all) cmd_destroy_all ;;
    reap) cmd_reap ;;
    prune) with_cache_lock prune_locked ;;
    watchdog) cmd_watchdog ;;
    status) cmd_status ;;
    root) echo "$(node_dir "${1:?usage: lab.sh root NAME}")/root" ;;
    s3) cmd_s3 "$@" ;;
    pkg) cmd_pkg "$@" ;;
    *) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
  esac
}

main "$@"
