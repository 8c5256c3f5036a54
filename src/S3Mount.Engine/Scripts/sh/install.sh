# install: detect the node, fetch a signed Mountpoint package, verify it, install it with the node's package manager.
# With ROOT (an offline image), the signature is checked here and the image's own package manager installs the package
# in a chroot; nothing of this machine's packages changes.
# Parameters (set by the engine): ROOT OS_RELEASE MACHINE PLAN_ONLY VERSION SOURCE (official|url|file|distro) BASE_URL
#   PKG_URL SIG_URL PKG_FILE SIG_FILE KEYS_URL KEYS_FILE SOURCE_LABEL TRUSTED_FPRS SKIP_SIG ALLOW_CHANGE LOCK_TRIES LOCK_SLEEP
# Variables use the s3m_in_* prefix. Composed after lib.sh and mountpoint.sh.
# shellcheck shell=sh

# s3m_in_official_url: the release bucket URL of the package for this node (latest, or the pinned VERSION).
s3m_in_official_url() {
  if [ -n "$VERSION" ]; then
    printf '%s/%s/%s/mount-s3-%s-%s.%s' "${BASE_URL%/}" "$VERSION" "$S3M_ARCH" "$VERSION" "$S3M_ARCH" "$S3M_FORMAT"
  else
    printf '%s/latest/%s/mount-s3.%s' "${BASE_URL%/}" "$S3M_ARCH" "$S3M_FORMAT"
  fi
}

# s3m_in_shown URL: a URL without its query string (a presigned URL's query is a credential).
s3m_in_shown() { printf '%s' "${1%%\?*}"; }

# s3m_in_fetch URL DEST WHAT: downloads over https (http only from 127.0.0.1, for tests) into DEST; fails on any HTTP
# error, retries transient failures, and never leaves a partial file or an error page behind.
s3m_in_fetch() {
  s3m_in_fu=$1
  case $s3m_in_fu in
    https://*) s3m_in_fp='=https' ;;
    *@*) fail S3MountSourceInvalid "$3 URL $(s3m_in_shown "$s3m_in_fu") carries a user name; give the credentials some other way (an s3:// source is presigned)." ;;
    http://127.0.0.1/* | http://127.0.0.1:*) s3m_in_fp='=http,https' ;;
    *) fail S3MountSourceInvalid "$3 URL $(s3m_in_shown "$s3m_in_fu") is not https (plain http is only accepted from 127.0.0.1, for tests)." ;;
  esac
  log "downloading $3 from $(s3m_in_shown "$s3m_in_fu")"
  if command -v curl >/dev/null 2>&1; then
    curl -fsSL --proto "$s3m_in_fp" --proto-redir '=https' --retry 5 --retry-delay 2 --retry-connrefused \
      --connect-timeout 20 --max-time 900 -o "$2" -- "$s3m_in_fu" >&2
  elif command -v wget >/dev/null 2>&1; then
    if [ "$s3m_in_fp" = '=https' ]; then
      wget -q --https-only --tries=5 --waitretry=2 --timeout=30 -O "$2" -- "$s3m_in_fu" >&2
    else
      wget -q --tries=5 --waitretry=2 --timeout=30 -O "$2" -- "$s3m_in_fu" >&2
    fi
  else
    fail S3MountDownloaderMissing "neither curl nor wget is installed on this node, so nothing can be downloaded: install curl, or copy the package to the node and install it with -Path."
  fi
  s3m_in_fs=$?
  if [ "$s3m_in_fs" != 0 ] || [ ! -s "$2" ]; then
    rm -f -- "$2"
    fail S3MountDownloadFailed "could not download $3 from $(s3m_in_shown "$s3m_in_fu") (exit $s3m_in_fs; see standard error). Nothing was installed."
  fi
}

# s3m_in_chroot CMD...: CMD on this node, or inside the image (chroot) when ROOT is set.
s3m_in_chroot() {
  if [ -n "$ROOT" ]; then chroot "$ROOT" "$@"; else "$@"; fi
}

