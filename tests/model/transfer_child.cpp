// A tiny driver around TransferEngine for tests that must kill a download mid-flight: it
// fetches one file given on the command line and exits 0 when the file is in place.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "omed/model/transfer.hpp"

int main(int argc, char** argv) {
  omed::model::RemoteFile f;
  std::string dest;
  omed::model::TransferOptions opts;
  opts.progress_interval = std::chrono::milliseconds(500);
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--url")
      f.url = v;
    else if (k == "--path")
      f.path = v;
    else if (k == "--size")
      f.size = std::stoull(v);
    else if (k == "--sha256")
      f.sha256 = v;
    else if (k == "--dest")
      dest = v;
    else if (k == "--store")
      opts.content_store_dir = v;
    else if (k == "--max-per-host")
      opts.max_per_host = std::stoi(v);
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return 2;
    }
  }
  if (f.url.empty() || f.path.empty() || dest.empty()) {
    std::fprintf(stderr, "usage: transfer_child --url U --path P --dest D [--size N] [--sha256 H]\n");
    return 2;
  }
  omed::model::TransferEngine engine(opts);
  auto rep = engine.run({f}, dest, nullptr, nullptr, [](const omed::model::TransferProgress& p) {
    std::printf("progress %llu/%llu bytes %.1f MiB/s\n", static_cast<unsigned long long>(p.bytes_done),
                static_cast<unsigned long long>(p.bytes_total), p.bytes_per_second / (1 << 20));
    std::fflush(stdout);
  });
  std::printf("result ok=%d fetched=%llu resumed=%llu seconds=%.2f error=%s\n", rep.ok ? 1 : 0,
              static_cast<unsigned long long>(rep.bytes_fetched),
              static_cast<unsigned long long>(rep.files.empty() ? 0 : rep.files[0].bytes_resumed), rep.seconds,
              rep.error.c_str());
  return rep.ok ? 0 : 1;
}
