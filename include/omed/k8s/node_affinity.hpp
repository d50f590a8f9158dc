// Whether a node satisfies a nodeSelector map and a required NodeSelector (nodeSelectorTerms),
// with kube-scheduler's semantics. Shared by the simulated scheduler and the model agent.
#pragma once

#include <map>
#include <string>

namespace omed::json {
class Value;
}

namespace omed::k8s {

// Every key=value of `selector` is a label of the node.
bool node_selector_matches(const std::map<std::string, std::string>& selector,
                           const std::map<std::string, std::string>& labels);

// `required` is a NodeSelector ({"nodeSelectorTerms": [...]}). Terms are ORed, the requirements
// inside a term ANDed; operators In, NotIn, Exists, DoesNotExist, Gt, Lt; matchFields only
// knows metadata.name. An empty term matches nothing; an invalid requirement fails its term.
// A null `required` matches every node.
bool node_selector_terms_match(const json::Value& required, const std::map<std::string, std::string>& labels,
                               const std::string& node_name);

// Labels of a Node object (metadata.labels) as a map.
std::map<std::string, std::string> node_labels(const json::Value& node);

}  // namespace omed::k8s
