# loader: the user data of a bootstrap that is too large for EC2's 16 KB (Export-S3MountBootstrap -ScriptUri). It
# downloads the bootstrap script, refuses it unless its SHA-256 is the one pinned here (a script changed or replaced
# since the export never runs), keeps it at S3L_SAVE and runs it with /bin/sh: the script's exit status is the
# loader's, its stdout passes through. Diagnostics go to stderr and the journal (journalctl -t s3mount-bootstrap).
# Parameters (set by the engine): S3L_URI (as the user gave it) S3L_URL (what is fetched) S3L_REGION (set for s3://:
# the GET is signed, SigV4 with sha256sum, with the credentials of the environment or of the instance role through
# IMDSv2; no credential, token or signature ever shows on a command line)
# S3L_SHA256 S3L_SIZE S3L_SAVE
# shellcheck shell=sh

S3L_TAG=s3mount-bootstrap
S3L_COPY=1
if [ -n "${JOURNAL_STREAM:-}" ] && [ "$(stat -L -c %d:%i /proc/self/fd/2 2>/dev/null)" = "$JOURNAL_STREAM" ]; then S3L_COPY=0; fi

# s3l_log PRIORITY MESSAGE: to stderr, and to the journal when stderr is not the journal already.
s3l_log() {
  printf '%s: %s\n' "$S3L_TAG" "$2" >&2
  [ "$S3L_COPY" = 1 ] || return 0
  if [ -d /run/systemd/system ] && command -v systemd-cat >/dev/null 2>&1; then
    printf '%s: %s\n' "$S3L_TAG" "$2" | systemd-cat -t "$S3L_TAG" -p "$1" 2>/dev/null
  else
    logger -t "$S3L_TAG" -p "user.$1" -- "$2" 2>/dev/null
  fi
  return 0
}

s3l_fail() {
  s3l_log err "FAILED: $1"
  exit 1
}

S3L_DIR=$(mktemp -d "${TMPDIR:-/tmp}/s3mount-loader.XXXXXX") || s3l_fail "cannot create a temporary directory."
trap 'rm -rf -- "$S3L_DIR"' EXIT
trap 'exit 130' INT TERM HUP

# s3l_http METHOD URL OUT [HEADERS]: one HTTP request, retried on transient failures; prints the HTTP status (000
# when there was no answer). The body goes to OUT; HEADERS is a file of header lines (read by curl and wget from there,
# so a token or a signature never shows on a command line, which /proc shows every user). Redirects: to https only.
s3l_http() {
  set -- "$1" "$2" "$3" "${4:-/dev/null}"
  if command -v curl >/dev/null 2>&1; then
    curl -sS -L --proto-redir '=https' --path-as-is --retry 5 --retry-delay 2 --retry-connrefused --connect-timeout 10 --max-time 300 \
      -X "$1" -H "@$4" -w '%{http_code}' -o "$3" -- "$2" || true
  elif command -v wget >/dev/null 2>&1; then
    sed 's/^/header = /' "$4" >"$S3L_DIR/wgetrc"
    wget -q -S --content-on-error --config="$S3L_DIR/wgetrc" --tries=5 --waitretry=2 --timeout=30 --method="$1" -O "$3" -- "$2" 2>"$S3L_DIR/wget.err"
    awk '$1 ~ /^HTTP\// { s = $2 } END { printf "%s", s == "" ? "000" : s }' "$S3L_DIR/wget.err"
  else
    s3l_fail "neither curl nor wget is installed on this node, so $S3L_URI cannot be downloaded."
  fi
}

# s3l_json KEY FILE: the string value of KEY in a flat JSON object (the instance role's credentials).
s3l_json() {
  tr ',{}' '\n' <"$2" | sed -n "s/^[[:space:]]*\"$1\"[[:space:]]*:[[:space:]]*\"\\([^\"]*\\)\".*/\\1/p" | head -n 1
}

