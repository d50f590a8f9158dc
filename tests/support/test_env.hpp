// Helpers shared by omed's tests: where the shared reference data lives, temporary
// directories, and reading files. Tests never reach beyond loopback.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

namespace omed::testing {

// ../shared next to the checkout, or $OMED_SHARED_DIR.
inline std::filesystem::path shared_dir() {
  if (const char* env = std::getenv("OMED_SHARED_DIR"))
    return env;
#ifdef OMED_SOURCE_ROOT
  return std::filesystem::path(OMED_SOURCE_ROOT) / ".." / "shared";
#else
  return "../shared";
#endif
}

inline std::filesystem::path source_root() {
#ifdef OMED_SOURCE_ROOT
  return OMED_SOURCE_ROOT;
#else
  return ".";
#endif
}

// True when the shared data is present; prints a loud notice otherwise.
inline bool have_shared(const std::string& sub) {
  auto p = shared_dir() / sub;
  if (std::filesystem::exists(p))
    return true;
  std::cerr << "\n*** SKIPPING: shared test data not found at " << p.string()
            << " (set OMED_SHARED_DIR) ***\n\n";
  return false;
}

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f)
    throw std::runtime_error("cannot read " + p.string());
  std::ostringstream os;
  os << f.rdbuf();
  return os.str();
}

inline void write_file(const std::filesystem::path& p, const std::string& data) {
  std::filesystem::create_directories(p.parent_path());
  std::ofstream f(p, std::ios::binary);
  f << data;
}

class TempDir {
public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "omed-test-XXXXXX").string();
    if (!mkdtemp(tmpl.data()))
      throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

private:
  std::filesystem::path path_;
};

}  // namespace omed::testing
