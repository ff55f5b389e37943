# Sourced by the launch benchmarks: one hyperfine round of a command, its times kept for the medians and bootstrap
# intervals over all rounds. Needs $work (scratch dir), $PER (runs per round) and $round (for messages).

bench() { # name, then hyperfine arguments; appends this round's times (ms) to $work/<name>.times
    local name=$1
    shift
    rm -f "$work/round.json"
    if ! hyperfine -N -w 1 -r "$PER" --export-json "$work/round.json" "$@" >/dev/null 2>&1; then
        echo "$(basename "$0"): round $round of $name failed; its runs are not counted" >&2
        return 0
    fi
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("\n".join(str(t*1000) for t in d["results"][0]["times"]))' \
        "$work/round.json" >>"$work/$name.times"
}
