// `omed parse-model`: the container of a pvc:// model's parse Job. Reads the mounted model and
// leaves OME's config object in the termination log, where the controller reads it back.
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

#include "commands.hpp"
#include "omed/agent/node_report.hpp"
#include "omed/controller/parse_report.hpp"
#include "omed/model/model_facts.hpp"
#include "omed/model/model_inspector.hpp"

namespace omed::cli {

namespace {

const char* kHelp = R"(Usage: omed parse-model --dir DIR [--termination-log PATH]

Inspects the model in DIR (as `omed inspect-model` does) and writes OME's config object (model
type, architecture, format, parameter size, context length, capabilities) as compact JSON to the
termination log, where Kubernetes keeps it as the container's termination message (at most 4096
bytes). The same JSON is printed on stdout. On failure a one-line reason goes to the termination
log and stderr instead. The controller runs this in a Job for pvc:// models.

Flags:
  --dir DIR                the model directory (the claim is mounted read-only under /mnt/model)
  --termination-log PATH   default /dev/termination-log
Exit code: 0 parsed, 1 the model cannot be read (or the report cannot be written), 2 bad usage.
)";

constexpr const char* kDefaultLog = "/dev/termination-log";

bool write_log(const std::string& path, const std::string& text, std::string& err) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (f)
    f << text;
  if (!f) {
    err = std::strerror(errno);
    return false;
  }
  f.close();
  return true;
}

}  // namespace

int run_parse_model(int argc, char** argv) {
  std::string dir, log_path = kDefaultLog;
  bool log_given = false;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const std::string& flag, std::string& out) {
      if (a.rfind(flag + "=", 0) == 0) {
        out = a.substr(flag.size() + 1);
        return true;
      }
      if (a == flag && i + 1 < argc) {
        out = argv[++i];
        return true;
      }
      return false;
    };
    if (a == "-h" || a == "--help") {
      std::cout << kHelp;
      return 0;
    }
    if (a == "--dir" || a.rfind("--dir=", 0) == 0) {
      if (!value("--dir", dir)) {
        std::cerr << "omed parse-model: --dir needs a value\n";
        return 2;
      }
    } else if (a == "--termination-log" || a.rfind("--termination-log=", 0) == 0) {
      if (!value("--termination-log", log_path)) {
        std::cerr << "omed parse-model: --termination-log needs a value\n";
        return 2;
      }
      log_given = true;
    } else {
      std::cerr << "omed parse-model: unexpected argument '" << a << "'\n" << kHelp;
      return 2;
    }
  }
  if (dir.empty()) {
    std::cerr << "omed parse-model: --dir is required\n" << kHelp;
    return 2;
  }

  // Whatever happens, the controller should read why from the termination message.
  auto report = [&](const std::string& text, bool ok) {
    std::string err;
    // The kubelet provides the default file; outside a container it is not there, and is not
    // ours to create.
    std::error_code ec;
    if (!log_given && !std::filesystem::exists(log_path, ec)) {
      std::cerr << "omed parse-model: no " << log_path << " (not in a container?): the report is on stdout only\n";
      return ok ? 0 : 1;
    }
    if (!write_log(log_path, text, err)) {
      std::cerr << "omed parse-model: cannot write the termination log " << log_path << ": " << err << "\n";
      // Outside a container there is no /dev/termination-log: stdout/stderr still say it all.
      if (log_given)
        return 1;
    }
    return ok ? 0 : 1;
  };
  auto failure = [&](const std::string& why) {
    std::string line = controller::failure_line(why);
    std::cerr << "omed parse-model: " << line << "\n";
    report(line, false);
    return 1;
  };

  model::ModelFacts facts;
  std::string err = model::inspect_model_dir(dir, facts);
  if (!err.empty())
    return failure(err);
  if (facts.model_type.empty() && facts.architecture.empty() && !facts.parameter_count)
    return failure("no model found in " + dir + " (no config.json, model_index.json or weight files)");
  std::string text = controller::encode_parse_report(agent::facts_to_config(facts, "", dir));
  if (text.empty())
    return failure("the facts of " + dir + " do not fit the 4096-byte termination message");
  std::cout << text << "\n";
  return report(text, true);
}

}  // namespace omed::cli
