#!/usr/bin/env bash
# Makes a default music-on-hold class with sox: three short pieces of
# plucked chords as 8 kHz mono 16-bit WAV files in DIR (default
# ./data/moh/default), the format entVoice plays without converting.
# Debian ships no music on hold; point musiconhold.conf's [default]
# directory= at DIR (without any, entVoice synthesises a tune). Files that
# exist are kept, so running it again changes nothing.
set -euo pipefail
dir=${1:-data/moh/default}
command -v sox >/dev/null || { echo "moh-default: sox is required (apt-get install sox)" >&2; exit 1; }
mkdir -p "$dir"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# piece NAME CHORD...: each chord (notes joined by '+') is plucked for 2 s
# and fades out; the piece is the chords in order, twice.
piece() {
	local out=$dir/$1.wav n=0 chord segs=()
	shift
	[[ -e $out ]] && return 0
	for chord in "$@" "$@"; do
		local notes=() note
		IFS=+ read -ra ns <<<"$chord"
		for note in "${ns[@]}"; do notes+=(pluck "$note"); done
		n=$((n + 1))
		sox -n -r 8000 -b 16 -c 1 "$tmp/$n.wav" synth 2 "${notes[@]}" remix - fade 0.02 2 0.6 gain -n -14
		segs+=("$tmp/$n.wav")
	done
	sox "${segs[@]}" -r 8000 -b 16 -c 1 "$out"
	echo "moh-default: wrote $out"
}

piece 01-morning C4+E4+G4 A3+C4+E4 F3+A3+C4 G3+B3+D4
piece 02-afternoon D4+F4+A4 G3+B3+D4 C4+E4+G4 A3+C4+E4
piece 03-evening F3+A3+C4 C4+E4+G4 D4+F4+A4 G3+B3+D4
