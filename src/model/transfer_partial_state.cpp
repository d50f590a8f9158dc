// Encoding of the persisted partial-download state. A line-oriented text format: easy to inspect
// while debugging a stuck download, and a final "end" line rejects files cut short.
#include "omed/model/transfer/partial_state.hpp"

#include <openssl/evp.h>

#include <charconv>
#include <fstream>
#include <sstream>

#include "omed/model/transfer/durable_io.hpp"
#include "omed/model/transfer/file_verifier.hpp"

namespace omed::model::transfer {

namespace {
constexpr const char* kMagic = "omed-partial 2";

bool parse_u64(const std::string& s, uint64_t& out) {
  auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size() && !s.empty();
}
}  // namespace

std::string PartialState::encode() const {
  std::string out = kMagic;
  out += "\nsize " + std::to_string(size);
  out += "\nsha256 " + sha256;
  out += "\nlisting-etag " + listing_etag;
  out += "\nserver-etag " + server_etag;
  out += "\nboot " + boot_id;
  out += "\ndurable " + durable.to_string();
  out += "\nwritten " + written.to_string();
  out += "\nend\n";
  return out;
}

bool PartialState::decode(const std::string& text, PartialState& out) {
  std::istringstream in(text);
  std::string line;
  if (!std::getline(in, line) || line != kMagic)
    return false;
  PartialState st;
  bool have_size = false, have_durable = false, have_written = false, ended = false;
  while (std::getline(in, line)) {
    if (line == "end") {
      ended = true;
      break;
    }
    auto sp = line.find(' ');
    std::string key = line.substr(0, sp);
    std::string value = sp == std::string::npos ? "" : line.substr(sp + 1);
    if (key == "size") {
      if (!parse_u64(value, st.size))
        return false;
      have_size = true;
    } else if (key == "sha256") {
      st.sha256 = value;
    } else if (key == "listing-etag") {
      st.listing_etag = value;
    } else if (key == "server-etag") {
      st.server_etag = value;
    } else if (key == "boot") {
      st.boot_id = value;
    } else if (key == "durable") {
      if (!RangeMap::parse(value, st.durable))
        return false;
      have_durable = true;
    } else if (key == "written") {
      if (!RangeMap::parse(value, st.written))
        return false;
      have_written = true;
    } else {
      return false;
    }
  }
  if (!ended || !have_size || !have_durable || !have_written)
    return false;
  // Claims beyond the end of the file mean the state belongs to something else.
  for (auto* m : {&st.durable, &st.written}) {
    auto spans = m->spans();
    if (!spans.empty() && spans.back().end > st.size)
      return false;
  }
  out = std::move(st);
  return true;
}

RangeMap PartialState::usable(const std::string& current_boot) const {
  RangeMap out = durable;
  if (!boot_id.empty() && boot_id == current_boot)
    for (auto& s : written.spans())
      out.add(s.begin, s.end);
  return out;
}

const std::string& current_boot_id() {
  static const std::string id = [] {
    std::ifstream f("/proc/sys/kernel/random/boot_id");
    std::string s;
    std::getline(f, s);
    return s;
  }();
  return id;
}

std::filesystem::path fast_state_path(const std::filesystem::path& fast_dir,
                                      const std::filesystem::path& state_path) {
  std::error_code ec;
  auto abs = std::filesystem::absolute(state_path, ec).lexically_normal().string();
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(abs.data(), abs.size(), md, &len, EVP_sha256(), nullptr);
  return fast_dir / (to_hex(md, 16) + ".state");
}

bool load_partial_state(const std::filesystem::path& path, PartialState& out) {
  std::ifstream f(path, std::ios::binary);
  if (!f)
    return false;
  std::ostringstream os;
  os << f.rdbuf();
  return PartialState::decode(os.str(), out);
}

std::string save_partial_state(const std::filesystem::path& path, const PartialState& state,
                               bool durable) {
  return write_file_atomically(path, state.encode(), durable);
}

}  // namespace omed::model::transfer
