// The buffered, windowed reader behind every binary weight parser: small reads are served from a
// read-ahead window that grows while the parser streams and resets after a skip.
#include "byte_cursor.hpp"

#include <algorithm>
#include <cstring>

namespace omed::model::detail {

ByteCursor::ByteCursor(ByteSource& src, uint64_t begin, uint64_t end, const WeightLimits& lim)
  : src_(src), lim_(lim), pos_(begin), end_(std::min(end, src.size())),
    window_(std::max<uint64_t>(lim.min_read_window, 16)) {
  if (pos_ > end_)
    pos_ = end_;
}

bool ByteCursor::fail(std::string msg) {
  if (error_.empty())
    error_ = std::move(msg);
  return false;
}

uint64_t ByteCursor::push_end(uint64_t new_end) {
  uint64_t old = end_;
  if (new_end > end_ || new_end < pos_)
    fail("nested length runs past its enclosing record at offset " + std::to_string(pos_));
  else
    end_ = new_end;
  return old;
}

bool ByteCursor::ensure(uint64_t n) {
  if (!ok())
    return false;
  if (n > end_ - pos_)
    return fail("truncated: need " + std::to_string(n) + " bytes at offset " + std::to_string(pos_) +
                ", " + std::to_string(end_ - pos_) + " left in " + src_.name());
  if (pos_ >= buf_start_ && pos_ + n <= buf_start_ + buf_.size())
    return true;
  // Streaming straight on from the previous window: read further ahead next time.
  bool sequential = !buf_.empty() && pos_ == buf_start_ + buf_.size();
  uint64_t max_window = std::max(lim_.max_read_window, lim_.min_read_window);
  if (sequential)
    window_ = std::min(window_ * 2, max_window);
  else
    window_ = std::max<uint64_t>(lim_.min_read_window, 16);
  // Never read past the readable end of the source (not just of a nested record).
  uint64_t want = std::max(n, window_);
  uint64_t avail = src_.size() - pos_;
  want = std::min(want, avail);
  std::string err = src_.read(pos_, want, buf_);
  if (!err.empty()) {
    buf_.clear();
    return fail(err);
  }
  buf_start_ = pos_;
  return true;
}

uint8_t ByteCursor::u8() {
  if (!ensure(1))
    return 0;
  uint8_t v = static_cast<uint8_t>(buf_[pos_ - buf_start_]);
  pos_ += 1;
  return v;
}

uint16_t ByteCursor::u16() {
  if (!ensure(2))
    return 0;
  const unsigned char* p = reinterpret_cast<const unsigned char*>(buf_.data() + (pos_ - buf_start_));
  pos_ += 2;
  return static_cast<uint16_t>(p[0] | (p[1] << 8));
}

uint32_t ByteCursor::u32() {
  if (!ensure(4))
    return 0;
  const unsigned char* p = reinterpret_cast<const unsigned char*>(buf_.data() + (pos_ - buf_start_));
  pos_ += 4;
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) | (static_cast<uint32_t>(p[2]) << 16) |
         (static_cast<uint32_t>(p[3]) << 24);
}

uint64_t ByteCursor::u64() {
  uint64_t lo = u32();
  uint64_t hi = u32();
  return lo | (hi << 32);
}

uint64_t ByteCursor::varint() {
  uint64_t v = 0;
  for (int shift = 0; shift < 70; shift += 7) {
    uint8_t b = u8();
    if (!ok())
      return 0;
    if (shift == 63 && b > 1) {
      fail("varint overflows 64 bits at offset " + std::to_string(pos_));
      return 0;
    }
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80))
      return v;
  }
  fail("varint longer than 10 bytes at offset " + std::to_string(pos_));
  return 0;
}

std::string ByteCursor::bytes(uint64_t n) {
  if (!ok())
    return {};
  if (n > end_ - pos_) {
    fail("truncated: a field of " + std::to_string(n) + " bytes at offset " + std::to_string(pos_) +
         " runs past the end (" + std::to_string(end_ - pos_) + " left)");
    return {};
  }
  // Big reads go straight to the source instead of through (and evicting) the window.
  if (n > std::max(lim_.max_read_window, lim_.min_read_window) &&
      !(pos_ >= buf_start_ && pos_ + n <= buf_start_ + buf_.size())) {
    std::string out;
    std::string err = src_.read(pos_, n, out);
    if (!err.empty()) {
      fail(err);
      return {};
    }
    pos_ += n;
    return out;
  }
  if (!ensure(n))
    return {};
  std::string out = buf_.substr(pos_ - buf_start_, n);
  pos_ += n;
  return out;
}

void ByteCursor::skip(uint64_t n) {
  if (!ok())
    return;
  if (n > end_ - pos_) {
    fail("truncated: skipping " + std::to_string(n) + " bytes at offset " + std::to_string(pos_) +
         " runs past the end (" + std::to_string(end_ - pos_) + " left)");
    return;
  }
  pos_ += n;
}

std::string ByteCursor::line(uint64_t max_len) {
  std::string out;
  while (ok()) {
    uint8_t c = u8();
    if (!ok())
      break;
    if (c == '\n')
      return out;
    if (out.size() >= max_len) {
      fail("text line longer than " + std::to_string(max_len) + " bytes at offset " + std::to_string(pos_));
      break;
    }
    out.push_back(static_cast<char>(c));
  }
  return {};
}

}  // namespace omed::model::detail
