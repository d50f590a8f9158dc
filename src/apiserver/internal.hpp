// Shared internals of the embedded API server (one Impl, several translation units):
// request parsing, object helpers, admission, watch sessions and background controllers.
#pragma once

#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <unordered_map>
#include <deque>
#include <condition_variable>

#include "audit.hpp"
#include "omed/api/kinds.hpp"
#include "omed/common/thread_pool.hpp"
#include "omed/apiserver/resources.hpp"
#include "omed/apiserver/server.hpp"
#include "omed/apiserver/status.hpp"
#include "omed/apiserver/store.hpp"
#include "omed/http/server.hpp"
#include "omed/log/logger.hpp"

namespace omed::metrics {
class Registry;
class Counter;
template <class M>
class Family;
}  // namespace omed::metrics

namespace omed::apiserver {

class WatchSession;

// A parsed API request.
struct ApiRequest {
  std::shared_ptr<http::Exchange> ex;
  std::string verb;  // get list watch create update patch delete deletecollection
  ResourcePtr rt;
  std::string group, version, plural;
  std::string ns, name, sub;
  std::map<std::string, std::string> q;
  bool table = false;
  bool pretty = false;
  bool dry_run = false;
  std::string field_manager;
  std::string field_validation;  // Strict | Warn | Ignore
  std::string user_agent;

  const http::Request& http() const { return ex->request(); }
  std::string param(const std::string& k, const std::string& def = {}) const {
    auto it = q.find(k);
    return it == q.end() ? def : it->second;
  }
  bool has(const std::string& k) const { return q.count(k) > 0; }
  std::string key() const { return ns.empty() ? name : ns + "/" + name; }
};

// A seeded, thread-safe source of fault decisions.
class FaultInjector {
public:
  void set(const FaultOptions& f);
  FaultOptions get() const;
  bool roll(double p);
  // Read on every watch event, so it is kept outside the lock; open watches see changes at once.
  double drop_watch() const { return drop_watch_.load(std::memory_order_relaxed); }

private:
  std::atomic<double> drop_watch_{0};
  mutable std::mutex mu_;
  FaultOptions opts_;
  std::mt19937_64 rng_{1};
};

struct ApiServer::Impl : std::enable_shared_from_this<ApiServer::Impl> {
  ApiServerOptions opts;
  Registry registry;
  std::unique_ptr<Store> store;
  std::unique_ptr<http::Server> http;
  // Requests run here, not on I/O threads: a durable write waits for its fsync.
  std::unique_ptr<ThreadPool> workers;
  std::unique_ptr<api::K8sSchemas> builtin_schemas;
  std::map<std::string, std::string> kind_components;  // "apps/v1/Deployment" -> component name
  std::string token;
  std::string ca_pem;
  std::string kubeconfig;
  FaultInjector faults;
  log::Logger log{"apiserver"};

  std::mutex rng_mu;
  std::mt19937_64 rng{std::random_device{}()};

  // Watch sessions, for bookmarks and timeouts.
  std::mutex watch_mu;
  std::set<std::shared_ptr<WatchSession>> watches;
  std::atomic<bool> running{false};
  std::thread housekeeper;
  std::thread controller;
  std::mutex ctl_mu;
  std::condition_variable ctl_cv;
  std::deque<StoreEvent> ctl_queue;
  std::unique_ptr<StoreListener> ctl_listener;
  uint64_t ctl_sub = 0;

  std::mutex admin_mu;
  std::vector<std::pair<std::string, ApiServer::AdminHandler>> admin_routes;

  metrics::Family<metrics::Counter>* req_counter = nullptr;
  AuditLog audit;

  // ---- lifecycle (server.cpp)
  void handle(std::shared_ptr<http::Exchange> ex);
  void handle_after_faults(std::shared_ptr<http::Exchange> ex);
  bool authorized(const http::Request& r) const;
  void respond(const ApiRequest& r, int code, const json::Value& body);
  void respond_json(const std::shared_ptr<http::Exchange>& ex, int code, const json::Value& body, bool pretty = false,
                    std::vector<http::Header> extra = {});
  void respond_error(const std::shared_ptr<http::Exchange>& ex, const ApiError& e);
  std::string new_uid();
  std::string random_suffix(size_t n);
  void bootstrap();

