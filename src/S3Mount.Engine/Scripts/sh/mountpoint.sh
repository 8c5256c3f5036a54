# mountpoint: node detection and the installed mount-s3, shared by install and report (composed after lib.sh).
# Parameters it reads: OS_RELEASE (path of os-release), MACHINE (uname -m override; empty = the real one), ROOT (an offline
# image root, or empty for this node; optional).
# Variables use the s3m_mp* prefix.
# shellcheck shell=sh

# s3m_mp_osr KEY: the value of KEY in the os-release file, quotes removed.
s3m_mp_osr() {
  K="$1" awk -F= 'index($0, ENVIRON["K"] "=") == 1 { v = substr($0, length(ENVIRON["K"]) + 2); gsub(/^["'\'']|["'\'']$/, "", v); print v; exit }' "$OS_RELEASE" 2>/dev/null
}

# s3m_mp_detect: reads OS_RELEASE and the machine, and sets
#   S3M_OS_ID S3M_OS_VERSION S3M_OS_LIKE S3M_MACHINE   what the node is
#   S3M_ARCH      the release bucket's name of the architecture (x86_64, arm64); empty when unsupported
#   S3M_FORMAT    rpm, deb or suse.rpm;   S3M_PM  dnf, yum, apt or zypper;   S3M_FUSE  FUSE 2 packages to install
#   S3M_DISTRO_REPO 1 where the distribution ships mount-s3 (Amazon Linux 2023)
#   S3M_REFUSE_ID / S3M_REFUSE  set (error id and message) when the node is not supported; the caller decides.
#   S3M_NOTE      a warning for derivatives accepted through ID_LIKE
# It never exits: report uses it on unsupported nodes too.
s3m_mp_detect() {
  S3M_OS_ID='' S3M_OS_VERSION='' S3M_OS_LIKE='' S3M_ARCH='' S3M_FORMAT='' S3M_PM='' S3M_FUSE='' S3M_DISTRO_REPO=0
  S3M_REFUSE_ID='' S3M_REFUSE='' S3M_NOTE=''
  S3M_MACHINE=${MACHINE:-}
  [ -n "$S3M_MACHINE" ] || S3M_MACHINE=$(uname -m 2>/dev/null)
  case $S3M_MACHINE in
    x86_64 | amd64) S3M_ARCH=x86_64 ;;
    aarch64 | arm64) S3M_ARCH=arm64 ;;
    *) S3M_REFUSE_ID=S3MountArchitectureUnsupported
       S3M_REFUSE="this node's architecture '$S3M_MACHINE' (uname -m) has no Mountpoint for Amazon S3 package: only x86_64 and aarch64 (arm64) are released." ;;
  esac
  if [ ! -r "$OS_RELEASE" ]; then
    [ -n "$S3M_REFUSE_ID" ] && return 0
    S3M_REFUSE_ID=S3MountOsUnsupported
    S3M_REFUSE="$OS_RELEASE is missing or unreadable, so the Linux distribution is unknown: S3Mount installs Mountpoint on Amazon Linux 2 / 2023, RHEL, Rocky, Alma and CentOS Stream 8-9, Fedora, Ubuntu 20.04 / 22.04 / 24.04, Debian 11-12 and SUSE / openSUSE."
    return 0
  fi
  S3M_OS_ID=$(s3m_mp_osr ID | tr '[:upper:]' '[:lower:]')
  S3M_OS_VERSION=$(s3m_mp_osr VERSION_ID)
  S3M_OS_LIKE=$(s3m_mp_osr ID_LIKE | tr '[:upper:]' '[:lower:]')
  s3m_mp_major=${S3M_OS_VERSION%%.*}
  s3m_mp_family=$S3M_OS_ID
  case $S3M_OS_ID in
    amzn | rhel | rocky | almalinux | centos | fedora | ubuntu | debian | sles | sled | sles_sap | opensuse-leap | opensuse-tumbleweed | opensuse) ;;
    *)
      case " $S3M_OS_LIKE " in
        *" suse "* | *" opensuse "*) s3m_mp_family=suse ;;
        *" rhel "* | *" centos "*) s3m_mp_family=rhel ;;
      esac
      if [ "$s3m_mp_family" != "$S3M_OS_ID" ]; then
        S3M_NOTE="$S3M_OS_ID $S3M_OS_VERSION is not a tested distribution; it is treated as $s3m_mp_family (ID_LIKE=$S3M_OS_LIKE)."
      fi ;;
  esac
  case $s3m_mp_family in
    amzn)
      case $S3M_OS_VERSION in
        2) S3M_FORMAT=rpm S3M_PM=yum ;;
        2023 | 2023.*) S3M_FORMAT=rpm S3M_PM=dnf S3M_DISTRO_REPO=1 ;;
      esac ;;
    rhel | rocky | almalinux | centos)
      case $s3m_mp_major in 8 | 9) S3M_FORMAT=rpm S3M_PM=dnf ;; esac ;;
    fedora) S3M_FORMAT=rpm S3M_PM=dnf ;;
    ubuntu)
      case $S3M_OS_VERSION in
        20.04 | 22.04) S3M_FORMAT=deb S3M_PM=apt S3M_FUSE=libfuse2 ;;
        24.04) S3M_FORMAT=deb S3M_PM=apt S3M_FUSE=libfuse2t64 ;;
      esac ;;
    debian)
      case $s3m_mp_major in 11 | 12) S3M_FORMAT=deb S3M_PM=apt S3M_FUSE=libfuse2 ;; esac ;;
    sles | sled | sles_sap | opensuse-leap | opensuse-tumbleweed | opensuse | suse) S3M_FORMAT=suse.rpm S3M_PM=zypper S3M_FUSE="fuse libfuse2" ;;
  esac
  [ "$S3M_FORMAT" = rpm ] && S3M_FUSE="fuse fuse-libs"
  if [ -z "$S3M_FORMAT" ] && [ -z "$S3M_REFUSE_ID" ]; then
    S3M_REFUSE_ID=S3MountOsUnsupported
    S3M_REFUSE="${S3M_OS_ID:-an unknown distribution} ${S3M_OS_VERSION:-(no VERSION_ID)} is not supported: S3Mount installs Mountpoint on Amazon Linux 2 / 2023, RHEL, Rocky, Alma and CentOS Stream 8-9, Fedora, Ubuntu 20.04 / 22.04 / 24.04, Debian 11-12 and SUSE / openSUSE. Install mount-s3 by hand there; the other S3Mount commands still work."
  fi
  return 0
}

