#!/usr/bin/env bash
# govulncheck over every package, as `go tool task lint` runs it. It asks the public Go
# vulnerability database first; when that cannot be reached, it builds the same database
# locally from the golang.org/x/vulndb module (pinned below, fetched through the module
# proxy) and checks against that. GOVULNDB=file:///path or https://… overrides both.
# Exits non-zero on any finding that is not listed in .ci/vulncheck-accepted.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

VULNDB_VERSION=v0.0.0-20261105234957-e22db6528018

run() { go tool govulncheck "$@" ./...; }

local_db() {
	local cache="${XDG_CACHE_HOME:-$HOME/.cache}/tenantry-vulndb/$VULNDB_VERSION"
	if [ ! -f "$cache/index/db.json" ]; then
		echo "building a local vulnerability database from golang.org/x/vulndb@$VULNDB_VERSION" >&2
		local src
		src=$(go mod download -json "golang.org/x/vulndb@$VULNDB_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
		rm -rf "$cache.tmp"
		go run "golang.org/x/vulndb/cmd/indexdb@$VULNDB_VERSION" -vulns "$src/data/osv" -out "$cache.tmp"
		rm -rf "$cache" && mv "$cache.tmp" "$cache"
	fi
	echo "file://$cache"
}

out=$(mktemp)
trap 'rm -f "$out"' EXIT
if [ -n "${GOVULNDB:-}" ]; then
	db="$GOVULNDB"
else
	db=""
	set +e
	timeout 120 go tool govulncheck -format text ./... >"$out" 2>&1
	rc=$?
	set -e
	# 0: no finding, 3: findings; anything else means the database was not reached.
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 3 ]; then
		echo "public vulnerability database unreachable (govulncheck exit $rc); using a local one" >&2
		db=$(local_db)
	fi
fi
if [ -n "$db" ]; then
	set +e
	go tool govulncheck -db "$db" -format text ./... >"$out" 2>&1
	rc=$?
	set -e
fi
cat "$out"
[ "$rc" -eq 0 ] && exit 0
[ "$rc" -ne 3 ] && exit "$rc"

# Findings: every reachable vulnerability id must be explained in the accepted list.
accepted=.ci/vulncheck-accepted.txt
unexplained=0
for id in $(grep -oE '^Vulnerability #[0-9]+: GO-[0-9]{4}-[0-9]+' "$out" | grep -oE 'GO-[0-9]{4}-[0-9]+' | sort -u); do
	if ! grep -qE "^$id\b" "$accepted" 2>/dev/null; then
		echo "govulncheck: $id is reachable and not explained in $accepted" >&2
		unexplained=1
	fi
done
exit "$unexplained"
