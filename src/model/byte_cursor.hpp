// A forward reader over a ByteSource range with a sticky error: parsers of binary headers read
// little-endian values and strings through it, and skip payloads without fetching them.
#pragma once

#include <cstdint>
#include <string>

#include "omed/model/byte_source.hpp"
#include "omed/model/weight_formats.hpp"

namespace omed::model::detail {

class ByteCursor {
public:
  // Reads [begin, end) of `src`; `end` is clipped to the source size.
  ByteCursor(ByteSource& src, uint64_t begin, uint64_t end, const WeightLimits& lim);

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  // Records the first error only (later ones are consequences); returns false for chaining.
  bool fail(std::string msg);

  uint64_t pos() const { return pos_; }
  uint64_t end() const { return end_; }
  uint64_t remaining() const { return end_ - pos_; }
  bool at_end() const { return pos_ >= end_; }

  // Narrows the readable end (nested protobuf messages); returns the previous end so the caller
  // can restore it. A new end beyond the current one is an error.
  uint64_t push_end(uint64_t new_end);
  void pop_end(uint64_t old_end) { end_ = old_end; }

  // Each returns 0 / empty after an error (and sets it on a short read).
  uint8_t u8();
  uint16_t u16();
  uint32_t u32();
  uint64_t u64();
  uint64_t varint();   // protobuf base-128, at most 10 bytes
  // n bytes; refuses (without allocating) when n exceeds what remains.
  std::string bytes(uint64_t n);
  // Moves forward without fetching the skipped bytes.
  void skip(uint64_t n);
  // Bytes up to the next '\n' (consumed, not returned); an error past max_len bytes. Pickle's
  // text opcodes (GLOBAL, INT, PUT) are lines.
  std::string line(uint64_t max_len);

private:
  bool ensure(uint64_t n);

  ByteSource& src_;
  const WeightLimits& lim_;
  uint64_t pos_;
  uint64_t end_;
  std::string buf_;
  uint64_t buf_start_ = 0;
  uint64_t window_;
  std::string error_;
};

}  // namespace omed::model::detail
