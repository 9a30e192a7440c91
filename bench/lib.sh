# Shared by the bench scripts: timing of shell commands, medians, ratio rows.
# Expects N (runs) and TMP (scratch dir) to be set by the caller.

# median wall seconds and max peak RSS (KiB) of N runs of a shell command
measure() {
  local cmd=$1 walls=() rss=0
  for _ in $(seq "$N"); do
    local start=$EPOCHREALTIME
    /usr/bin/time -f "%M" -o "$TMP/t" bash -c "$cmd" >/dev/null 2>"$TMP/err" || { cat "$TMP/err" >&2; return 1; }
    local end=$EPOCHREALTIME
    read -r m < "$TMP/t"
    w=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.4f", b - a }')
    walls+=("$w"); [ "$m" -gt "$rss" ] && rss=$m
  done
  local med
  med=$(printf '%s\n' "${walls[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  echo "$med $rss"
}

row() { # LABEL OURS_CMD FLOOR_LABEL FLOOR_CMD
  read -r ow orss < <(measure "$2")
  read -r fw frss < <(measure "$4")
  ratio=$(awk -v a="$ow" -v b="$fw" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
  printf '| %-22s | %7.3f s | %6d MiB | %-30s | %7.3f s | %6d MiB | %5s× |\n' \
    "$1" "$ow" $((orss / 1024)) "$3" "$fw" $((frss / 1024)) "$ratio"
}

