#!/usr/bin/env bash
# Bad inputs and faults against the CLI and the project store, as a user would meet them.
# Prints a Markdown table: case, exit code, what the user sees. Needs python3-sklearn (the
# sklearn-digits dataset); the disk-full and read-only cases need root (tmpfs mounts) and
# are skipped otherwise. Usage: bash scripts/store-faults.sh [workdir]
set -u
cd "$(dirname "$0")/.."
W=${1:-$(mktemp -d /tmp/pb-faults-XXXX)}
mkdir -p "$W"
PB=(node --import tsx src/cli/main.ts)
row() { # case, exit, output
  local msg
  # The error line when there is one, else the first line of output.
  msg=$( { printf '%s\n' "$3" | grep -m1 '^error:' || printf '%s\n' "$3" | grep -v '^\s*$' | head -n 1; } | cut -c1-220 | sed 's/|/\\|/g')
  printf '| %s | %s | %s |\n' "$1" "$2" "$msg"
}
run() { # case, command...
  local name=$1; shift
  local out code
  out=$("$@" 2>&1); code=$?
  row "$name" "$code" "$out"
}
fresh() { # a project with one trained task, copied from the template
  rm -rf "$1"; mkdir -p "$(dirname "$1")"; cp -r "$W/template" "$1"
}

"${PB[@]}" train "$W/template" --task digits --dataset sklearn-digits --epochs 1 --train-per-class 20 --test-limit 100 --backend wasm >/dev/null 2>&1 \
  || { echo "could not train the template project"; exit 1; }
echo '| case | exit | what the user sees |'
echo '|---|---|---|'

P=$W/p1/a/proj; mkdir -p "$W/p1"; fresh "$P"; mkdir -p "$W/p1/victim" && echo keep > "$W/p1/victim/keep"
python3 - "$P/piggyback.json" '../../victim' <<'EOF'
import json, sys; j = json.load(open(sys.argv[1])); j['tasks'].append(sys.argv[2]); json.dump(j, open(sys.argv[1], 'w'))
EOF
run 'manifest lists "../../victim"; delete --task ../../victim' "${PB[@]}" delete "$P" --task ../../victim
row '  ... the victim folder afterwards' - "$(ls "$W/p1/victim")"
run '  ... baseline --task ../../victim' "${PB[@]}" baseline "$P" --task ../../victim --methods classifier --backend wasm

P=$W/p2/a/proj; mkdir -p "$W/p2"; fresh "$P"; mkdir -p "$W/p2/sibling"
python3 - "$P/piggyback.json" '../..' <<'EOF'
import json, sys; j = json.load(open(sys.argv[1])); j['tasks'].append(sys.argv[2]); json.dump(j, open(sys.argv[1], 'w'))
EOF
run 'manifest lists "../.."; delete --task ../..' "${PB[@]}" delete "$P" --task ../..
row '  ... the grandparent afterwards' - "$(ls "$W/p2")"

P=$W/p3; fresh "$P"; mv "$P/tasks" "$W/p3-elsewhere"; ln -s "$W/p3-elsewhere" "$P/tasks"
run 'tasks/ is a symlink; delete --task digits' "${PB[@]}" delete "$P" --task digits
row '  ... the link target afterwards' - "$(ls "$W/p3-elsewhere")"

P=$W/deeper/x/y/proj; mkdir -p "$W/deeper/x/y"; fresh "$P"
run 'project copied three folders deeper; eval' "${PB[@]}" eval "$P" --task digits --backend wasm

M=$W/mymodel; rm -rf "$M"; cp -r models/reference-cnn "$M"
P=$W/p4; fresh "$P"
run 'relink to a copy of the backbone outside the project' "${PB[@]}" relink "$P" --backbone "$M/model.json" --backend wasm
mv "$M" "$M-hidden"
run '  ... that copy moved away; stats' bash -c "${PB[*]} stats $P | grep -i missing"
run '  ... eval' "${PB[@]}" eval "$P" --task digits --backend wasm
run '  ... relink --backbone <moved copy>' "${PB[@]}" relink "$P" --backbone "$M-hidden/model.json" --backend wasm
run '  ... eval again' bash -c "${PB[*]} eval $P --task digits --backend wasm | head -n 1"
run '  ... relink to other weights (a random-weight CNN)' bash -c "node --import tsx -e \"require('./src/core/backend').initBackend('wasm').then(()=>require('./src/core/model/modelIO').saveLayersModelFile(require('./src/core/model/referenceCnn').buildReferenceCnn(7), '$W/other'))\" >/dev/null && ${PB[*]} relink $P --backbone $W/other/model.json --backend wasm"

P=$W/p5; fresh "$P"
python3 - "$P/tasks/digits/mask.bin" <<'EOF'
import sys; b = bytearray(open(sys.argv[1], 'rb').read()); b[-2] ^= 0x10; open(sys.argv[1], 'wb').write(b)
EOF
run 'a bit flipped near the end of mask.bin; stats' bash -c "${PB[*]} stats $P | grep -i damaged"

