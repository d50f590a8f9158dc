// Running outside programs from tests (kubectl, python3): a child process with its own output
// files, a bounded wait, and the check that the machine's kubectl is new enough (1.27+).
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <regex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "test_env.hpp"

extern char** environ;

namespace omed::testing {

namespace runner_detail {
namespace fs = std::filesystem;
}

using namespace runner_detail;

using Env = std::vector<std::pair<std::string, std::string>>;

// The current environment with `overrides` replacing (not shadowing) variables of the same name.
inline std::vector<std::string> environment_with(const Env& overrides) {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string s(*e);
    auto eq = s.find('=');
    std::string name = s.substr(0, eq);
    bool replaced = false;
    for (auto& [k, v] : overrides)
      replaced = replaced || k == name;
    if (!replaced)
      env.push_back(std::move(s));
  }
  for (auto& [k, v] : overrides)
    env.push_back(k + "=" + v);
  return env;
}

// A child in its own process group (so that whatever it spawns goes away with it), stdout and
// stderr to files, stdin from /dev/null. Killed (group, by id) if still running at destruction.
class Child {
public:
  Child(std::vector<std::string> args, const Env& env, const fs::path& out, const fs::path& err) : out_(out), err_(err) {
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    auto env_store = environment_with(env);
    std::vector<char*> envp;
    for (auto& e : env_store)
      envp.push_back(e.data());
    envp.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
    spawn_error_ = posix_spawnp(&pid_, argv[0], &fa, &attr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (spawn_error_ != 0)
      pid_ = -1;
  }
  ~Child() { kill(); }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  bool started() const { return pid_ > 0; }
  bool running() {
    poll();
    return pid_ > 0 && !exited_;
  }
  // Waits up to `ms`; true once the child has exited (code in exit_code()).
  bool wait(int ms) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (true) {
      if (poll())
        return true;
      if (std::chrono::steady_clock::now() >= deadline)
        return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  void kill() {
    if (pid_ > 0 && !exited_) {
      ::kill(-pid_, SIGKILL);
      int st;
      waitpid(pid_, &st, 0);
      exited_ = true;
      code_ = 128 + SIGKILL;
    }
  }
  int exit_code() const { return code_; }
  std::string out() const { return slurp(out_); }
  std::string err() const { return slurp(err_); }

private:
  bool poll() {
    if (pid_ <= 0)
      return true;
    if (exited_)
      return true;
    int st;
    if (waitpid(pid_, &st, WNOHANG) == pid_) {
      exited_ = true;
      code_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    }
    return exited_;
  }
  static std::string slurp(const fs::path& p) { return fs::exists(p) ? read_file(p) : ""; }

  pid_t pid_ = -1;
  int spawn_error_ = 0;
  bool exited_ = false;
  int code_ = -1;
  fs::path out_, err_;
};

struct Run {
  int rc = -1;
  std::string out, err;
  std::string cmd;
  // For INFO(): the command and everything it printed.
  std::string describe() const { return "$ " + cmd + "\n[rc " + std::to_string(rc) + "]\n--- stdout\n" + out + "--- stderr\n" + err; }
};

inline int g_seq = 0;

inline Run run(const std::vector<std::string>& args, const Env& env, const fs::path& dir, int timeout_ms = 60000) {
  Run r;
  for (auto& a : args)
    r.cmd += (r.cmd.empty() ? "" : " ") + a;
  auto n = std::to_string(++g_seq);
  Child c(args, env, dir / ("cmd-" + n + ".out"), dir / ("cmd-" + n + ".err"));
  if (!c.started()) {
    r.rc = 127;
    r.err = "cannot start " + args[0];
    return r;
  }
  if (!c.wait(timeout_ms)) {
    c.kill();
    r.rc = -1;
    r.err = "*** timed out after " + std::to_string(timeout_ms) + " ms ***\n";
  } else {
    r.rc = c.exit_code();
  }
  r.out = c.out();
  r.err = c.err() + r.err;
  return r;
}

// "" when the machine's kubectl is usable, else why every [kubectl] case is skipped.
inline const std::string& kubectl_skip_reason() {
  static const std::string reason = [] {
    TempDir d;
    auto r = run({"kubectl", "version", "--client"}, {}, d.path(), 60000);
    if (r.rc == 127)
      return std::string("kubectl is not installed (not found on PATH)");
    std::smatch m;
    std::string text = r.out + r.err;
    // "Client Version: v1.32.4-dispatcher" (1.28+) or "Client Version: version.Info{... GitVersion:"v1.20.0" ...}".
    if (!std::regex_search(text, m, std::regex(R"(Client Version:[^\n]*?v1\.(\d+))")))
      return "cannot read the client version from `kubectl version --client`: " + text;
    int minor = std::stoi(m[1].str());
    if (minor < 27)
      return "kubectl client v1." + std::to_string(minor) + " is older than 1.27";
    return std::string();
  }();
  return reason;
}

inline bool kubectl_usable() {
  auto& why = kubectl_skip_reason();
  if (why.empty())
    return true;
  WARN("*** SKIPPING the kubectl tests: " << why << " ***");
  return false;
}

#define REQUIRE_KUBECTL()  \
  do {                     \
    if (!kubectl_usable()) \
      return;              \
  } while (0)

}  // namespace omed::testing
