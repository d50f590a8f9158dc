// Interval bookkeeping for resumable downloads. Kept free of I/O so that the persisted partial
// state and the scheduler share one well-tested notion of "which bytes are done".
#include "omed/model/transfer/range_map.hpp"

#include <charconv>

namespace omed::model::transfer {

void RangeMap::add(uint64_t begin, uint64_t end) {
  if (begin >= end)
    return;
  auto it = spans_.upper_bound(begin);
  // The hot path of a download: bytes appended right after a span, not reaching the next one.
  // Extending in place avoids a node allocation per received buffer.
  if (it != spans_.begin()) {
    auto prev = std::prev(it);
    if (prev->second == begin && (it == spans_.end() || it->first > end)) {
      prev->second = end;
      bytes_ += end - begin;
      return;
    }
  }
  // Otherwise absorb every span that overlaps or touches [begin, end).
  if (it != spans_.begin()) {
    auto prev = std::prev(it);
    if (prev->second >= begin)
      it = prev;
  }
  while (it != spans_.end() && it->first <= end) {
    begin = std::min(begin, it->first);
    end = std::max(end, it->second);
    bytes_ -= it->second - it->first;
    it = spans_.erase(it);
  }
  spans_.emplace(begin, end);
  bytes_ += end - begin;
}

bool RangeMap::covers(uint64_t begin, uint64_t end) const {
  if (begin >= end)
    return true;
  auto it = spans_.upper_bound(begin);
  if (it == spans_.begin())
    return false;
  --it;
  return it->first <= begin && it->second >= end;
}

uint64_t RangeMap::prefix_end() const {
  if (spans_.empty() || spans_.begin()->first != 0)
    return 0;
  return spans_.begin()->second;
}

std::vector<ByteSpan> RangeMap::missing(uint64_t size) const {
  std::vector<ByteSpan> out;
  uint64_t pos = 0;
  for (auto& [b, e] : spans_) {
    if (b >= size)
      break;
    if (b > pos)
      out.push_back({pos, b});
    pos = std::max(pos, e);
  }
  if (pos < size)
    out.push_back({pos, size});
  return out;
}

std::vector<ByteSpan> RangeMap::spans() const {
  std::vector<ByteSpan> out;
  out.reserve(spans_.size());
  for (auto& [b, e] : spans_)
    out.push_back({b, e});
  return out;
}

std::string RangeMap::to_string() const {
  std::string out;
  for (auto& [b, e] : spans_) {
    if (!out.empty())
      out += ',';
    out += std::to_string(b) + '-' + std::to_string(e);
  }
  return out;
}

bool RangeMap::parse(const std::string& text, RangeMap& out) {
  RangeMap m;
  const char* p = text.data();
  const char* end = p + text.size();
  uint64_t last_end = 0;
  bool first = true;
  while (p < end) {
    uint64_t b = 0, e = 0;
    auto r1 = std::from_chars(p, end, b);
    if (r1.ec != std::errc() || r1.ptr == end || *r1.ptr != '-')
      return false;
    auto r2 = std::from_chars(r1.ptr + 1, end, e);
    if (r2.ec != std::errc() || e <= b)
      return false;
    // Spans are written in order and never touch; anything else was not written by us.
    if (!first && b <= last_end)
      return false;
    m.spans_.emplace(b, e);
    m.bytes_ += e - b;
    last_end = e;
    first = false;
    p = r2.ptr;
    if (p < end) {
      if (*p != ',')
        return false;
      ++p;
      if (p == end)
        return false;
    }
  }
  out = std::move(m);
  return true;
}

std::vector<ByteSpan> split_spans(const std::vector<ByteSpan>& spans, uint64_t chunk) {
  std::vector<ByteSpan> out;
  for (auto& s : spans) {
    if (chunk == 0 || s.length() <= chunk) {
      out.push_back(s);
      continue;
    }
    for (uint64_t b = s.begin; b < s.end; b += chunk)
      out.push_back({b, std::min(s.end, b + chunk)});
  }
  return out;
}

}  // namespace omed::model::transfer