  // ---- discovery and OpenAPI (discovery.cpp)
  bool serve_discovery(const std::shared_ptr<http::Exchange>& ex);
  json::Value aggregated_discovery(bool core) const;
  json::Value openapi_root() const;
  std::optional<json::Value> openapi_doc(const std::string& gv) const;

  // ---- verbs (handlers.cpp)
  void dispatch(ApiRequest& r);
  void do_get(ApiRequest& r);
  void do_list(ApiRequest& r);
  void do_create(ApiRequest& r);
  void do_update(ApiRequest& r);
  void do_patch(ApiRequest& r);
  void do_delete(ApiRequest& r);
  void do_delete_collection(ApiRequest& r);
  void do_binding(ApiRequest& r);
  void do_scale(ApiRequest& r);

  // ---- object helpers and admission (objects.cpp)
  Store::Indexer indexer(const ResourceType& rt) const;
  void index_object(const ResourceType& rt, const json::Value& obj, StoredObject& out) const;
  std::optional<ApiError> admit(const ResourceType& rt, json::Value& obj, const json::Value* old, ApiRequest* r,
                                std::vector<std::string>& warnings);
  std::optional<ApiError> check_namespace(const ResourceType& rt, const std::string& ns, bool creating);
  void prepare_create(const ResourceType& rt, json::Value& obj);
  bool spec_changed(const ResourceType& rt, const json::Value& a, const json::Value& b) const;
  json::Value to_table(const ResourceType& rt, const std::vector<json::Value>& objs, bool headers,
                       const std::string& rv, const std::string& cont) const;
  // core/v1 <-> events.k8s.io/v1 (one storage, two views).
  json::Value event_to_events_v1(const json::Value& core) const;
  json::Value event_from_events_v1(const json::Value& ev) const;
  const ResourceType* storage_type(const ResourceType& rt) const;  // events.k8s.io -> core events
  ResourcePtr core_events;

  // Internal writes used by controllers and in-process callers (no HTTP).
  struct WriteOutcome {
    bool ok = false;
    bool deleted = false;  // the object is gone (not just marked for deletion)
    ApiError error;
    json::Value object;
  };
  WriteOutcome delete_object(const ResourceType& rt, const std::string& key, const std::string& propagation,
                             std::optional<int64_t> grace, const std::string& pre_uid, const std::string& pre_rv,
                             bool dry_run);
  bool finish_update(ApiRequest& r, const ResourceType& st, const StoredObject& cur, const json::Value& old,
                     json::Value obj, const std::string& manager, bool apply_managed);
  bool events_is_v1(const ResourceType& rt) const;
  WriteOutcome internal_delete(const ResourceType& rt, const std::string& key, const std::string& propagation);
  WriteOutcome internal_update(const ResourceType& rt, const std::string& key,
                               const std::function<bool(json::Value& obj)>& mutate);

  // ---- watch (watch.cpp)
  void do_watch(ApiRequest& r);
  void housekeeping_loop();

  // ---- controllers (controllers.cpp): CRDs, garbage collection, namespace deletion
  void start_controllers();
  void stop_controllers();
  void controller_loop();
  void register_crd(const json::Value& crd);
  // uid -> (resource id, key) of every live object, and owner uid -> dependents, for the GC.
  std::unordered_map<std::string, std::pair<std::string, std::string>> gc_objects;
  std::unordered_map<std::string, std::set<std::pair<std::string, std::string>>> gc_dependents;
  void gc_observe(const StoreEvent& ev);
  void gc_handle(const StoreEvent& ev);
  void namespace_handle(const StoreEvent& ev);
  void crd_handle(const StoreEvent& ev);
  void requeue_waiters(const StoreEvent& ev);
  // Resolved OpenAPI schemas of built-in kinds (when --builtin-schemas is given), by component.
  mutable std::mutex schema_mu;
  mutable std::map<std::string, json::Value> builtin_schema_cache;
  const json::Value* builtin_schema(const ResourceType& rt) const;
  std::atomic<uint32_t> next_cluster_ip{10};
};

// Parses a URL path into group/version/resource/namespace/name/subresource; false if it is not
// an API path.
bool parse_api_path(const std::string& path, ApiRequest& r);

std::string now_rfc3339();

}  // namespace omed::apiserver