P=$W/p6; fresh "$P"
python3 - "$P/tasks/digits/task.json" <<'EOF'
import json, sys; j = json.load(open(sys.argv[1])); del j['options']; json.dump(j, open(sys.argv[1], 'w'))
EOF
run 'task.json without options; eval' "${PB[@]}" eval "$P" --task digits --backend wasm

P=$W/p7; fresh "$P"
python3 - "$P/tasks/digits/head.bin" "$P/tasks/digits/task.json" <<'EOF'
import json, sys, struct, hashlib
b = bytearray(open(sys.argv[1], 'rb').read()); b[0:4] = struct.pack('<f', float('nan')); open(sys.argv[1], 'wb').write(b)
j = json.load(open(sys.argv[2])); j['files']['head']['sha256'] = hashlib.sha256(b).hexdigest(); json.dump(j, open(sys.argv[2], 'w'))
EOF
run 'head.bin holds NaN (checksum updated to match); eval' "${PB[@]}" eval "$P" --task digits --backend wasm

D=$W/idx200; mkdir -p "$D"
python3 - "$D" <<'EOF'
import struct, sys, os
d = sys.argv[1]
def idx(name, dims, data, code):
    open(os.path.join(d, name), 'wb').write(struct.pack('>I', 0x800 | code) + b''.join(struct.pack('>I', x) for x in dims) + bytes(data))
idx('train-images-idx3-ubyte', [6, 28, 28], [0] * 6 * 784, 3); idx('train-labels-idx1-ubyte', [6], [0, 1, 0, 1, 0, 200], 1)
idx('t10k-images-idx3-ubyte', [2, 28, 28], [0] * 2 * 784, 3); idx('t10k-labels-idx1-ubyte', [2], [0, 1], 1)
EOF
P=$W/p8; fresh "$P"
run 'IDX label 200, no classes.txt; train' "${PB[@]}" train "$P" --task t200 --dataset "$D" --backend wasm
python3 - "$D" <<'EOF'
import struct, sys, os
d = sys.argv[1]
def idx(name, dims, data, code):
    open(os.path.join(d, name), 'wb').write(struct.pack('>I', 0x800 | code) + b''.join(struct.pack('>I', x) for x in dims) + bytes(data))
idx('train-images-idx3-ubyte', [0, 28, 28], [], 3); idx('train-labels-idx1-ubyte', [0], [], 1)
EOF
run 'IDX with 0 training images; train' "${PB[@]}" train "$P" --task t0 --dataset "$D" --backend wasm

run 'train into a new project with task "../x"' "${PB[@]}" train "$W/p9" --task ../x --dataset sklearn-digits --backend wasm
row '  ... folder p9 afterwards' - "$( [ -e "$W/p9" ] && echo exists || echo 'not created')"
echo x > "$W/a-file"
run 'init under a file (ENOTDIR)' "${PB[@]}" init "$W/a-file/proj" --backend wasm
P=$W/p10; fresh "$P"
run 'train --task DIGITS (case clash with digits)' "${PB[@]}" train "$P" --task DIGITS --dataset sklearn-digits --backend wasm

P=$W/p11; fresh "$P"
python3 - "$P" <<'EOF'
import json, sys, os
p = sys.argv[1]; j = json.load(open(os.path.join(p, 'piggyback.json'))); j['tasks'] = []; json.dump(j, open(os.path.join(p, 'piggyback.json'), 'w'))
EOF
run 'task folder complete but unlisted (kill before the manifest write); stats' bash -c "${PB[*]} stats $P 2>&1 | grep -m1 adopted"

if [ "$(id -u)" = 0 ] && mkdir -p "$W/full" && mount -t tmpfs -o size=700k tmpfs "$W/full" 2>/dev/null; then
  cp -r "$W/template" "$W/full/proj"
  head -c $(( $(df --output=avail -B1 "$W/full" | tail -n 1) - 4096 )) /dev/zero > "$W/full/filler" 2>/dev/null
  run 'disk full (tmpfs); train a second task' "${PB[@]}" train "$W/full/proj" --task second --dataset sklearn-digits --epochs 1 --train-per-class 10 --test-limit 50 --backend wasm
  row '  ... lock or temp files left' - "$(ls -a "$W/full/proj" "$W/full/proj/tasks" | tr '\n' ' ')"
  run '  ... eval of the first task afterwards' bash -c "${PB[*]} eval $W/full/proj --task digits --backend wasm | head -n 1"
  rm -f "$W/full/filler"
  mount -o remount,ro "$W/full"
  run 'read-only file system; train' "${PB[@]}" train "$W/full/proj" --task third --dataset sklearn-digits --epochs 1 --backend wasm
  run '  ... delete' "${PB[@]}" delete "$W/full/proj" --task digits
  run '  ... stats still work' bash -c "${PB[*]} stats $W/full/proj | head -n 1"
  umount "$W/full"
else
  row 'disk full / read-only' - 'skipped: needs root for tmpfs mounts'
fi
