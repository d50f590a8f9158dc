#!/usr/bin/env bash
# Coverage-guided fuzzing of every target with clang's libFuzzer (ASan + UBSan), from the seed
# corpora in tests/fuzz/corpus. Usage: tests/fuzz/run.sh [SECONDS_PER_TARGET] (default 60).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
secs="${1:-60}"
out="$root/build-fuzz"
mkdir -p "$out"
# RapidJSON's stack does pointer arithmetic on null (harmless, upstream): keep UBSan out of it.
printf 'src:*/rapidjson/*\n' > "$out/ubsan-ignore.txt"
flags=(-std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
       -fsanitize-ignorelist="$out/ubsan-ignore.txt" -I "$root/include")
common=("$root/src/common/json.cpp" "$root/src/common/yaml.cpp")
build() {  # name sources...
  local name="$1"; shift
  clang++ "${flags[@]}" "$root/tests/fuzz/fuzz_$name.cpp" "$@" -o "$out/fuzz_$name" -lyaml-cpp -lpthread -lssl -lcrypto
}
build request "${common[@]}" "$root/src/apiserver/"{resources,status,path}.cpp "$root/src/api/"{crd,validation,field_error}.cpp \
  "$root/src/schema/validator.cpp" "$root/src/model/storage_uri.cpp" "$root/src/http/url.cpp" "$root/src/log/logger.cpp" \
  "$root/src/apiserver/table.cpp"
build patch "${common[@]}" "$root/src/apiserver/patch.cpp" "$root/src/apiserver/apply.cpp"
build selectors "${common[@]}" "$root/src/apiserver/selectors.cpp" "$root/src/apiserver/table.cpp"
build journal "$root/src/apiserver/journal.cpp"
build protobuf "${common[@]}" "$root/src/apiserver/protobuf.cpp"
# Weight-file parsers: the model library's parsing sources only (no network code).
weights=("$root/src/common/json.cpp" "$root/src/model/remote_file.cpp")
for f in byte_source byte_cursor weight_summary weight_detect safetensors gguf onnx zip_reader pickle_machine \
         torch_tensors pytorch_zip pytorch_pickle tensorrt_engine weight_dir; do
  weights+=("$root/src/model/$f.cpp")
done
for t in safetensors gguf onnx pytorch; do
  build "$t" "${weights[@]}"
done
export UBSAN_OPTIONS="suppressions=$root/tests/support/ubsan.supp:print_stacktrace=1"
for t in request patch selectors journal protobuf safetensors gguf onnx pytorch; do
  corpus="$out/corpus-$t"
  mkdir -p "$corpus"
  cp -n "$root/tests/fuzz/corpus/$t/"* "$corpus/" 2>/dev/null || true
  echo "== fuzz_$t for ${secs}s"
  "$out/fuzz_$t" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 "$corpus" 2>&1 | tail -3
done
