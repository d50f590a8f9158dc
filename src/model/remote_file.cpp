// Validation of remote file names before any byte touches the disk.
#include "omed/model/remote_file.hpp"

namespace omed::model {

std::string check_remote_path(std::string_view path) {
  if (path.empty()) return "empty file name";
  if (path.size() > 4096) return "file name longer than 4096 bytes";
  if (path.front() == '/') return "absolute file name '" + std::string(path) + "'";
  for (unsigned char c : path) {
    if (c == 0) return "file name contains a NUL byte";
    if (c == '\\') return "file name '" + std::string(path) + "' contains a backslash";
    if (c < 0x20 || c == 0x7f) return "file name contains a control character";
  }
  // Every segment: no "", ".", ".." (a//b and a/./b are not what a listing should contain).
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view seg = path.substr(start, end - start);
    if (seg.empty()) return "file name '" + std::string(path) + "' has an empty segment";
    if (seg == "..") return "file name '" + std::string(path) + "' escapes the model directory ('..')";
    if (seg == ".") return "file name '" + std::string(path) + "' has a '.' segment";
    start = end + 1;
  }
  return {};
}

}  // namespace omed::model
