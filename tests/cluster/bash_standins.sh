# The curl and sleep stand-ins, in bash (e2e.sh sends hundreds of requests, and Python's start
# would be most of the run). Each call is recorded. curl answers /score with the model version
# the InferenceService's traffic split picks, read from $REC_DIR/traffic ("STABLE CANARY
# PERCENT", written by standin.py); sleep records its seconds (the waits check counts them) and
# sleeps at most 0.2 s. Run with bash -p, so that BASH_ENV's trap keeps the caller's stack.
set -u
tool="${0##*/}"
# json TEXT: TEXT as a JSON string, in REPLY (no subshell: this runs hundreds of times).
json() {
  REPLY="${1//\\/\\\\}"
  REPLY="${REPLY//\"/\\\"}"
  REPLY="\"${REPLY//$'\x1f'/\\u001f}\""
}
line="{\"tool\": \"${tool}\", \"argv\": ["
sep=""
for arg in "$@"; do
  json "$arg"
  line+="${sep}${REPLY}"
  sep=", "
done
line+='], "script": "", "op": "call"'
for field in run:REC_RUN stack:REC_STACK sites:REC_SITES shell:REC_PID frame_args:REC_ARGS; do
  name="${field#*:}"
  json "${!name:-}"
  line+=", \"${field%%:*}\": ${REPLY}"
done
printf '%s, "time": %s}\n' "$line" "$EPOCHREALTIME" >>"${REC_DIR}/events.jsonl"
if [ "$tool" = sleep ]; then
  exec "$REC_REAL_SLEEP" "$(awk -v s="${1:-0}" 'BEGIN { print (s + 0 > 0.2 ? 0.2 : s + 0) }')"
fi
url=""
for arg in "$@"; do
  case "$arg" in http://* | https://*) url="$arg" ;; esac
done
# Nothing answers on a local port that no port-forward or kind port mapping holds.
if [[ "$url" =~ ^https?://(127\.0\.0\.1|localhost):([0-9]+) ]] &&
  [ ! -e "${REC_DIR}/listening/${BASH_REMATCH[2]}" ]; then
  echo "curl: (7) Failed to connect to ${BASH_REMATCH[1]} port ${BASH_REMATCH[2]}: Connection refused" >&2
  exit 7
fi
case "$url" in
  */score)
    read -r stable canary percent <"${REC_DIR}/traffic"
    n=0
    [ -f "${REC_DIR}/requests" ] && read -r n <"${REC_DIR}/requests"
    n=$((n + 1))
    echo "$n" >"${REC_DIR}/requests"
    version="$stable"
    # Every request at which n * percent / 100 steps up goes to the canary: exactly percent %.
    if [ "$((n * percent / 100))" -gt "$(((n - 1) * percent / 100))" ]; then version="$canary"; fi
    printf '{"model_version": "%s", "predictions": [{"fraud_probability": 0.02, "model_version": "%s"}]}\n' "$version" "$version"
    ;;
esac
exit 0
