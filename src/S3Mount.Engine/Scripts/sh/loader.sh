# loader: the user data of a bootstrap that is too large for EC2's 16 KB (Export-S3MountBootstrap -ScriptUri). It
# downloads the bootstrap script, refuses it unless its SHA-256 is the one pinned here (a script changed or replaced
# since the export never runs), keeps it at S3L_SAVE and runs it with /bin/sh: the script's exit status is the
# loader's, its stdout passes through. Diagnostics go to stderr and the journal (journalctl -t s3mount-bootstrap).
# Parameters (set by the engine): S3L_URI (as the user gave it) S3L_URL (what is fetched) S3L_REGION (set for s3://:
# the GET is signed, SigV4, with the credentials of the environment or of the instance role through IMDSv2)
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

# s3l_http METHOD URL OUT [HEADER...]: one HTTP request, retried on transient failures; prints the HTTP status (000
# when there was no answer). The body goes to OUT. Redirects are followed to https only.
s3l_http() {
  s3l_m=$1
  s3l_u=$2
  s3l_o=$3
  shift 3
  if command -v curl >/dev/null 2>&1; then
    for s3l_h in "$@"; do
      set -- "$@" -H "$s3l_h"
      shift
    done
    curl -sS -L --proto-redir '=https' --path-as-is --retry 5 --retry-delay 2 --retry-connrefused --connect-timeout 10 --max-time 300 \
      -X "$s3l_m" -w '%{http_code}' -o "$s3l_o" "$@" -- "$s3l_u" || true
  elif command -v wget >/dev/null 2>&1; then
    for s3l_h in "$@"; do
      set -- "$@" "--header=$s3l_h"
      shift
    done
    if wget -q --tries=5 --waitretry=2 --timeout=30 --method="$s3l_m" -O "$s3l_o" "$@" -- "$s3l_u"; then printf 200; else printf 000; fi
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
  s3l_st=$(s3l_http PUT "$s3l_md/latest/api/token" "$S3L_DIR/token" 'X-aws-ec2-metadata-token-ttl-seconds: 300' 'Content-Length: 0')
  [ "$s3l_st" = 200 ] || s3l_fail "no AWS credentials to download $S3L_URI: none in the environment, and the instance metadata service did not answer (HTTP $s3l_st). Give the instance a role that may s3:GetObject it."
  s3l_mt="X-aws-ec2-metadata-token: $(cat -- "$S3L_DIR/token")"
  # Right after launch the role's credentials can take a few seconds to appear: three tries, 2 s apart.
  for s3l_try in 1 2 3; do
    s3l_st=$(s3l_http GET "$s3l_md/latest/meta-data/iam/security-credentials/" "$S3L_DIR/role" "$s3l_mt")
    s3l_role=$(head -n 1 "$S3L_DIR/role" 2>/dev/null)
    [ "$s3l_st" != 200 ] || [ -z "$s3l_role" ] || break
    [ "$s3l_try" = 3 ] || sleep 2
  done
  { [ "$s3l_st" = 200 ] && [ -n "$s3l_role" ]; } || s3l_fail "the instance has no role (instance metadata: HTTP $s3l_st), so $S3L_URI cannot be downloaded: attach an instance profile whose role may s3:GetObject it."
  s3l_st=$(s3l_http GET "$s3l_md/latest/meta-data/iam/security-credentials/$s3l_role" "$S3L_DIR/creds" "$s3l_mt")
  S3L_AK=$(s3l_json AccessKeyId "$S3L_DIR/creds")
  S3L_SK=$(s3l_json SecretAccessKey "$S3L_DIR/creds")
  S3L_TOKEN=$(s3l_json Token "$S3L_DIR/creds")
  { [ "$s3l_st" = 200 ] && [ -n "$S3L_AK" ] && [ -n "$S3L_SK" ]; } || s3l_fail "the credentials of the instance role $s3l_role could not be read (instance metadata: HTTP $s3l_st)."
}

# s3l_hmac KEYOPT DATA: HMAC-SHA256 of DATA in hex; KEYOPT is key:TEXT or hexkey:HEX.
s3l_hmac() {
  printf '%s' "$2" | openssl dgst -sha256 -mac HMAC -macopt "$1" | awk '{ print $NF }'
}

# s3l_sign: the headers of a SigV4-signed GET of S3L_URL (S3 in S3L_REGION, an empty body): S3L_HD, S3L_HC and S3L_HA,
# and S3L_HT (empty without a session token). S3L_NOW (yyyymmddThhmmssZ) may be given; it is the clock otherwise.
s3l_sign() {
  command -v openssl >/dev/null 2>&1 || s3l_fail "openssl is not installed on this node, so the request for $S3L_URI cannot be signed."
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
  S3L_HT=
  if [ -n "$S3L_TOKEN" ]; then
    s3l_sh="$s3l_sh;x-amz-security-token"
    s3l_ch="$s3l_ch
x-amz-security-token:$S3L_TOKEN"
    S3L_HT="x-amz-security-token: $S3L_TOKEN"
  fi
  s3l_scope="$s3l_day/$S3L_REGION/s3/aws4_request"
  s3l_creq=$(printf 'GET\n%s\n\n%s\n\n%s\n%s' "$s3l_path" "$s3l_ch" "$s3l_sh" "$s3l_ph" | openssl dgst -sha256 | awk '{ print $NF }')
  s3l_k=$(s3l_hmac "key:AWS4$S3L_SK" "$s3l_day")
  s3l_k=$(s3l_hmac "hexkey:$s3l_k" "$S3L_REGION")
  s3l_k=$(s3l_hmac "hexkey:$s3l_k" s3)
  s3l_k=$(s3l_hmac "hexkey:$s3l_k" aws4_request)
  s3l_sig=$(s3l_hmac "hexkey:$s3l_k" "$(printf 'AWS4-HMAC-SHA256\n%s\n%s\n%s' "$s3l_now" "$s3l_scope" "$s3l_creq")")
  S3L_HD="x-amz-date: $s3l_now"
  S3L_HC="x-amz-content-sha256: $s3l_ph"
  S3L_HA="Authorization: AWS4-HMAC-SHA256 Credential=$S3L_AK/$s3l_scope, SignedHeaders=$s3l_sh, Signature=$s3l_sig"
}

s3l_log info "downloading the bootstrap script from $S3L_URI"
if [ -z "$S3L_REGION" ]; then
  s3l_st=$(s3l_http GET "$S3L_URL" "$S3L_DIR/script")
else
  s3l_credentials
  s3l_sign
  if [ -n "$S3L_HT" ]; then
    s3l_st=$(s3l_http GET "$S3L_URL" "$S3L_DIR/script" "$S3L_HD" "$S3L_HC" "$S3L_HA" "$S3L_HT")
  else
    s3l_st=$(s3l_http GET "$S3L_URL" "$S3L_DIR/script" "$S3L_HD" "$S3L_HC" "$S3L_HA")
  fi
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
