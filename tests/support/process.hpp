// Child processes for integration tests: spawn with arguments and environment, capture output
// to a file, signal, and wait with a deadline.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "test_env.hpp"

extern char** environ;

namespace omed::testing {

class Process {
public:
  Process(std::vector<std::string> args, const std::filesystem::path& log_file,
          std::vector<std::string> extra_env = {})
    : log_(log_file) {
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_store;
    for (char** e = environ; *e; ++e)
      env_store.emplace_back(*e);
    for (auto& e : extra_env)
      env_store.push_back(e);
    std::vector<char*> envp;
    for (auto& e : env_store)
      envp.push_back(e.data());
    envp.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    if (posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), envp.data()) != 0)
      throw std::runtime_error("cannot start " + args[0]);
    posix_spawn_file_actions_destroy(&fa);
  }
  ~Process() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      int st;
      waitpid(pid_, &st, 0);
    }
  }
  pid_t pid() const { return pid_; }
  void signal(int sig) { ::kill(pid_, sig); }
  // Waits up to `ms`; returns true once exited (status in exit_code()).
  bool wait(int ms) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (std::chrono::steady_clock::now() < deadline) {
      int st;
      auto r = waitpid(pid_, &st, WNOHANG);
      if (r == pid_) {
        exited_ = true;
        code_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }
  int exit_code() const { return code_; }
  std::string output() const { return read_file(log_); }

private:
  pid_t pid_ = -1;
  bool exited_ = false;
  int code_ = -1;
  std::filesystem::path log_;
};

// Polls until `file` exists and is non-empty, or the deadline passes.
inline std::string wait_for_file(const std::filesystem::path& file, int ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (std::filesystem::exists(file)) {
      auto s = read_file(file);
      if (!s.empty() && s.back() == '\n')
        return s;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return "";
}

inline std::string omed_bin() {
  const char* b = std::getenv("OMED_BIN");
  return b ? b : "omed";
}

}  // namespace omed::testing