# s3m_mp_binary: sets S3M_BIN to the installed mount-s3 (empty when none) and S3M_VERLINE / S3M_VER to its version. In
# an offline image (ROOT set) nothing of the image runs: the binary is looked up inside it (links not followed out of
# it) and the version read from the image's package database.
s3m_mp_binary() {
  S3M_BIN='' S3M_VERLINE='' S3M_VER=''
  if [ -n "${ROOT:-}" ]; then
    for s3m_mpb in /usr/bin/mount-s3 /opt/aws/mountpoint-s3/bin/mount-s3; do
      if [ -L "$ROOT$s3m_mpb" ] || [ -f "$ROOT$s3m_mpb" ]; then S3M_BIN=$s3m_mpb; break; fi
    done
    [ -n "$S3M_BIN" ] || return 0
    s3m_mpv=$(s3m_mp_owner)
    case $s3m_mpv in
      "dpkg mount-s3 "*) S3M_VER=${s3m_mpv#dpkg mount-s3 } ;;
      "rpm mount-s3-"*) S3M_VER=${s3m_mpv#rpm mount-s3-}; S3M_VER=${S3M_VER%%-*} ;;
    esac
    S3M_VER=${S3M_VER%%[-+~]*}
    [ -n "$S3M_VER" ] && S3M_VERLINE="mount-s3 $S3M_VER"
    return 0
  fi
  for s3m_mpb in "$(command -v mount-s3 2>/dev/null)" /usr/bin/mount-s3 /opt/aws/mountpoint-s3/bin/mount-s3; do
    if [ -n "$s3m_mpb" ] && [ -x "$s3m_mpb" ]; then S3M_BIN=$s3m_mpb; break; fi
  done
  [ -n "$S3M_BIN" ] || return 0
  S3M_VERLINE=$("$S3M_BIN" --version 2>/dev/null | head -n 1)
  S3M_VER=$(mounts3_version "$S3M_BIN")
  return 0
}

# s3m_mp_owner: the package that owns the installed binary ("dpkg mount-s3 1.23.0", "rpm mount-s3-1.21.0-1.amzn2023"), or
# "none"; in an offline image, from the image's package database.
s3m_mp_owner() {
  s3m_mpo=none
  if command -v dpkg-query >/dev/null 2>&1 && dpkg-query ${ROOT:+--admindir="$ROOT/var/lib/dpkg"} -W -f '${Status}' mount-s3 2>/dev/null | grep -q 'ok installed'; then
    s3m_mpo="dpkg mount-s3 $(dpkg-query ${ROOT:+--admindir="$ROOT/var/lib/dpkg"} -W -f '${Version}' mount-s3 2>/dev/null)"
  elif command -v rpm >/dev/null 2>&1 && rpm ${ROOT:+--root="$ROOT"} -q mount-s3 >/dev/null 2>&1; then
    s3m_mpo="rpm $(rpm ${ROOT:+--root="$ROOT"} -q mount-s3 2>/dev/null | head -n 1)"
  fi
  printf '%s' "$s3m_mpo"
}

# s3m_mp_emit_node: the node records shared by install and report.
s3m_mp_emit_node() {
  if [ -n "${ROOT:-}" ]; then rec host "$(cat "$ROOT/etc/hostname" 2>/dev/null)"; else rec host "$(hostname 2>/dev/null || cat /etc/hostname 2>/dev/null)"; fi
  rec os "$S3M_OS_ID" "$S3M_OS_VERSION" "$S3M_OS_LIKE"
  rec arch "$S3M_MACHINE" "$S3M_ARCH"
  rec plan "$S3M_FORMAT" "$S3M_PM" "$S3M_FUSE" "$S3M_DISTRO_REPO"
}