# s3m_in_pm OUT CMD...: runs a package manager command, output into OUT (and stderr); retries while another process
# (cloud-init, the SSM agent, unattended upgrades) holds the package manager lock: LOCK_TRIES tries, LOCK_SLEEP s apart.
s3m_in_pm() {
  s3m_in_po=$1
  shift
  s3m_in_pt=1
  while :; do
    s3m_in_chroot "$@" >"$s3m_in_po" 2>&1
    s3m_in_ps=$?
    cat -- "$s3m_in_po" >&2
    [ "$s3m_in_ps" = 0 ] && return 0
    if grep -Eqi 'could not get lock|unable to acquire the dpkg frontend lock|unable to lock (the )?(administration )?directory|another app is currently holding the yum lock|system management is locked|failed to obtain the transaction lock|waiting for process with pid|rpmdb.*lock' "$s3m_in_po"; then
      if [ "$s3m_in_pt" -ge "$LOCK_TRIES" ]; then
        fail S3MountPackageManagerBusy "the package manager stayed locked by another process for $LOCK_TRIES tries ${LOCK_SLEEP}s apart (cloud-init or the SSM agent installing at boot?). Nothing was installed; try again when it has finished."
      fi
      log "the package manager is locked by another process; try $s3m_in_pt of $LOCK_TRIES, again in ${LOCK_SLEEP}s"
      s3m_in_pt=$((s3m_in_pt + 1))
      sleep "$LOCK_SLEEP"
      continue
    fi
    return "$s3m_in_ps"
  done
}

# s3m_in_verify PKG SIG: the detached signature must verify with a key whose primary fingerprint is trusted.
s3m_in_verify() {
  command -v gpg >/dev/null 2>&1 ||
    fail S3MountGpgMissing "gpg is not installed on this node, so the package signature cannot be checked. Install it (apt-get install gpg, dnf install gnupg2, zypper install gpg2) and run again, or pass -SkipSignatureCheck to install without checking (not recommended)."
  s3m_in_gh="$S3M_TMP/gnupg"
  mkdir -m 0700 -- "$s3m_in_gh" || fail S3MountScriptFailed "could not create a temporary GnuPG home."
  if [ -n "$KEYS_FILE" ]; then
    [ -f "$KEYS_FILE" ] || fail S3MountSignatureInvalid "there is no signing keys file $KEYS_FILE on this node. Nothing was installed."
    cp -- "$KEYS_FILE" "$S3M_TMP/KEYS" || fail S3MountSignatureInvalid "could not read $KEYS_FILE."
    s3m_in_keys=$KEYS_FILE
  else
    s3m_in_fetch "$KEYS_URL" "$S3M_TMP/KEYS" "the signing keys"
    s3m_in_keys=$(s3m_in_shown "$KEYS_URL")
  fi
  s3m_in_vr=ok
  if ! GNUPGHOME=$s3m_in_gh gpg --batch --quiet --no-tty --import "$S3M_TMP/KEYS" >&2 2>&1; then
    s3m_in_vr=import
  else
    GNUPGHOME=$s3m_in_gh gpg --batch --no-tty --status-file "$S3M_TMP/gpg.status" --verify "$2" "$1" >&2 2>&1
    s3m_in_vs=$?
    s3m_in_vfp=$(awk '$1 == "[GNUPG:]" && $2 == "VALIDSIG" { print (NF >= 12 ? $12 : $3) }' "$S3M_TMP/gpg.status" | tr '[:lower:]' '[:upper:]')
    if grep -q '^\[GNUPG:\] REVKEYSIG' "$S3M_TMP/gpg.status"; then
      s3m_in_vr=revoked
    elif [ "$s3m_in_vs" != 0 ] || [ -z "$s3m_in_vfp" ]; then
      s3m_in_vr=bad
    else
      s3m_in_vr=untrusted
      for s3m_in_vf in $s3m_in_vfp; do
        case " $TRUSTED_FPRS " in *" $s3m_in_vf "*) s3m_in_vr=ok ;; esac
      done
      grep -q '^\[GNUPG:\] EXPKEYSIG' "$S3M_TMP/gpg.status" && rec warning "the package was signed with a key that has since expired ($s3m_in_vfp); it is one of the pinned Mountpoint keys, so the signature is accepted."
    fi
  fi
  GNUPGHOME=$s3m_in_gh gpgconf --kill all >/dev/null 2>&1
  case $s3m_in_vr in
    ok) rec verified "$s3m_in_vfp" ;;
    import) fail S3MountSignatureInvalid "the signing keys from $s3m_in_keys could not be imported by gpg. Nothing was installed." ;;
    revoked) fail S3MountSignatureInvalid "the package was signed with a revoked key. Nothing was installed." ;;
    bad) fail S3MountSignatureInvalid "the signature of $S3M_IN_WHAT does not verify: the package or its signature was altered, or it was not signed by the Mountpoint release keys. Nothing was installed." ;;
    *) fail S3MountSignatureInvalid "$S3M_IN_WHAT is signed by key $s3m_in_vfp, which is not a trusted Mountpoint release key (trusted: $TRUSTED_FPRS). Nothing was installed." ;;
  esac
}

