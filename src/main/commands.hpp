// omed's tool commands (answer and exit), each in its own file so that main stays wiring.
#pragma once

namespace omed::cli {

// omed inspect-model PATH|URI [-o json|yaml|table]
int run_inspect_model(int argc, char** argv);

// omed parse-model --dir DIR [--termination-log PATH] (the pvc:// parse Job's container)
int run_parse_model(int argc, char** argv);

}  // namespace omed::cli