# s3l_credentials: S3L_AK, S3L_SK and S3L_TOKEN from the environment (AWS_ACCESS_KEY_ID, ...), or else from the
# instance role through IMDSv2 (AWS_EC2_METADATA_SERVICE_ENDPOINT, as the AWS SDKs read it, or 169.254.169.254).
s3l_credentials() {
  if [ -n "${AWS_ACCESS_KEY_ID:-}" ] && [ -n "${AWS_SECRET_ACCESS_KEY:-}" ]; then
    S3L_AK=$AWS_ACCESS_KEY_ID
    S3L_SK=$AWS_SECRET_ACCESS_KEY
    S3L_TOKEN=${AWS_SESSION_TOKEN:-}
    return 0
  fi
  s3l_md=${AWS_EC2_METADATA_SERVICE_ENDPOINT:-http://169.254.169.254}
  s3l_md=${s3l_md%/}
  printf 'X-aws-ec2-metadata-token-ttl-seconds: 300\nContent-Length: 0\n' >"$S3L_DIR/h.put"
  s3l_st=$(s3l_http PUT "$s3l_md/latest/api/token" "$S3L_DIR/token" "$S3L_DIR/h.put")
  [ "$s3l_st" = 200 ] || s3l_fail "no AWS credentials to download $S3L_URI: none in the environment, and the instance metadata service did not answer (HTTP $s3l_st). Give the instance a role that may s3:GetObject it."
  { printf 'X-aws-ec2-metadata-token: '; cat -- "$S3L_DIR/token"; echo; } >"$S3L_DIR/h.md"
  # Right after launch the role's credentials can take a few seconds to appear: three tries, 2 s apart.
  for s3l_try in 1 2 3; do
    s3l_st=$(s3l_http GET "$s3l_md/latest/meta-data/iam/security-credentials/" "$S3L_DIR/role" "$S3L_DIR/h.md")
    s3l_role=$(head -n 1 "$S3L_DIR/role" 2>/dev/null)
    [ "$s3l_st" != 200 ] || [ -z "$s3l_role" ] || break
    [ "$s3l_try" = 3 ] || sleep 2
  done
  { [ "$s3l_st" = 200 ] && [ -n "$s3l_role" ]; } || s3l_fail "the instance has no role (instance metadata: HTTP $s3l_st), so $S3L_URI cannot be downloaded: attach an instance profile whose role may s3:GetObject it."
  s3l_st=$(s3l_http GET "$s3l_md/latest/meta-data/iam/security-credentials/$s3l_role" "$S3L_DIR/creds" "$S3L_DIR/h.md")
  S3L_AK=$(s3l_json AccessKeyId "$S3L_DIR/creds")
  S3L_SK=$(s3l_json SecretAccessKey "$S3L_DIR/creds")
  S3L_TOKEN=$(s3l_json Token "$S3L_DIR/creds")
  { [ "$s3l_st" = 200 ] && [ -n "$S3L_AK" ] && [ -n "$S3L_SK" ]; } || s3l_fail "the credentials of the instance role $s3l_role could not be read (instance metadata: HTTP $s3l_st)."
}

# s3l_hex: standard input in lower-case hex, on one line.
s3l_hex() {
  od -An -v -tx1 | tr -d ' \n'
}

# s3l_bytes PAD LENGTH: the hex on standard input as printf escapes (\ooo), zero bytes added up to LENGTH, each byte
# XORed with PAD.
s3l_bytes() {
  awk -v p="$1" -v n="$2" 'function xor(a, b,   r, i) { r = 0; for (i = 1; i < 256; i *= 2) if (int(a / i) % 2 != int(b / i) % 2) r += i; return r }
    function nib(c) { return index("0123456789abcdef", c) - 1 }
    { for (i = 0; i < n; i++) { k = 2 * i < length($0) ? nib(substr($0, 2 * i + 1, 1)) * 16 + nib(substr($0, 2 * i + 2, 1)) : 0; printf "\\%03o", xor(k, p) } }'
}

# s3l_hmac HEXKEY DATA: HMAC-SHA256 (RFC 2104) of DATA in hex, with sha256sum. The key travels through pipes and the
# shell's own printf only, never on a command line.
# shellcheck disable=SC2059  # the formats are bytes as \ooo escapes, made by s3l_bytes
s3l_hmac() {
  s3l_hk=$1
  if [ "${#s3l_hk}" -gt 128 ]; then
    s3l_hk=$(printf "$(printf '%s\n' "$s3l_hk" | s3l_bytes 0 $((${#s3l_hk} / 2)))" | sha256sum | awk '{ print $1 }')
  fi
  s3l_hi=$({ printf "$(printf '%s\n' "$s3l_hk" | s3l_bytes 54 64)"; printf '%s' "$2"; } | sha256sum | awk '{ print $1 }')
  { printf "$(printf '%s\n' "$s3l_hk" | s3l_bytes 92 64)"; printf "$(printf '%s\n' "$s3l_hi" | s3l_bytes 0 32)"; } | sha256sum | awk '{ print $1 }'
}

# s3l_sign: the headers of a SigV4-signed GET of S3L_URL (S3 in S3L_REGION, an empty body), one per line, into
# $S3L_DIR/h.get. S3L_NOW (yyyymmddThhmmssZ) may be given; it is the clock otherwise.
s3l_sign() {
  s3l_now=${S3L_NOW:-$(date -u +%Y%m%dT%H%M%SZ)}
  s3l_day=${s3l_now%%T*}
  s3l_rest=${S3L_URL#*://}
  s3l_host=${s3l_rest%%/*}
  s3l_path=/${s3l_rest#*/}
  s3l_ph=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
  s3l_sh='host;x-amz-content-sha256;x-amz-date'
  s3l_ch="host:$s3l_host
x-amz-content-sha256:$s3l_ph
x-amz-date:$s3l_now"
  if [ -n "$S3L_TOKEN" ]; then
    s3l_sh="$s3l_sh;x-amz-security-token"
    s3l_ch="$s3l_ch
x-amz-security-token:$S3L_TOKEN"
  fi
  s3l_scope="$s3l_day/$S3L_REGION/s3/aws4_request"
  s3l_creq=$(printf 'GET\n%s\n\n%s\n\n%s\n%s' "$s3l_path" "$s3l_ch" "$s3l_sh" "$s3l_ph" | sha256sum | awk '{ print $1 }')
  s3l_k=$(s3l_hmac "$(printf 'AWS4%s' "$S3L_SK" | s3l_hex)" "$s3l_day")
  s3l_k=$(s3l_hmac "$s3l_k" "$S3L_REGION")
  s3l_k=$(s3l_hmac "$s3l_k" s3)
  s3l_k=$(s3l_hmac "$s3l_k" aws4_request)
  s3l_sig=$(s3l_hmac "$s3l_k" "$(printf 'AWS4-HMAC-SHA256\n%s\n%s\n%s' "$s3l_now" "$s3l_scope" "$s3l_creq")")
  {
    printf 'x-amz-date: %s\nx-amz-content-sha256: %s\n' "$s3l_now" "$s3l_ph"
    [ -z "$S3L_TOKEN" ] || printf 'x-amz-security-token: %s\n' "$S3L_TOKEN"
    printf 'Authorization: AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s\n' "$S3L_AK" "$s3l_scope" "$s3l_sh" "$s3l_sig"
  } >"$S3L_DIR/h.get"
}

s3l_log info "downloading the bootstrap script from $S3L_URI"
if [ -z "$S3L_REGION" ]; then
  s3l_st=$(s3l_http GET "$S3L_URL" "$S3L_DIR/script")
else
  s3l_credentials
  s3l_sign
  s3l_st=$(s3l_http GET "$S3L_URL" "$S3L_DIR/script" "$S3L_DIR/h.get")
fi
if [ "$s3l_st" != 200 ]; then
  s3l_why=$(sed -n 's:.*<Code>\([^<]*\)</Code>.*:\1:p' "$S3L_DIR/script" 2>/dev/null | head -n 1)
  s3l_fail "could not download $S3L_URI (HTTP $s3l_st${s3l_why:+, $s3l_why}); nothing was run."
fi
s3l_got=$(sha256sum <"$S3L_DIR/script" | awk '{ print $1 }')
if [ "$s3l_got" != "$S3L_SHA256" ]; then
  s3l_fail "$S3L_URI is not the script this user data was exported with (SHA-256 $s3l_got, $(wc -c <"$S3L_DIR/script") bytes; expected $S3L_SHA256, $S3L_SIZE bytes); nothing was run. Upload the script of the same export again, or export the user data again."
fi

# The verified script is kept where a person finds it (and runs it again by hand); from the temporary copy if that fails.
s3l_run="$S3L_DIR/script"
if mkdir -p -- "${S3L_SAVE%/*}" && cp -- "$S3L_DIR/script" "$S3L_SAVE.new" && chmod 0700 -- "$S3L_SAVE.new" && mv -f -- "$S3L_SAVE.new" "$S3L_SAVE"; then
  s3l_run=$S3L_SAVE
else
  s3l_log warning "could not keep the script at $S3L_SAVE; running it from $S3L_DIR"
fi
s3l_log info "running $s3l_run (SHA-256 $S3L_SHA256, verified)"
/bin/sh "$s3l_run" </dev/null
exit $?
