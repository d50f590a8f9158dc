// The simulated kubelet's one real container: omed's own pvc:// parse Job, run as this binary in a
// child process with the claim's directory in place of its mount, its termination log read back.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "omed/common/strings.hpp"
#include "omed/controller/pvc_model.hpp"
#include "sim_impl.hpp"

namespace omed::apiserver::sim {

namespace fs = std::filesystem;

namespace {

std::string text_at(const json::Value& v, const char* path) {
  const json::Value* p = v.at_path(path);
  return p && p->is_string() ? p->as_string() : std::string();
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  if (from.empty())
    return;
  for (size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size()))
    s.replace(pos, from.size(), to);
}

struct ChildResult {
  int exit_code = -1;
  std::string reason;   // Completed | Error | DeadlineExceeded
  std::string message;  // the termination log, as the kubelet keeps it
};

// Runs `argv` with a bare environment (nothing of this process's credentials) and a deadline;
// the termination log is the file the child was told to write.
ChildResult run_child(std::vector<std::string> argv, const fs::path& log, std::chrono::milliseconds timeout,
                      const std::atomic<bool>& running) {
  ChildResult r;
  std::vector<char*> args;
  for (auto& a : argv)
    args.push_back(a.data());
  args.push_back(nullptr);
  std::string path_env = "PATH=/usr/local/bin:/usr/bin:/bin";
  std::string lang_env = "LANG=C.UTF-8";
  char* envp[] = {path_env.data(), lang_env.data(), nullptr};
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  // Nothing of this process (the API server's sockets, the journal) reaches the "container".
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, args[0], &fa, nullptr, args.data(), envp);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    r.exit_code = 128;
    r.reason = "StartError";
    r.message = std::string("cannot start ") + argv[0] + ": " + std::strerror(rc);
    return r;
  }
  auto deadline = Clock::now() + timeout;
  int status = 0;
  bool killed = false;
  for (;;) {
    pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid)
      break;
    if (w < 0 && errno != EINTR) {
      status = 0;
      break;
    }
    if (!killed && (Clock::now() >= deadline || !running)) {
      ::kill(pid, SIGKILL);
      killed = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (WIFEXITED(status)) {
    r.exit_code = WEXITSTATUS(status);
  } else {
    r.exit_code = 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  }
  r.reason = killed ? "DeadlineExceeded" : r.exit_code == 0 ? "Completed" : "Error";
  std::ifstream f(log, std::ios::binary);
  std::string text(controller::kTerminationMessageLimit, '\0');
  f.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(f.gcount()));
  r.message = std::move(text);
  if (killed && r.message.empty())
    r.message = "the parse did not finish within " +
                std::to_string(std::chrono::duration_cast<std::chrono::seconds>(timeout).count()) + "s";
  return r;
}

}  // namespace

bool Simulation::Impl::is_parse_pod(const json::Value& pod) const {
  if (opts.pvc_root.empty())
    return false;
  const json::Value* l = pod.at_path("metadata.labels");
  const json::Value* v = l && l->is_object() ? l->get(controller::kParseRoleLabel) : nullptr;
  return v && v->is_string() && v->as_string() == controller::kParseRoleValue;
}

void Simulation::Impl::post(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lk(mu);
    posted.push_back(std::move(fn));
  }
  cv.notify_one();
}

