// Whether a replica may run on a node: the static filters (readiness, cordon, taints, selector,
// required affinity) and the resource fit, with kube-scheduler's semantics.
#pragma once

#include <string>

#include "omed/packing/model.hpp"

namespace omed::packing {

// Operators Equal/Exists; an empty key with Exists tolerates every taint; an empty effect every effect.
bool tolerates(const Toleration& toleration, const Taint& taint);
// Every NoSchedule and NoExecute taint of the node is tolerated (PreferNoSchedule never filters).
bool tolerates_taints(const Replica& replica, const Node& node);
// nodeSelector (every key=value a label) and required affinity (terms ORed, requirements ANDed,
// an empty term matches nothing, Gt/Lt compare integers).
bool requirement_matches(const Requirement& req, const Node& node);
bool selector_matches(const Replica& replica, const Node& node);

// Everything but resources: ready, schedulable, taints, selector, affinity. These depend only on
// the replica's constraints and the node, so the packer evaluates them once per constraint class.
bool eligible(const Replica& replica, const Node& node);

// Why `replica` cannot go on `node` with `free` left there; empty when it can.
std::string unfit_reason(const Replica& replica, const Node& node, const Resources& free);

}  // namespace omed::packing
