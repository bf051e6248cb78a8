#!/bin/bash
# Issue 4's manual acceptance check: kill -9 of `feedpulse run` during a replay of
# 6,000 real posts, then a restart: the last snapshot must hold each post once.
# Uses the broker on 127.0.0.1:9092 (started if needed), its own topic, group and
# snapshot folder, small segments (so snapshots hard-link sealed ones) and port 8191.
#   make setup && bash deploy/kill_run_check.sh
set -u
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
export FEEDPULSE_DATA=${FEEDPULSE_DATA:-../shared/data/crisislex-t6}
PY=${FEEDPULSE_CACHE_DIR:-$HOME/.cache/feedpulse}/current/venv/bin/python
T=kr$(date +%s)
mkdir -p /tmp/killrun && rm -rf /tmp/killrun/snaps
export FEEDPULSE_KAFKA__TOPIC=$T FEEDPULSE_KAFKA__DLQ_TOPIC=$T.dlq FEEDPULSE_KAFKA__GROUP_ID=$T
export FEEDPULSE_INDEX__SNAPSHOT_DIR=/tmp/killrun/snaps FEEDPULSE_INDEX__SNAPSHOT_INTERVAL_S=3
export FEEDPULSE_INDEX__SEGMENT_POSTS=1000 FEEDPULSE_API__PORT=8191
$PY -m serve.cli kafka start || exit 1
stats() { curl -s localhost:8191/v1/stats; }
wait_api() { for i in $(seq 1 120); do stats >/dev/null 2>&1 && return 0; sleep 1; done; return 1; }
$PY -m serve.cli run > /tmp/killrun/run1.log 2>&1 &
RUN=$!
wait_api || { echo "API did not start"; tail -20 /tmp/killrun/run1.log; exit 1; }
$PY -m serve.cli replay --limit 6000 > /tmp/killrun/replay.log 2>&1 &
REPLAY=$!
for i in $(seq 1 300); do
  n=$(stats | $PY -c "import json,sys; print(json.load(sys.stdin)['posts_indexed'])" 2>/dev/null || echo 0)
  [ "$n" -ge 2500 ] && break; sleep 0.5
done
echo "before kill: $(stats)"
ls /tmp/killrun/snaps
kill -9 $RUN; wait $RUN 2>/dev/null
wait $REPLAY; tail -1 /tmp/killrun/replay.log
$PY -m serve.cli run > /tmp/killrun/run2.log 2>&1 &
RUN=$!
wait_api || { echo "API did not restart"; tail -20 /tmp/killrun/run2.log; exit 1; }
for i in $(seq 1 600); do
  s=$(stats); n=$(echo "$s" | $PY -c "import json,sys; d=json.load(sys.stdin); print(d['posts_indexed'] if d['consumer_lag'] and not any(d['consumer_lag'].values()) else 0)" 2>/dev/null || echo 0)
  [ "$n" -ge 5900 ] && break; sleep 1
done
echo "after restart: $(stats)"
kill -TERM $RUN; wait $RUN; echo "graceful exit code $?"
newest=$(ls -d /tmp/killrun/snaps/snap-* | sort | tail -1)
$PY - "$newest" <<'PYEOF'
import sys, pathlib, collections
sys.path.insert(0, ".")
from index.snapshot import read_snapshot
path = pathlib.Path(sys.argv[1])
state = read_snapshot(path)
ids = [r.post_id for r in state.records if r is not None]
links = sum(1 for p in path.iterdir() if p.stat().st_nlink > 1)
print(f"snapshot {path.name}: {len(state.segments)} segments, {links} files hard-linked with an older snapshot")
print(f"posts {len(ids)}, unique {len(set(ids))}, vectors {state.vectors}, duplicates {len(ids) - len(set(ids)) + state.vectors - len(ids)}")
sys.exit(0 if len(ids) == len(set(ids)) == state.vectors == 6000 else 1)
PYEOF
