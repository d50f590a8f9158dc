// Parse pods by Job, fed by the controller's pod watch. Pods are found through their controlling
// Job (ownerReferences), which both Kubernetes and the simulated Job controller set.
#include "omed/controller/parse_pods.hpp"

namespace omed::controller {

namespace {

std::string text_at(const json::Value& v, const char* path) {
  const json::Value* p = v.at_path(path);
  return p && p->is_string() ? p->as_string() : std::string();
}

// "ns/job" of the pod's controlling Job, "" when it has none.
std::string job_key(const json::Value& pod) {
  OwnerRef o = controller_of(pod);
  if (o.kind != "Job" || o.name.empty())
    return "";
  return text_at(pod, "metadata.namespace") + "/" + o.name;
}

bool same(const ParsePod& a, const ParsePod& b) {
  return a.phase == b.phase && a.terminated == b.terminated && a.exit_code == b.exit_code && a.reason == b.reason &&
         a.message == b.message && a.finished_at == b.finished_at && a.waiting == b.waiting;
}

}  // namespace

std::optional<std::pair<std::string, std::string>> parse_pod_model(const json::Value& pod) {
  const json::Value* a = pod.at_path("metadata.annotations");
  const json::Value* v = a && a->is_object() ? a->get(kParseModelAnnotation) : nullptr;
  if (!v || !v->is_string())
    return std::nullopt;
  const std::string& s = v->as_string();
  auto slash = s.find('/');
  if (slash == std::string::npos)
    return std::nullopt;
  std::string kind = s.substr(0, slash);
  if (kind != "BaseModel" && kind != "ClusterBaseModel")
    return std::nullopt;
  return std::make_pair(kind, s.substr(slash + 1));
}

ParsePods::Wake ParsePods::update(const json::Value& pod) {
  std::string jk = job_key(pod);
  auto model = parse_pod_model(pod);
  if (jk.empty() || !model)
    return std::nullopt;
  ParsePod p = parse_pod_from(pod);
  std::lock_guard<std::mutex> lk(mu_);
  auto& pods = by_job_[jk];
  auto it = pods.find(p.name);
  if (it != pods.end() && same(it->second, p))
    return std::nullopt;
  pods[p.name] = std::move(p);
  return model;
}

ParsePods::Wake ParsePods::remove(const json::Value& last) {
  std::string jk = job_key(last);
  auto model = parse_pod_model(last);
  std::lock_guard<std::mutex> lk(mu_);
  auto it = by_job_.find(jk);
  if (it == by_job_.end())
    return std::nullopt;
  it->second.erase(text_at(last, "metadata.name"));
  if (it->second.empty())
    by_job_.erase(it);
  // A finished parse's facts are kept in the model's status: losing the pod changes nothing there.
  return model;
}

std::vector<ParsePod> ParsePods::for_job(const std::string& ns, const std::string& job) const {
  std::lock_guard<std::mutex> lk(mu_);
  std::vector<ParsePod> out;
  auto it = by_job_.find(ns + "/" + job);
  if (it != by_job_.end())
    for (auto& [name, p] : it->second)
      out.push_back(p);
  return out;
}

}  // namespace omed::controller
