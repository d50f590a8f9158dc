// The simulated components' client: real API requests (auth, admission, audit, watch) served by
// the embedded API server in-process, so the simulation writes exactly as kubelets and controllers do.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "omed/common/json.hpp"

namespace omed::apiserver {
class ApiServer;
}

namespace omed::apiserver::sim {

struct ApiResult {
  int code = 0;
  json::Value body;  // the object, a list or a Status
  bool ok() const { return code >= 200 && code < 300; }
  std::string message() const;  // the Status message (or the code) for logs
};

// An open watch; closing it (or destroying it) ends the stream.
class LocalWatch {
public:
  virtual ~LocalWatch() = default;
  virtual void close() = 0;
};

class LocalClient {
public:
  // `agent` is the User-Agent and the field manager of every write (e.g. "kubelet").
  LocalClient(ApiServer& server, std::string agent);

  ApiResult get(const std::string& path);
  ApiResult create(const std::string& collection_path, const json::Value& obj);
  ApiResult update(const std::string& path, const json::Value& obj);
  ApiResult merge_patch(const std::string& path, const json::Value& patch);
  // grace -1: the object's default; `uid`: only if the object still is that one (a name is reused).
  ApiResult remove(const std::string& path, int64_t grace_seconds = -1, const std::string& uid = "");

  // Calls `on_line` with each watch event line (type and object JSON) on a server thread, and
  // `on_close` once when the stream ends for any reason. Both must only queue work.
  std::unique_ptr<LocalWatch> watch(const std::string& path_and_query,
                                    std::function<void(std::string line)> on_line, std::function<void()> on_close);

  ApiResult call(const std::string& method, const std::string& target, const std::string& body,
                 const std::string& content_type);

private:
  ApiServer& server_;
  std::string agent_;
};

}  // namespace omed::apiserver::sim
