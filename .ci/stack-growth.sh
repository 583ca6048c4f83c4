#!/usr/bin/env bash
# Where do the stream server's goroutines outgrow 8 KiB? Runs the offline stream load
# test with a few streams, its server process under gdb with a breakpoint on
# runtime.copystack that logs the frame pointers' walk whenever a goroutine's stack
# grows from 8 to 16 KiB, and prints the growth sites by count, then the first walk
# of each of the $SITES (default 4) most frequent ones.
# Needs gdb (apt-get install -y gdb).
# Usage: .ci/stack-growth.sh [streams, default 30] [case, default model=stub/gc=default; or model=openai-h2]
# With TEST=TestStreamStacksStaySmall it runs that test's case instead (offline,
# openai-h2, offline-v1 or openai-h2-v1; it opens its own 300 streams).
set -euo pipefail
cd "$(dirname "$0")/.."
streams="${1:-30}"
case="${2:-model=stub/gc=default}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go test -c -o "$work/real.test" ./bootstrap

cat >"$work/walk.py" <<PY
import gdb
class Walk(gdb.Breakpoint):
    def stop(self):
        f = gdb.selected_frame()
        if int(f.read_var("newsize")) != 16384:
            return False
        gp = f.read_var("gp")
        hi = int(gp["stack"]["hi"])
        if hi - int(gp["stack"]["lo"]) >= 16384:
            return False  # the GC shrinking a larger stack, not a growth
        sp, bp = int(gp["sched"]["sp"]), int(gp["sched"]["bp"])
        pc = int(gp["sched"]["pc"])
        inf = gdb.selected_inferior()
        out = ["GROW depth=%d pc=%s" % (hi - sp, gdb.execute("info symbol 0x%x" % pc, to_string=True).split(" in section")[0])]
        for _ in range(60):
            if not bp:
                break
            try:
                ret = int.from_bytes(inf.read_memory(bp + 8, 8).tobytes(), "little")
                nbp = int.from_bytes(inf.read_memory(bp, 8).tobytes(), "little")
            except Exception:
                break
            out.append("   %6d %s" % (hi - bp, gdb.execute("info symbol 0x%x" % ret, to_string=True).split(" in section")[0]))
            bp = nbp
        with open("$work/grow.log", "a") as log:
            log.write("\n".join(out) + "\n")
        return False
Walk("runtime.copystack")
PY
cat >"$work/child.gdb" <<GDB
set pagination off
set print thread-events off
handle SIGURG nostop noprint pass
handle SIGPIPE nostop noprint pass
source $work/walk.py
run
quit
GDB
# The load test starts its server as os.Args[0] -test.run=^TestLoadStreamServer$: the
# wrapper runs that one under gdb and everything else as is.
mkdir "$work/wrap"
cat >"$work/wrap/bootstrap.test" <<SH
#!/usr/bin/env bash
case "\$1" in
	-test.run=^TestLoadStreamServer\$) exec gdb -q -batch -x "$work/child.gdb" --args "$work/real.test" "\$@" ;;
	*) exec -a "$work/wrap/bootstrap.test" "$work/real.test" "\$@" ;;
esac
SH
chmod +x "$work/wrap/bootstrap.test"
ulimit -n "$(ulimit -Hn)"
(cd bootstrap && TENANTRY_LOADTEST=1 TENANTRY_LOADTEST_STREAMS="$streams" TENANTRY_LOADTEST_OPENAI_STREAMS="$streams" \
	"$work/wrap/bootstrap.test" -test.run "^${TEST:-TestLoadConcurrentStreams}\$/^$case\$" -test.count=1 -test.v) | grep -E "RESULT|stacks per" || true # a failing test still logged its growths
grep GROW "$work/grow.log" | sort | uniq -c | sort -rn | head
grep GROW "$work/grow.log" | sort | uniq -c | sort -rn | head -"${SITES:-4}" | sed 's/^ *[0-9]* //' | while read -r site; do
	echo "first walk of: $site"
	# awk stops reading at the next walk; grep's broken pipe is expected.
	{ grep -F -A40 "$site" "$work/grow.log" || true; } | awk 'NR > 1 && /^GROW/ {exit} NR > 1 {print}'
done