# s3m_in_pkgver FILE: "NAME VERSION" of a package file (version without epoch or release), empty when unreadable.
s3m_in_pkgver() {
  case $S3M_FORMAT in
    deb) command -v dpkg-deb >/dev/null 2>&1 && dpkg-deb -f "$1" Package Version 2>/dev/null | awk -F': ' '$1 == "Package" { n = $2 } $1 == "Version" { v = $2 } END { if (n != "") print n, v }' ;;
    *) command -v rpm >/dev/null 2>&1 && rpm -qp --nosignature --qf '%{NAME} %{VERSION}\n' "$1" 2>/dev/null | head -n 1 ;;
  esac | awk '{ v = $2; sub(/^[0-9]+:/, "", v); sub(/[-~+].*/, "", v); print $1, v }'
}

# s3m_in_removals OUT: the packages a simulated transaction (apt, dnf/yum, zypper) would remove.
s3m_in_removals() {
  case $S3M_PM in
    apt) awk '$1 == "Remv" { print $2 }' "$1" ;;
    zypper) awk '/going to be REMOVED/ { f = 1; next } /^[[:space:]]*$/ { f = 0 } f { for (i = 1; i <= NF; i++) print $i }' "$1" ;;
    *) awk '/^(Removing|Removing dependent packages|Erasing)/ { f = 1; next } /^[^[:space:]]/ { f = 0 } f && NF > 1 { print $1 }' "$1" ;;
  esac | sort -u | tr '\n' ' ' | sed 's/ $//'
}

# s3m_in_missing PKG...: the packages of the list that are not installed yet (so nothing already there is touched,
# not even its auto/manual mark).
s3m_in_missing() {
  for s3m_in_mp in "$@"; do
    case $S3M_PM in
      apt) dpkg-query ${ROOT:+--admindir="$ROOT/var/lib/dpkg"} -W -f '${Status}' "$s3m_in_mp" 2>/dev/null | grep -q 'ok installed' && continue ;;
      *) rpm ${ROOT:+--root="$ROOT"} -q "$s3m_in_mp" >/dev/null 2>&1 && continue ;;
    esac
    printf '%s ' "$s3m_in_mp"
  done
}

# s3m_in_done CHANGED: the result records, then exit.
s3m_in_done() {
  s3m_mp_binary
  rec installed "$S3M_VERLINE" "$S3M_BIN" "$(s3m_mp_owner)"
  rec source "$SOURCE_LABEL" "$S3M_FORMAT"
  rec changed "$1"
  finish
}

# --- main (the functions above are also exercised on their own by the unit tests) ---
S3M_IN_WHAT="the package"
s3m_mp_detect
if [ "$PLAN_ONLY" = 1 ]; then
  [ -n "$S3M_REFUSE_ID" ] && fail "$S3M_REFUSE_ID" "$S3M_REFUSE"
  [ -n "$S3M_NOTE" ] && rec warning "$S3M_NOTE"
  s3m_mp_emit_node
  rec url "$(s3m_in_official_url)"
  finish
