#!/bin/sh
# MyDNS hook for certbot's DNS-01 challenge: puts the validation value in the
# TXT record _acme-challenge.<host> of a MyDNS host, and takes it away again.
#
# Usage (as root, or as whoever runs certbot):
#
#   install -m 0755 mydns-certbot-hook.sh /usr/local/bin/mydns-certbot-hook.sh
#   install -d -m 0700 /etc/mydns
#   install -m 0600 /dev/null /etc/mydns/acme.conf
#   editor /etc/mydns/acme.conf     # two lines:
#       MYDNS_URL=https://dyn.example.net
#       MYDNS_TOKEN=mydns_…
#
#   certbot certonly --manual --preferred-challenges dns \
#     --manual-auth-hook '/usr/local/bin/mydns-certbot-hook.sh auth' \
#     --manual-cleanup-hook '/usr/local/bin/mydns-certbot-hook.sh cleanup' \
#     -d alice.dyn.example.net -d '*.alice.dyn.example.net'
#
# certbot saves the hooks with the certificate, so `certbot renew` uses them too.
#
# Settings, from the environment or from the config file (the environment wins):
#   MYDNS_URL     the MyDNS server, e.g. https://dyn.example.net (required)
#   MYDNS_TOKEN   an update token of the host (or its password); create one with
#                 POST /api/v1/hosts/<host>/tokens or in the dashboard (required)
#   MYDNS_HOST    the MyDNS host whose _acme-challenge gets the value (optional;
#                 default: the domain certbot validates, without "*."; set it when
#                 another domain's _acme-challenge is a CNAME to this host's)
#   MYDNS_SLEEP   seconds to wait after adding a value, for secondary name
#                 servers (optional; default 0: MyDNS answers only once its
#                 PowerDNS serves the value)
#   MYDNS_CONFIG  the config file (default /etc/mydns/acme.conf): shell
#                 assignments, read only if the file exists, belongs to root or
#                 to the user running the hook, and is not writable by group or
#                 others (else the hook stops). A MYDNS_CONFIG given but missing
#                 is an error.
#
# certbot gives the hook CERTBOT_DOMAIN (the base name also for "*.alice…") and
# CERTBOT_VALIDATION. The token goes to curl on standard input (curl -K -),
# never on a command line, so other users cannot see it in the process list.
# Exit status 0 on success; otherwise 1 and a message on standard error.
# Needs: a POSIX sh and curl.

set -u
umask 077

me=mydns-certbot-hook

die() {
	printf '%s: %s\n' "$me" "$*" >&2
	exit 1
}

# --- settings ---------------------------------------------------------------

env_url=${MYDNS_URL-}
env_token=${MYDNS_TOKEN-}
env_host=${MYDNS_HOST-}
env_sleep=${MYDNS_SLEEP-}

config=${MYDNS_CONFIG:-/etc/mydns/acme.conf}
case $config in
/*) ;;
*) config=./$config ;; # "." would search PATH for a bare name
esac
if [ -e "$config" ]; then
	[ -f "$config" ] || die "$config is not a regular file"
	[ -r "$config" ] || die "cannot read $config"
	# The file is run as shell code: whoever else can change it could run
	# anything as this user. Refuse it then.
	if [ -n "$(find "$config" -prune \( -perm -020 -o -perm -002 \) -print)" ]; then
		die "$config is writable by group or others; run: chmod go-w $config"
	fi
	if [ -z "$(find "$config" -prune \( -user 0 -o -user "$(id -u)" \) -print)" ]; then
		die "$config belongs to another user; it must belong to root or to $(id -un)"
	fi
	# shellcheck disable=SC1090
	. "$config" || die "could not read the settings in $config"
elif [ -n "${MYDNS_CONFIG-}" ]; then
	die "MYDNS_CONFIG names $config, which does not exist"
fi

[ -n "$env_url" ] && MYDNS_URL=$env_url
[ -n "$env_token" ] && MYDNS_TOKEN=$env_token
[ -n "$env_host" ] && MYDNS_HOST=$env_host
[ -n "$env_sleep" ] && MYDNS_SLEEP=$env_sleep

url=${MYDNS_URL-}
token=${MYDNS_TOKEN-}
[ -n "$url" ] || die "MYDNS_URL is not set (the MyDNS server, e.g. https://dyn.example.net); set it in the environment or in $config"
[ -n "$token" ] || die "MYDNS_TOKEN is not set (an update token of the host); set it in the environment or in $config"
while :; do
	case $url in
	*/) url=${url%/} ;;
	*) break ;;
	esac
