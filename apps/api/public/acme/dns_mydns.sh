#!/usr/bin/env sh
# shellcheck disable=SC2034
dns_mydns_info='MyDNS (self-hosted dynamic DNS)
Site: the MyDNS server you use
Options:
 MYDNS_URL The MyDNS server, e.g. https://dyn.example.net
 MYDNS_TOKEN An update token of the host (or its password)
'

# acme.sh DNS API hook for MyDNS: puts the DNS-01 value in the TXT record
# _acme-challenge.<host> of a MyDNS host, and takes it away again.
#
# Usage:
#
#   cp dns_mydns.sh ~/.acme.sh/dnsapi/
#   export MYDNS_URL='https://dyn.example.net'
#   export MYDNS_TOKEN='mydns_…'   # POST /api/v1/hosts/alice/tokens, or the dashboard
#   acme.sh --issue --dns dns_mydns -d alice.dyn.example.net -d '*.alice.dyn.example.net'
#
# acme.sh saves MYDNS_URL and MYDNS_TOKEN in its account.conf at the first use,
# so renewals need no environment. Several values at _acme-challenge.<host>
# coexist (a wildcard and its base name need two); removing one leaves the
# others; MyDNS drops any value left behind after an hour. The token goes to
# curl on standard input (curl -K -), never on a command line. Needs curl.

########  Public functions #####################

# Usage: dns_mydns_add _acme-challenge.alice.dyn.example.net "XKrxpRBosdIKFzxW_CT3KLZNf6q0HG9i01zxXp5CPBs"
dns_mydns_add() {
  fulldomain=$1
  txtvalue=$2
  _mydns_debug fulldomain "$fulldomain"
  _mydns_debug txtvalue "$txtvalue"
  _mydns_settings || return 1
  _mydns_names "$fulldomain" "$txtvalue" || return 1

  _mydns_info "Adding the TXT value at $fulldomain (MyDNS host $_mydns_host)"
  _mydns_request POST "$_mydns_endpoint" "{\"value\":\"$txtvalue\"}" || return 1
  if [ "$_mydns_status" != 201 ]; then
    _mydns_failed "adding the TXT value at $fulldomain"
    return 1
  fi
  return 0
}

# Usage: dns_mydns_rm _acme-challenge.alice.dyn.example.net "XKrxpRBosdIKFzxW_CT3KLZNf6q0HG9i01zxXp5CPBs"
dns_mydns_rm() {
  fulldomain=$1
  txtvalue=$2
  _mydns_debug fulldomain "$fulldomain"
  _mydns_debug txtvalue "$txtvalue"
  _mydns_settings || return 1
  _mydns_names "$fulldomain" "$txtvalue" || return 1

  _mydns_info "Removing the TXT value at $fulldomain (MyDNS host $_mydns_host)"
  _mydns_request DELETE "$_mydns_endpoint/$txtvalue" || return 1
  case $_mydns_status:$_mydns_body in
    204:*) return 0 ;;
    404:*acme_value_not_found*)
      # Gone already (values expire after an hour): nothing left to remove.
      _mydns_info "The TXT value at $fulldomain was already gone"
      return 0
      ;;
  esac
  _mydns_failed "removing the TXT value at $fulldomain"
  return 1
}

####################  Private functions below ##################################

_mydns_info() {
  if command -v _info >/dev/null 2>&1; then _info "$@"; else echo "[dns_mydns] $*"; fi
}

_mydns_err() {
  if command -v _err >/dev/null 2>&1; then _err "$@"; else echo "[dns_mydns] error: $*" >&2; fi
}

_mydns_debug() {
  if command -v _debug >/dev/null 2>&1; then _debug "$@"; fi
}