void Simulation::Impl::parse_start(const std::string& key, uint64_t epoch) {
  auto it = kpods.find(key);
  auto* pod = cached(kPods, key);
  if (it == kpods.end() || !pod)
    return;
  auto& kp = it->second;
  auto ns = text_at(*pod, "metadata.namespace");
  auto node = text_at(*pod, "spec.nodeName");
  auto fail_now = [&](const std::string& why) {
    // Like a container that cannot be created: it ends at once, with the kubelet's reason.
    kp.container_started_at = now_rfc3339();
    kubelet_finish(key, epoch, 128, why);
  };

  // Only the shape the controller renders runs: one container, `parse-model --dir DIR` with DIR
  // on a read-only claim mount. Anything else in such a pod would be running this host's binary
  // with arbitrary arguments.
  const json::Value* cs = pod->at_path("spec.containers");
  if (!cs || !cs->is_array() || cs->as_array().size() != 1)
    return fail_now("a parse pod runs exactly one container");
  json::Value c = cs->as_array()[0];  // a copy: the writes below replace the cached pod
  const json::Value* args = c.get("args");
  if (!args || !args->is_array() || args->as_array().size() != 3 || !args->as_array()[0].is_string() ||
      args->as_array()[0].as_string() != "parse-model" || !args->as_array()[1].is_string() ||
      args->as_array()[1].as_string() != "--dir" || !args->as_array()[2].is_string())
    return fail_now("a parse container's args must be [parse-model, --dir, DIR]");
  std::string dir = args->as_array()[2].as_string();
  std::string mount_path, volume;
  if (const json::Value* vms = c.get("volumeMounts"); vms && vms->is_array())
    for (auto& vm : vms->as_array()) {
      std::string mp = vm.string_or("mountPath");
      const json::Value* ro = vm.get("readOnly");
      bool read_only = ro && ro->is_bool() && ro->as_bool();
      if (!mp.empty() && read_only && (dir == mp || dir.rfind(mp + "/", 0) == 0) && mp.size() > mount_path.size()) {
        mount_path = mp;
        volume = vm.string_or("name");
      }
    }
  std::string claim;
  if (const json::Value* vols = pod->at_path("spec.volumes"); vols && vols->is_array())
    for (auto& v : vols->as_array())
      if (v.string_or("name") == volume)
        claim = text_at(v, "persistentVolumeClaim.claimName");
  if (claim.empty())
    return fail_now(dir + " is not on a read-only PersistentVolumeClaim mount");
  std::string rel = dir.substr(mount_path.size());
  for (auto& part : str::split(rel, '/'))
    if (part == "..")
      return fail_now("the model directory must not contain '..'");

  // The claim: a real kubelet waits for it (FailedMount) and so does this one.
  auto pvc_path = "/api/v1/namespaces/" + ns + "/persistentvolumeclaims/" + claim;
  auto pvc = kubelet.get(pvc_path);
  if (!pvc.ok()) {
    std::string msg = "MountVolume.SetUp failed for volume \"" + volume + "\": persistentvolumeclaim \"" + claim +
                      "\" not found";
    write_pod_status(key, pod_status(*pod, kp, "Pending",
                                     json::Object{{"waiting", json::Object{{"reason", "ContainerCreating"},
                                                                           {"message", msg}}}},
                                     false));
    if (auto* p = cached(kPods, key))
      record_event(kubelet, "kubelet", *p, "Warning", "FailedMount", msg, node);
    auto e = ++kp.epoch;
    after(std::chrono::seconds(2), [this, key, e] { kubelet_start(key, e); });
    return;
  }
  // Volumes bind on first use (WaitForFirstConsumer): the claim's directory is its volume.
  fs::path root = fs::path(opts.pvc_root) / ns / claim;
  std::error_code ec;
  fs::create_directories(root, ec);
  if (text_at(pvc.body, "status.phase") != "Bound") {
    json::Value capacity = json::Object{};
    if (auto* req = pvc.body.at_path("spec.resources.requests"); req && req->is_object())
      capacity = *req;
    json::Value modes = json::Array{"ReadWriteOnce"};
    if (auto* m = pvc.body.at_path("spec.accessModes"); m && m->is_array())
      modes = *m;
    auto res = kubelet.merge_patch(pvc_path + "/status",
                                   json::Object{{"status", json::Object{{"phase", "Bound"},
                                                                        {"accessModes", modes},
                                                                        {"capacity", capacity}}}});
    ++writes;
    if (!res.ok())
      ++write_errors, log.warn("claim not bound").kv("claim", ns + "/" + claim).kv("error", res.message());
  }

  kp.stage = KubeletPod::Running;
  kp.container_started_at = now_rfc3339();
  write_pod_status(key, pod_status(*pod, kp, "Running",
                                   json::Object{{"running", json::Object{{"startedAt", kp.container_started_at}}}},
                                   false));
  if (auto* p = cached(kPods, key)) {
    ++started_pods;
    record_event(kubelet, "kubelet", *p, "Normal", "Started", "Started container " + c.string_or("name"), node);
  }
  auto e = ++kp.epoch;

  char tmpl[] = "/tmp/omed-parse-XXXXXX";
  if (!mkdtemp(tmpl))
    return kubelet_finish(key, e, 128, std::string("cannot create a container directory: ") + std::strerror(errno));
  fs::path work = tmpl;
  fs::path log_file = work / "termination-log";
  std::string binary = opts.parse_binary;
  if (binary == "/proc/self/exe")
    binary = fs::read_symlink("/proc/self/exe", ec).string();
  std::vector<std::string> argv{binary, "parse-model", "--dir", (root / rel.substr(rel.empty() ? 0 : 1)).string(),
                                "--termination-log", log_file.string()};
  if (rel.empty())
    argv[3] = root.string();
  log.info("running parse container").kv("pod", key).kv("claim", ns + "/" + claim).kv("dir", dir);
  auto timeout = opts.parse_timeout;
  parse_pool->post([this, key, e, argv, log_file, work, root, mount_path, timeout] {
    ChildResult r = run_child(argv, log_file, timeout, running);
    std::error_code ec2;
    fs::remove_all(work, ec2);
    // What the container saw was the mount, not this host's directory.
    replace_all(r.message, root.string(), mount_path);
    post([this, key, e, r] { kubelet_finish(key, e, r.exit_code, r.message, r.reason); });
  });
}

}  // namespace omed::apiserver::sim