done
case $url in
http://127.0.0.1 | http://127.0.0.1[:/]* | http://localhost | http://localhost[:/]* | http://\[::1\]*) ;;
http://*) printf '%s: warning: %s is plain HTTP; the token travels unencrypted\n' "$me" "$url" >&2 ;;
https://*) ;;
*) die "MYDNS_URL must start with https:// (or http://): $url" ;;
esac

# --- what certbot asks ------------------------------------------------------

action=${1-}
if [ -z "$action" ]; then
	# Called without an argument: certbot sets CERTBOT_AUTH_OUTPUT for the cleanup hook only.
	if [ -n "${CERTBOT_AUTH_OUTPUT+set}" ]; then action=cleanup; else action=auth; fi
fi
case $action in
auth | cleanup) ;;
*) die "unknown action '$action'; use: $0 auth|cleanup" ;;
esac

domain=${CERTBOT_DOMAIN-}
value=${CERTBOT_VALIDATION-}
[ -n "$domain" ] || die "CERTBOT_DOMAIN is not set; run this as certbot's --manual-auth-hook / --manual-cleanup-hook"
[ -n "$value" ] || die "CERTBOT_VALIDATION is not set; use --preferred-challenges dns"

host=${MYDNS_HOST:-$domain}
host=${host#\*.}
host=${host%.}
case $host in
'' | *[!A-Za-z0-9.-]*) die "not a host name: $host" ;;
esac
# A DNS-01 value is a base64url SHA-256 digest; anything else is not certbot's.
case $value in
*[!A-Za-z0-9_-]*) die "CERTBOT_VALIDATION is not a DNS-01 value: $value" ;;
esac

delay=${MYDNS_SLEEP:-0}
case $delay in
*[!0-9]*) die "MYDNS_SLEEP must be a whole number of seconds: $delay" ;;
esac

command -v curl >/dev/null 2>&1 || die "curl is not installed (Debian/Ubuntu: apt-get install curl)"

# --- the request ------------------------------------------------------------

# A double-quoted string for a curl config file.
quote() {
	printf '"%s"' "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')"
}

# request METHOD URL [JSON]: prints the reply body, then the HTTP status on its own line.
request() {
	{
		printf 'url = %s\n' "$(quote "$2")"
		printf 'request = %s\n' "$1"
		printf 'user = %s\n' "$(quote "$host:$token")"
		if [ $# -ge 3 ]; then
			printf 'header = "Content-Type: application/json"\n'
			printf 'data = %s\n' "$(quote "$3")"
		fi
	} | curl -q --silent --show-error --max-time 60 --user-agent mydns-certbot-hook/1 \
		--write-out '\n%{http_code}\n' -K -
}

# fail WHAT REPLY: the server's message (from {"error":{"message":…}}) and status.
fail() {
	status=$(printf '%s\n' "$2" | tail -n 1)
	body=$(printf '%s\n' "$2" | sed '$d')
	message=$(printf '%s' "$body" | sed -n 's/.*"message":"\([^"]*\)".*/\1/p' | head -n 1)
	[ -n "$message" ] || message=$(printf '%.300s' "$body")
	case $status in
	401) message="$message (check MYDNS_TOKEN, and that $host is a MyDNS host)" ;;
	000) message="no reply from $url" ;;
	esac
	die "$1 failed: HTTP $status: $message"
}

endpoint="$url/api/v1/hosts/$host/acme-challenge"
if [ "$action" = auth ]; then
	reply=$(request POST "$endpoint" "{\"value\":\"$value\"}") || die "could not reach $url to add the TXT value for $host"
	status=$(printf '%s\n' "$reply" | tail -n 1)
	[ "$status" = 201 ] || fail "adding the TXT value at _acme-challenge.$host" "$reply"
	[ "$delay" -gt 0 ] && sleep "$delay"
	exit 0
fi

reply=$(request DELETE "$endpoint/$value") || die "could not reach $url to remove the TXT value for $host"
status=$(printf '%s\n' "$reply" | tail -n 1)
case $status:$reply in
204:*) ;;
# Gone already (values expire after an hour): nothing left to clean up.
404:*acme_value_not_found*) printf '%s: the TXT value at _acme-challenge.%s was already gone\n' "$me" "$host" >&2 ;;
*) fail "removing the TXT value at _acme-challenge.$host" "$reply" ;;
esac
exit 0
