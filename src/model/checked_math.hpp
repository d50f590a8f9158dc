// Overflow-checked unsigned arithmetic for sizes read from untrusted files: every product of
// dims and every offset sum goes through these, so a hostile header yields an error, not a wrap.
#pragma once

#include <cstdint>

namespace omed::model::detail {

// False on overflow (then `out` is unspecified).
inline bool checked_mul(uint64_t a, uint64_t b, uint64_t& out) { return !__builtin_mul_overflow(a, b, &out); }
inline bool checked_add(uint64_t a, uint64_t b, uint64_t& out) { return !__builtin_add_overflow(a, b, &out); }

// Rounds up to a power-of-two multiple `align`; false on overflow.
inline bool align_up(uint64_t v, uint64_t align, uint64_t& out) {
  if (!checked_add(v, align - 1, out))
    return false;
  out &= ~(align - 1);
  return true;
}

}  // namespace omed::model::detail