fi

# Refusals come first: nothing is downloaded for a node that cannot take the package.
[ -n "$S3M_REFUSE_ID" ] && fail "$S3M_REFUSE_ID" "$S3M_REFUSE"
if [ "$SOURCE" = distro ] && [ "$S3M_DISTRO_REPO" != 1 ]; then
  fail S3MountSourceUnsupported "$S3M_OS_ID $S3M_OS_VERSION does not ship mount-s3 in its own repositories (only Amazon Linux 2023 does): use the official release packages instead."
fi
if [ -n "$ROOT" ]; then
  [ "$(id -u)" = 0 ] || fail S3MountNotRoot "installing into an image runs the image's package manager in a chroot, which needs root on this machine: run pwsh with sudo."
  command -v chroot >/dev/null 2>&1 || fail S3MountNotInstalled "chroot is not installed on this machine, so nothing can be installed into $ROOT."
else
  [ "$(id -u)" = 0 ] || fail S3MountNotRoot "installing packages needs root on the node: run pwsh with sudo, or install through SSM with -InstanceId (SSM runs as root)."
fi
[ -n "$S3M_NOTE" ] && rec warning "$S3M_NOTE"
s3m_mp_emit_node

# What is installed decides whether anything happens at all.
s3m_mp_binary
[ -n "$S3M_BIN" ] && rec previous "$S3M_VERLINE" "$S3M_BIN"
if [ -n "$S3M_BIN" ] && [ -z "$S3M_VER" ]; then
  rec warning "$S3M_BIN is installed but '$S3M_BIN --version' printed no version; it is replaced."
fi
s3m_in_old=$S3M_VER
if [ -n "$s3m_in_old" ]; then
  if [ -n "$VERSION" ]; then
    [ "$s3m_in_old" = "$VERSION" ] && s3m_in_done 0
    [ "$ALLOW_CHANGE" = 1 ] ||
      fail S3MountVersionChangeRefused "mount-s3 $s3m_in_old is installed on this node and $VERSION was asked: run again with -AllowVersionChange to $(if version_lt "$s3m_in_old" "$VERSION"; then echo upgrade; else echo downgrade; fi) (running mounts keep the old binary until they restart)."
  elif [ "$ALLOW_CHANGE" != 1 ]; then
    rec warning "mount-s3 $s3m_in_old is already installed, so no package was fetched: pass -Version to ask for a release, or -AllowVersionChange to replace it with the newest (or the given) package."
    s3m_in_done 0
  fi
fi

# Amazon Linux 2023's own repository: dnf checks the signature with the distribution's keys.
if [ "$SOURCE" = distro ]; then
  s3m_in_spec=mount-s3${VERSION:+-$VERSION}
  s3m_in_cmd=install
  if [ -n "$s3m_in_old" ]; then
    if [ -n "$VERSION" ] && version_lt "$VERSION" "$s3m_in_old"; then s3m_in_cmd=downgrade; elif [ -z "$VERSION" ]; then s3m_in_cmd=upgrade; fi
  fi
  s3m_in_pm "$S3M_TMP/pm.out" dnf -y "$s3m_in_cmd" "$s3m_in_spec" ||
    fail S3MountInstallFailed "dnf $s3m_in_cmd $s3m_in_spec failed (see standard error)."
  s3m_mp_binary
  [ -n "$S3M_VER" ] || fail S3MountInstallFailed "dnf installed mount-s3, but no working mount-s3 binary was found afterwards."
  if [ "$S3M_VER" = "$s3m_in_old" ]; then s3m_in_done 0; fi
  s3m_in_done 1
fi

# Fetch (or copy) the package and its signature into a private temp dir (inside the image for an image install, so its
# package manager sees it; removed at the end either way).
if [ -n "$ROOT" ]; then
  s3m_in_vt=$(rp_or_fail /var/tmp "The image's temporary directory")
  if ! { mkdir -p -- "$s3m_in_vt" && S3M_EXTRA_TMP=$(mktemp -d "$s3m_in_vt/s3mount.XXXXXX"); }; then
    fail S3MountWriteFailed "could not create a temporary directory in $ROOT/var/tmp."
  fi
  ln -s -- "$S3M_EXTRA_TMP" "$S3M_TMP/pkg" || fail S3MountScriptFailed "could not create a temporary directory."
