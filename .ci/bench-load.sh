#!/usr/bin/env bash
# Load tests of the performance issue (#8) against the production router on loopback
# (bootstrap/loadtest*_test.go, skipped unless TENANTRY_LOADTEST=1):
#   auth     target 1: GET /users/me vs GET /healthz, wrk -t1 -c64, alternated
#   storm    target 2: /users/me while 32 connections send wrong passwords
#   chat     target 4: first-token and per-token overhead over an instant OpenAI stub
#   streams  target 5: 10,000 concurrent /chat/stream in one server process
#   all      all of the above (the default)
# Knobs (environment): TENANTRY_LOADTEST_ROUNDS, TENANTRY_LOADTEST_DURATION (wrk runs),
# TENANTRY_LOADTEST_CHATS, TENANTRY_LOADTEST_TOKENS (chat), TENANTRY_LOADTEST_STREAMS,
# TENANTRY_LOADTEST_OPENAI_STREAMS, TENANTRY_LOADTEST_GOMEMLIMIT_MIB,
# TENANTRY_LOADTEST_PROFILES=<dir> (heap and goroutine profiles of the stream server).
# Targets 1 and 2 need wrk (apt-get install -y wrk); nothing else beyond Go.
set -euo pipefail
cd "$(dirname "$0")/.."

what="${1:-all}"
case "$what" in
	auth) run='^TestLoadAuthenticatedOverhead$' ;;
	storm) run='^TestLoadLoginStorm$' ;;
	chat) run='^TestLoadChatLatency$' ;;
	streams) run='^TestLoadConcurrentStreams$' ;;
	all) run='^(TestLoadAuthenticatedOverhead|TestLoadLoginStorm|TestLoadChatLatency|TestLoadConcurrentStreams)$' ;;
	*) echo "usage: $0 [auth|storm|chat|streams|all]" >&2; exit 2 ;;
esac
if [[ "$what" == auth || "$what" == storm || "$what" == all ]] && ! command -v wrk >/dev/null; then
	echo "wrk is needed for targets 1 and 2: apt-get install -y wrk" >&2
	exit 1
fi
# The stream test opens 10,000 sockets per process; take the hard limit.
ulimit -n "$(ulimit -Hn)"

echo "commit $(git rev-parse --short HEAD), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(go version | cut -d' ' -f3), $(date -u +%FT%TZ), load average $(cut -d' ' -f1-3 /proc/loadavg)"
TENANTRY_LOADTEST=1 exec go test ./bootstrap -run "$run" -count=1 -v -timeout 60m
