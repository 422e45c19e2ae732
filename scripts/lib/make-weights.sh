#!/usr/bin/env bash
# Generates a small, deterministic model release in the Hugging Face layout (config, tokenizer,
# two safetensors shards with a valid header, an index). Usage:
#   make-weights.sh DIR [SHARD_MIB] [SEED]
# Same arguments -> same bytes, so releases and info-hashes are reproducible.
set -euo pipefail
dir=$1
mib=${2:-8}
seed=${3:-weightsd-demo}
mkdir -p "$dir"

# Deterministic pseudo-random bytes: AES-CTR keystream keyed by the seed.
stream() { # stream NAME BYTES
  local key iv
  key=$(printf '%s/%s' "$seed" "$1" | sha256sum | cut -c1-32)
  iv=$(printf '%s/%s/iv' "$seed" "$1" | sha256sum | cut -c1-32)
  # openssl dies of SIGPIPE when head has enough; that is expected.
  (set +o pipefail; openssl enc -aes-128-ctr -K "$key" -iv "$iv" -nosalt </dev/zero 2>/dev/null | head -c "$2")
}

le64() { # little-endian 8-byte encoding of $1
  local n=$1 i out=""
  for i in 0 1 2 3 4 5 6 7; do out+=$(printf '\\x%02x' $(((n >> (8 * i)) & 255))); done
  printf "$out"
}

safetensors() { # safetensors FILE TENSOR_NAME BYTES
  local file=$1 name=$2 bytes=$3 floats=$(($3 / 4)) header
  header=$(printf '{"%s":{"dtype":"F32","shape":[%d],"data_offsets":[0,%d]},"__metadata__":{"format":"pt"}}' \
    "$name" "$floats" "$bytes")
  while (((${#header} % 8) != 0)); do header+=" "; done
  { le64 "${#header}"; printf '%s' "$header"; stream "$name" "$bytes"; } >"$file"
}

shard1=$((mib * 1024 * 1024))
shard2=$((mib * 1024 * 1024 / 2 + 12345))
safetensors "$dir/model-00001-of-00002.safetensors" model.layers.0.weight "$((shard1 - shard1 % 4))"
safetensors "$dir/model-00002-of-00002.safetensors" model.layers.1.weight "$((shard2 - shard2 % 4))"
cat >"$dir/config.json" <<JSON
{
  "architectures": ["DemoForCausalLM"],
  "model_type": "demo",
  "hidden_size": 64,
  "num_hidden_layers": 2,
  "torch_dtype": "float32",
  "seed": "$seed"
}
JSON
printf '{\n  "bos_token_id": 1,\n  "eos_token_id": 2\n}\n' >"$dir/generation_config.json"
printf '{"version":"1.0","model":{"type":"BPE","vocab":{"<s>":1,"</s>":2}}}\n' >"$dir/tokenizer.json"
cat >"$dir/model.safetensors.index.json" <<JSON
{
  "metadata": {"total_size": $((shard1 + shard2))},
  "weight_map": {
    "model.layers.0.weight": "model-00001-of-00002.safetensors",
    "model.layers.1.weight": "model-00002-of-00002.safetensors"
  }
}
JSON