else
  mkdir -m 0700 -- "$S3M_TMP/pkg" || fail S3MountScriptFailed "could not create a temporary directory."
fi
s3m_in_pkg="$S3M_TMP/pkg/mount-s3.$S3M_FORMAT"
# The package as the package manager names it: in the image, the same file seen from inside the chroot.
s3m_in_pm_pkg=$s3m_in_pkg
[ -n "$ROOT" ] && s3m_in_pm_pkg="${S3M_EXTRA_TMP#"$ROOT"}/mount-s3.$S3M_FORMAT"
s3m_in_sig="$s3m_in_pkg.asc"
case $SOURCE in
  official)
    s3m_in_url=$(s3m_in_official_url)
    S3M_IN_WHAT=$s3m_in_url
    s3m_in_fetch "$s3m_in_url" "$s3m_in_pkg" "the package"
    [ "$SKIP_SIG" = 1 ] || s3m_in_fetch "$s3m_in_url.asc" "$s3m_in_sig" "the package signature" ;;
  url)
    S3M_IN_WHAT=$SOURCE_LABEL
    s3m_in_fetch "$PKG_URL" "$s3m_in_pkg" "the package"
    [ "$SKIP_SIG" = 1 ] || s3m_in_fetch "$SIG_URL" "$s3m_in_sig" "the package signature" ;;
  file)
    S3M_IN_WHAT=$PKG_FILE
    [ -f "$PKG_FILE" ] || fail S3MountPackageNotFound "there is no package file $PKG_FILE on this node."
    cp -- "$PKG_FILE" "$s3m_in_pkg" || fail S3MountPackageNotFound "could not read $PKG_FILE."
    if [ "$SKIP_SIG" != 1 ]; then
      [ -f "$SIG_FILE" ] || fail S3MountSignatureInvalid "there is no signature $SIG_FILE next to the package, so it cannot be verified: copy the .asc file too, or pass -SkipSignatureCheck (not recommended). Nothing was installed."
      cp -- "$SIG_FILE" "$s3m_in_sig" || fail S3MountSignatureInvalid "could not read $SIG_FILE."
    fi ;;
  *) fail S3MountSourceInvalid "unknown package source '$SOURCE'." ;;
esac

if [ "$SKIP_SIG" = 1 ]; then
  rec warning "the package signature was NOT checked (-SkipSignatureCheck): $S3M_IN_WHAT is installed on trust."
else
  s3m_in_verify "$s3m_in_pkg" "$s3m_in_sig"
fi

