// The set of byte ranges of a file that are already on disk: merged, ordered half-open
// intervals, with the queries a resumable download needs (holes to fetch, complete prefix).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace omed::model::transfer {

struct ByteSpan {
  uint64_t begin = 0;
  uint64_t end = 0;  // exclusive
  uint64_t length() const { return end - begin; }
  bool operator==(const ByteSpan&) const = default;
};

class RangeMap {
public:
  // Marks [begin, end) as present, merging with touching or overlapping spans.
  void add(uint64_t begin, uint64_t end);
  void clear() { spans_.clear(); bytes_ = 0; }

  uint64_t bytes() const { return bytes_; }
  bool empty() const { return spans_.empty(); }
  bool covers(uint64_t begin, uint64_t end) const;
  // End of the contiguous run that starts at byte 0 (0 when byte 0 is missing).
  uint64_t prefix_end() const;
  // The missing spans of a file of `size` bytes, in order.
  std::vector<ByteSpan> missing(uint64_t size) const;
  std::vector<ByteSpan> spans() const;

  // "a-b,c-d" (half-open, decimal); parse rejects overlaps, disorder and garbage.
  std::string to_string() const;
  static bool parse(const std::string& text, RangeMap& out);

private:
  std::map<uint64_t, uint64_t> spans_;  // begin -> end, disjoint and non-touching
  uint64_t bytes_ = 0;
};

// Splits each span into pieces of at most `chunk` bytes (the last piece of a span may be
// shorter); chunk 0 means no splitting.
std::vector<ByteSpan> split_spans(const std::vector<ByteSpan>& spans, uint64_t chunk);

}  // namespace omed::model::transfer
