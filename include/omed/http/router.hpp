// Request routing by method and path (exact or prefix) for omed's operational endpoints, with a
// request counter per route and status code. No Beast here.
#pragma once

#include <string>
#include <vector>

#include "omed/http/server.hpp"

namespace omed::metrics {
class Registry;
}

namespace omed::http {

class Router {
public:
  explicit Router(metrics::Registry* metrics = nullptr);

  // `path` is matched exactly, or as a prefix when it ends with '*'. Method "" matches any.
  Router& add(std::string method, std::string path, std::string name, Handler h);
  // The handler to give the server.
  Handler handler();

private:
  struct Route {
    std::string method, path, name;
    bool prefix;
    Handler h;
  };
  std::vector<Route> routes_;
  metrics::Registry* metrics_;
};

}  // namespace omed::http