# The package must be mount-s3, in this node's format, and the version asked.
s3m_in_nv=$(s3m_in_pkgver "$s3m_in_pkg")
s3m_in_name=${s3m_in_nv%% *}
s3m_in_ver=${s3m_in_nv#* }
if [ -z "$s3m_in_nv" ] || [ "$s3m_in_name" != mount-s3 ] || [ -z "$s3m_in_ver" ]; then
  fail S3MountPackageInvalid "$S3M_IN_WHAT is not a mount-s3 .$S3M_FORMAT package (read as '${s3m_in_nv:-unreadable}'); $S3M_OS_ID $S3M_OS_VERSION needs the $S3M_FORMAT package. Nothing was installed."
fi
if [ -n "$VERSION" ] && [ "$s3m_in_ver" != "$VERSION" ]; then
  fail S3MountPackageVersionMismatch "$S3M_IN_WHAT holds mount-s3 $s3m_in_ver, not the $VERSION that was asked. Nothing was installed."
fi
rec package "$s3m_in_name" "$s3m_in_ver"
if [ -n "$s3m_in_old" ] && [ "$s3m_in_ver" = "$s3m_in_old" ]; then
  s3m_in_done 0
fi
s3m_in_down=0
if [ -n "$s3m_in_old" ] && version_lt "$s3m_in_ver" "$s3m_in_old"; then s3m_in_down=1; fi

# shellcheck disable=SC2086  # a list of package names
S3M_FUSE=$(s3m_in_missing $S3M_FUSE)
[ -n "$S3M_FUSE" ] && log "FUSE 2 libraries to install with it: $S3M_FUSE"

# Simulate first: a transaction that would remove packages (fuse 2 replacing fuse3 and its dependants) is refused.
# shellcheck disable=SC2086  # S3M_FUSE is a list of package names
case $S3M_PM in
  apt)
    export DEBIAN_FRONTEND=noninteractive
    s3m_in_pm "$S3M_TMP/update.out" apt-get -q update || rec warning "apt-get update failed; the install goes on with the package lists the node has."
    s3m_in_aopt="-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold"
    [ "$s3m_in_down" = 1 ] && s3m_in_aopt="$s3m_in_aopt --allow-downgrades"
    s3m_in_pm "$S3M_TMP/sim.out" apt-get -s -q -y $s3m_in_aopt install "$s3m_in_pm_pkg" $S3M_FUSE ||
      fail S3MountInstallFailed "apt cannot install $S3M_IN_WHAT on this node (simulation failed; see standard error). Nothing was installed." ;;
  dnf | yum)
    s3m_in_yopt=
    # yum waits for its lock forever unless told to exit; the retry loop bounds the wait instead.
    [ "$S3M_PM" = yum ] && s3m_in_yopt=--setopt=exit_on_lock=True
    s3m_in_pm "$S3M_TMP/sim.out" "$S3M_PM" $s3m_in_yopt --assumeno install $S3M_FUSE "$s3m_in_pm_pkg" ;;
  zypper)
    s3m_in_pm "$S3M_TMP/sim.out" zypper --non-interactive --no-gpg-checks install --dry-run --oldpackage $S3M_FUSE "$s3m_in_pm_pkg" ||
      fail S3MountInstallFailed "zypper cannot install $S3M_IN_WHAT on this node (dry run failed; see standard error). Nothing was installed." ;;
esac
s3m_in_rm=$(s3m_in_removals "$S3M_TMP/sim.out")
if [ -n "$s3m_in_rm" ]; then
  fail S3MountInstallWouldRemove "installing $S3M_IN_WHAT would remove these packages: $s3m_in_rm. Nothing was changed. Resolve the conflict by hand first (on Ubuntu 22.04 and later install libfuse2 / libfuse2t64 alongside fuse3, not the 'fuse' package)."
fi

log "installing mount-s3 $s3m_in_ver with $S3M_PM"
# shellcheck disable=SC2086  # option and package lists
case $S3M_PM in
  apt)
    s3m_in_pm "$S3M_TMP/install.out" apt-get -q -y $s3m_in_aopt install "$s3m_in_pm_pkg" $S3M_FUSE ;;
  dnf | yum)
    if [ "$s3m_in_down" = 1 ]; then
      { [ -z "$S3M_FUSE" ] || s3m_in_pm "$S3M_TMP/install.out" "$S3M_PM" $s3m_in_yopt -y install $S3M_FUSE; } &&
        s3m_in_pm "$S3M_TMP/install.out" "$S3M_PM" $s3m_in_yopt -y downgrade "$s3m_in_pm_pkg"
    else
      s3m_in_pm "$S3M_TMP/install.out" "$S3M_PM" $s3m_in_yopt -y install $S3M_FUSE "$s3m_in_pm_pkg"
    fi ;;
  zypper)
    s3m_in_pm "$S3M_TMP/install.out" zypper --non-interactive --no-gpg-checks install --oldpackage $S3M_FUSE "$s3m_in_pm_pkg" ;;
esac || fail S3MountInstallFailed "$S3M_PM could not install $S3M_IN_WHAT (see standard error)."

s3m_mp_binary
if [ "$S3M_VER" != "$s3m_in_ver" ]; then
  fail S3MountInstallFailed "the package was installed, but mount-s3 --version now reports '${S3M_VERLINE:-nothing}' instead of $s3m_in_ver."
fi
s3m_in_done 1
