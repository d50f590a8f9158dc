// Kubernetes protobuf request bodies (application/vnd.kubernetes.protobuf) decoded into the JSON
// object model, so that kubectl's typed generators (`kubectl create configmap|secret|...`) work.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "omed/common/json.hpp"

namespace omed::apiserver {

// Why a body was refused. The API server answers `malformed` with 400 BadRequest (the bytes are
// not a well-formed `k8s\0` + runtime.Unknown envelope, or the object's protobuf is broken) and
// `unsupported` with 415 UnsupportedMediaType (well-formed, but a kind or a populated field this
// decoder has no table for: better refused than silently dropped).
enum class ProtobufFailure { none, malformed, unsupported };

// Decodes `body` (magic `k8s\0`, then runtime.Unknown{typeMeta, raw, contentEncoding,
// contentType}) into the JSON a Go client would have sent for the same object: kind and
// apiVersion from the envelope, omitempty fields left out, pointer fields kept even when zero,
// bytes as base64, Time as RFC 3339. Unknown fields are skipped, except populated ones inside
// the messages covered only in part (PodSpec, Container, JobSpec, ...), which are refused.
// On failure `out` is left untouched, `error` says what is wrong (naming the field path), and
// `failure` (when given) tells malformed from unsupported. Never throws on hostile input.
bool decode_k8s_protobuf(std::string_view body, json::Value& out, std::string& error,
                         ProtobufFailure* failure = nullptr);

// "apiVersion/Kind" of every kind the decoder has a table for (for error messages and tests).
std::vector<std::string> protobuf_kinds();

}  // namespace omed::apiserver
