// omectl: the operator's view into a running omed. This first command set explains runtime
// selection; it talks to the daemon's admin API with the admin bearer token.
#include <curl/curl.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "omed/common/json.hpp"

namespace json = omed::json;

namespace {

const char* kUsage = R"(usage: omectl [flags] explain NAMESPACE/NAME

Commands:
  explain NAMESPACE/NAME   why the InferenceService got its runtime: every runtime with its verdict,
                           score and reason

Flags:
  --server URL         the daemon's HTTP address (default $OMECTL_SERVER, or DATA_DIR/admin-url)
  --token-file FILE    the admin bearer token (default DATA_DIR/admin-token)
  --data-dir DIR       a standalone omed's data directory (finds both of the above)
  --output table|json  (default table)
  -h, --help

Exit codes: 0 done, 1 the daemon answered with an error (not found, invalid), 2 usage,
3 the daemon could not be reached or refused the token.
)";

std::string read_line(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::string line;
  std::getline(in, line);
  return line;
}

size_t collect(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

struct Reply {
  long status = 0;
  std::string body, error;
};

Reply get(const std::string& url, const std::string& token) {
  Reply r;
  CURL* c = curl_easy_init();
  if (!c) {
    r.error = "cannot initialise libcurl";
    return r;
  }
  std::string auth = "Authorization: Bearer " + token;
  curl_slist* headers = curl_slist_append(nullptr, auth.c_str());
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK)
    r.error = curl_easy_strerror(rc);
  else
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(c);
  return r;
}

std::string text(const json::Value& v, const char* key) { return v.string_or(key); }

// Fixed columns, the reason last and unbounded: a terminal wraps it, a pipe keeps it whole.
void print_table(const json::Value& out) {
  using json::Value;
  const Value* m = out.get("model");
  std::printf("InferenceService %s (%s)\n", text(out, "inferenceService").c_str(), text(out, "mode").c_str());
  if (m)
    std::printf("model %s: %s %s %s %s\n", text(*m, "key").c_str(), text(*m, "format").c_str(),
                text(*m, "formatVersion").c_str(), text(*m, "architecture").c_str(), text(*m, "size").c_str());
  if (const Value* c = out.get("chosen"))
    std::printf("chosen: %s %s\n", text(*c, "kind").c_str(), text(*c, "name").c_str());
  else
    std::printf("chosen: none\n");
  std::printf("\n%-13s %-22s %-32s %6s  %s\n", "VERDICT", "KIND", "NAME", "SCORE", "REASON");
  if (const Value* cs = out.get("candidates"); cs && cs->is_array())
    for (auto& c : cs->as_array()) {
      std::string name = text(c, "namespace").empty() ? text(c, "name") : text(c, "namespace") + "/" + text(c, "name");
      std::printf("%-13s %-22s %-32s %6lld  %s\n", text(c, "verdict").c_str(), text(c, "kind").c_str(), name.c_str(),
                  static_cast<long long>(c.get("score") && c.get("score")->is_int() ? c.get("score")->as_int() : 0),
                  text(c, "reason").c_str());
    }
  if (!text(out, "error").empty())
    std::printf("\n%s\n", text(out, "error").c_str());
}

}  // namespace

int main(int argc, char** argv) {
  std::string server, token_file, data_dir, output = "table";
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](std::string& into) {
      if (i + 1 >= argc) {
        std::cerr << "omectl: " << a << " needs a value\n";
        std::exit(2);
      }
      into = argv[++i];
    };
    if (a == "-h" || a == "--help") {
      std::cout << kUsage;
      return 0;
    } else if (a == "--server") {
      value(server);
    } else if (a == "--token-file") {
      value(token_file);
    } else if (a == "--data-dir") {
      value(data_dir);
    } else if (a == "--output" || a == "-o") {
      value(output);
    } else if (a.rfind("--", 0) == 0) {
      std::cerr << "omectl: unknown flag " << a << "\n" << kUsage;
      return 2;
    } else {
      args.push_back(a);
    }
  }
  if (output != "table" && output != "json") {
    std::cerr << "omectl: --output must be table or json\n";
    return 2;
  }
  if (args.size() != 2 || args[0] != "explain" || args[1].find('/') == std::string::npos) {
    std::cerr << kUsage;
    return 2;
  }
  if (server.empty())
    if (const char* env = std::getenv("OMECTL_SERVER"))
      server = env;
  if (!data_dir.empty()) {
    if (server.empty())
      server = read_line(std::filesystem::path(data_dir) / "admin-url");
    if (token_file.empty())
      token_file = (std::filesystem::path(data_dir) / "admin-token").string();
  }
  if (server.empty() || token_file.empty()) {
    std::cerr << "omectl: say where omed is: --server URL --token-file FILE, $OMECTL_SERVER, or --data-dir DIR\n";
    return 2;
  }
  std::string token = read_line(token_file);
  if (token.empty()) {
    std::cerr << "omectl: no token in " << token_file << "\n";
    return 3;
  }
  while (!server.empty() && server.back() == '/')
    server.pop_back();
  curl_global_init(CURL_GLOBAL_DEFAULT);
  auto r = get(server + "/admin/v1/explain/" + args[1], token);
  curl_global_cleanup();
  if (!r.error.empty()) {
    std::cerr << "omectl: cannot reach omed at " << server << ": " << r.error << "\n";
    return 3;
  }
  json::Value body;
  std::string err;
  json::try_parse(r.body, body, err);
  if (r.status == 401 || r.status == 403) {
    std::cerr << "omectl: omed refused the token from " << token_file << "\n";
    return 3;
  }
  if (r.status != 200) {
    std::cerr << "omectl: " << (body.is_object() ? body.string_or("error") : r.body) << " (HTTP " << r.status << ")\n";
    return 1;
  }
  if (output == "json")
    std::cout << json::pretty(body) << "\n";
  else
    print_table(body);
  return 0;
}
