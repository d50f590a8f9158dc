// The controller role assembled: client, applier, elector, one kind supervisor and one
// watch_stream per ome.io kind, and watch_streams for the objects omed owns, as root children.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "omed/actors/supervision.hpp"
#include "omed/k8s/config.hpp"
#include "omed/k8s/leader_election.hpp"
#include "omed/k8s/resource.hpp"
#include "omed/k8s/rest_client.hpp"

namespace omed::runtime {
class Readiness;
}

namespace omed::actors {

class KindDirectory;

// A kind watched only to learn from it (no writes): each object's events reach `on_object`, its
// deletion `on_deleted`. The agent watches its own Node this way, the controller the per-node
// model reports.
struct ObservedKind {
  k8s::ResourceInfo resource;
  std::string ns;               // "" = all namespaces (or cluster-scoped)
  std::string label_selector;
  std::string field_selector;
  std::function<void(const json::Value& object)> on_object;
  std::function<void(const std::string& key, const json::Value& last)> on_deleted;
};

struct ControllerOptions {
  k8s::RestConfig rest;
  k8s::ClientOptions client;                 // rate limits, timeouts
  bool leader_election = true;
  k8s::LeaderElectionOptions election;
  bool dry_run = false;
  std::string watch_namespace;               // "" = all namespaces
  std::vector<std::string> kinds;            // default: the eight ome.io kinds
  std::vector<k8s::ResourceInfo> owned;      // default: what omed renders (Deployments, Services, ...)
  std::string owned_selector = "app.kubernetes.io/managed-by=omed";
  // One observe-only actor per Node (never writes to it): the GPU inventory placement reads.
  bool watch_nodes = true;
  std::vector<ObservedKind> observed;
  // Builds each resource actor's reconciler; default: admission (Accepted condition) only.
  std::function<Reconciler(const std::string& kind, const std::string& key)> make_reconciler;
  // An object of one of `kinds` is gone from the API (after its finalizers).
  std::function<void(const std::string& kind, const std::string& key, const json::Value& last)> on_deleted;
  // Shared actors started after the applier and before the kinds (the scorer).
  std::vector<ChildSpec> shared_children;
  // Prefixes every child's name (several agents in one standalone process).
  std::string name_prefix;
  SupervisorOptions supervision;
  metrics::Registry* metrics = nullptr;
  runtime::Readiness* readiness = nullptr;   // gates "watches" (all synced) and "leader"
  std::chrono::milliseconds watch_backoff_initial{800};
};

class Controller {
public:
  explicit Controller(ControllerOptions opts);
  ~Controller();
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  // The root supervisor's children for this role, in start order.
  std::vector<ChildSpec> children();

  bool is_leader() const;
  // Asks the resource actor of kind/key to reconcile again (something it reads changed).
  void requeue(const std::string& kind, const std::string& key);
  // Asks every resource actor of `kind` to reconcile again.
  void resync(const std::string& kind);
  KindDirectory& directory();
  const ControllerOptions& options() const;

  struct Impl;

private:
  std::shared_ptr<Impl> impl_;
};

// The resources omed creates for InferenceServices and BenchmarkJobs, watched to route their
// status back to the owner.
std::vector<k8s::ResourceInfo> default_owned_resources();

}  // namespace omed::actors