# MYDNS_URL and MYDNS_TOKEN: from the environment, else from acme.sh's
# account.conf; saved there when acme.sh runs this hook.
_mydns_settings() {
  if command -v _readaccountconf_mutable >/dev/null 2>&1; then
    MYDNS_URL="${MYDNS_URL:-$(_readaccountconf_mutable MYDNS_URL)}"
    MYDNS_TOKEN="${MYDNS_TOKEN:-$(_readaccountconf_mutable MYDNS_TOKEN)}"
  fi
  if [ -z "${MYDNS_URL:-}" ] || [ -z "${MYDNS_TOKEN:-}" ]; then
    MYDNS_URL=""
    MYDNS_TOKEN=""
    _mydns_err "MYDNS_URL and MYDNS_TOKEN must be set: the MyDNS server (e.g. https://dyn.example.net) and an update token of the host."
    return 1
  fi
  case $MYDNS_URL in
    https://* | http://127.0.0.1 | http://127.0.0.1[:/]* | http://localhost | http://localhost[:/]* | http://\[::1\]*) ;;
    http://*) _mydns_info "Warning: $MYDNS_URL is plain HTTP; the token travels unencrypted" ;;
    *)
      _mydns_err "MYDNS_URL must start with https:// (or http://): $MYDNS_URL"
      return 1
      ;;
  esac
  if command -v _saveaccountconf_mutable >/dev/null 2>&1; then
    _saveaccountconf_mutable MYDNS_URL "$MYDNS_URL"
    _saveaccountconf_mutable MYDNS_TOKEN "$MYDNS_TOKEN"
  fi
  _mydns_url=$MYDNS_URL
  while :; do
    case $_mydns_url in
      */) _mydns_url=${_mydns_url%/} ;;
      *) break ;;
    esac
  done
  if ! command -v curl >/dev/null 2>&1; then
    _mydns_err "curl is not installed (Debian/Ubuntu: apt-get install curl)"
    return 1
  fi
  return 0
}

# _mydns_names FULLDOMAIN TXTVALUE: the MyDNS host of _acme-challenge.<host>, and the endpoint.
_mydns_names() {
  _mydns_host=${1%.}
  case $_mydns_host in
    _acme-challenge.*) _mydns_host=${_mydns_host#_acme-challenge.} ;;
    *)
      _mydns_err "MyDNS serves ACME values only at _acme-challenge.<host>, not at $1"
      return 1
      ;;
  esac
  case $_mydns_host in
    '' | *[!A-Za-z0-9.-]*)
      _mydns_err "not a host name: $_mydns_host"
      return 1
      ;;
  esac
  case $2 in
    '' | *[!A-Za-z0-9_-]*)
      _mydns_err "not a DNS-01 value: $2"
      return 1
      ;;
  esac
  _mydns_endpoint="$_mydns_url/api/v1/hosts/$_mydns_host/acme-challenge"
  return 0
}

# A double-quoted string for a curl config file.
_mydns_quote() {
  printf '"%s"' "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')"
}

# _mydns_request METHOD URL [JSON]: sets _mydns_status and _mydns_body. The
# credentials reach curl through its standard input, never its command line.
_mydns_request() {
  _mydns_reply=$(
    {
      printf 'url = %s\n' "$(_mydns_quote "$2")"
      printf 'request = %s\n' "$1"
      printf 'user = %s\n' "$(_mydns_quote "$_mydns_host:$MYDNS_TOKEN")"
      if [ $# -ge 3 ]; then
        printf 'header = "Content-Type: application/json"\n'
        printf 'data = %s\n' "$(_mydns_quote "$3")"
      fi
    } | curl -q --silent --show-error --max-time 60 --user-agent dns_mydns/1 \
      --write-out '\n%{http_code}\n' -K -
  )
  _mydns_curl=$?
  if [ "$_mydns_curl" != 0 ]; then
    _mydns_err "could not reach $_mydns_url (curl exit $_mydns_curl)"
    return 1
  fi
  _mydns_status=$(printf '%s\n' "$_mydns_reply" | tail -n 1)
  _mydns_body=$(printf '%s\n' "$_mydns_reply" | sed '$d')
  _mydns_debug status "$_mydns_status"
  return 0
}

# The server's message (from {"error":{"message":…}}) with the HTTP status.
_mydns_failed() {
  _mydns_message=$(printf '%s' "$_mydns_body" | sed -n 's/.*"message":"\([^"]*\)".*/\1/p' | head -n 1)
  [ -n "$_mydns_message" ] || _mydns_message=$(printf '%.300s' "$_mydns_body")
  if [ "$_mydns_status" = 401 ]; then
    _mydns_message="$_mydns_message (check MYDNS_TOKEN, and that $_mydns_host is a MyDNS host)"
  fi
  _mydns_err "$1 failed: HTTP $_mydns_status: $_mydns_message"
}
