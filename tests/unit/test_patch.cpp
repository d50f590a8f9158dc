// Tests for the PATCH engines: RFC 7386 and RFC 6902 worked examples, kube's strategic merge
// semantics (directives, merge keys, element order) and the built-in merge keys.
#include <catch2/catch.hpp>

#include <filesystem>
#include <map>
#include <string>

#include "../support/test_env.hpp"
#include "omed/apiserver/patch.hpp"
#include "omed/common/json.hpp"

using namespace omed;
using apiserver::PatchError;

namespace Catch {
template <>
struct StringMaker<json::Value> {
  static std::string convert(const json::Value& v) { return json::dump(v); }
};
}  // namespace Catch

namespace {

json::Value J(const char* text) { return json::parse(text); }

json::Value merge(const char* target, const char* patch) { return apiserver::merge_patch(J(target), J(patch)); }

json::Value jpatch(const char* target, const char* ops) { return apiserver::json_patch(J(target), J(ops)); }

// The status code of the PatchError `fn` throws, 0 when it does not throw.
template <typename Fn>
int error_code(Fn&& fn, std::string* msg = nullptr) {
  try {
    fn();
  } catch (const PatchError& e) {
    if (msg)
      *msg = e.what();
    return e.code();
  }
  return 0;
}

apiserver::StrategyLookup kind_lookup(const std::string& kind) {
  return [kind](const std::vector<std::string>& path) { return apiserver::builtin_list_strategy(kind, path); };
}

json::Value smp(const std::string& kind, const char* target, const char* patch) {
  return apiserver::strategic_merge_patch(J(target), J(patch), kind_lookup(kind));
}

// A lookup for the synthetic documents of kube's strategicpatch test suite.
apiserver::ListStrategy test_lists(const std::vector<std::string>& path) {
  apiserver::ListStrategy s;
  if (path.size() != 1)
    return s;
  if (path[0] == "mergingList" || path[0] == "retainKeysMergingList")
    s.merge_key = "name";
  if (path[0] == "retainKeysMergingList")
    s.retain_keys = true;
  if (path[0] == "mergingIntList")
    s.merge_primitives = true;
  return s;
}

json::Value smp_test(const char* target, const char* patch) {
  return apiserver::strategic_merge_patch(J(target), J(patch), test_lists);
}

}  // namespace

// ------------------------------------------------------------------ RFC 7386

TEST_CASE("merge patch: the RFC 7386 section 3 example", "[patch]") {
  auto out = merge(R"({"title":"Goodbye!","author":{"givenName":"John","familyName":"Doe"},
                       "tags":["example","sample"],"content":"This will be unchanged"})",
                   R"({"title":"Hello!","phoneNumber":"+01-123-456-7890",
                       "author":{"familyName":null},"tags":["example"]})");
  CHECK(out == J(R"({"title":"Hello!","author":{"givenName":"John"},"tags":["example"],
                     "content":"This will be unchanged","phoneNumber":"+01-123-456-7890"})"));
}

TEST_CASE("merge patch: the RFC 7386 appendix A test cases", "[patch]") {
  struct Case {
    const char* target;
    const char* patch;
    const char* result;
  };
  const Case cases[] = {
      {R"({"a":"b"})", R"({"a":"c"})", R"({"a":"c"})"},
      {R"({"a":"b"})", R"({"b":"c"})", R"({"a":"b","b":"c"})"},
      {R"({"a":"b"})", R"({"a":null})", R"({})"},
      {R"({"a":"b","b":"c"})", R"({"a":null})", R"({"b":"c"})"},
      {R"({"a":["b"]})", R"({"a":"c"})", R"({"a":"c"})"},
      {R"({"a":"c"})", R"({"a":["b"]})", R"({"a":["b"]})"},
      {R"({"a":{"b":"c"}})", R"({"a":{"b":"d","c":null}})", R"({"a":{"b":"d"}})"},
      {R"({"a":[{"b":"c"}]})", R"({"a":[1]})", R"({"a":[1]})"},
      {R"(["a","b"])", R"(["c","d"])", R"(["c","d"])"},
      {R"({"a":"b"})", R"(["c"])", R"(["c"])"},
      {R"({"a":"foo"})", "null", "null"},
      {R"({"a":"foo"})", R"("bar")", R"("bar")"},
      {R"({"e":null})", R"({"a":1})", R"({"e":null,"a":1})"},
      {R"([1,2])", R"({"a":"b","c":null})", R"({"a":"b"})"},
      {R"({})", R"({"a":{"bb":{"ccc":null}}})", R"({"a":{"bb":{}}})"},
  };
  for (auto& c : cases) {
    INFO(c.target << " + " << c.patch);
    CHECK(merge(c.target, c.patch) == J(c.result));
  }
}

TEST_CASE("merge patch: arrays inside objects are replaced, never merged or appended", "[patch]") {
  auto out = merge(R"({"spec":{"tolerations":[{"key":"a"},{"key":"b"}],"replicas":1}})",
                   R"({"spec":{"tolerations":[{"key":"c"}]}})");
  CHECK(out == J(R"({"spec":{"tolerations":[{"key":"c"}],"replicas":1}})"));
  // New members go after the existing ones: manifests keep their shape.
  CHECK(json::dump(merge(R"({"b":1,"a":2})", R"({"c":3,"a":4})")) == R"({"b":1,"a":4,"c":3})");
}

// ------------------------------------------------------------------ RFC 6902

TEST_CASE("json patch: the RFC 6902 appendix A examples that succeed", "[patch]") {
  // A.1 adding an object member, A.2 adding an array element
  CHECK(jpatch(R"({"foo":"bar"})", R"([{"op":"add","path":"/baz","value":"qux"}])") ==
        J(R"({"baz":"qux","foo":"bar"})"));
  CHECK(jpatch(R"({"foo":["bar","baz"]})", R"([{"op":"add","path":"/foo/1","value":"qux"}])") ==
        J(R"({"foo":["bar","qux","baz"]})"));
  // A.3 removing an object member, A.4 removing an array element
  CHECK(jpatch(R"({"baz":"qux","foo":"bar"})", R"([{"op":"remove","path":"/baz"}])") == J(R"({"foo":"bar"})"));
  CHECK(jpatch(R"({"foo":["bar","qux","baz"]})", R"([{"op":"remove","path":"/foo/1"}])") ==
        J(R"({"foo":["bar","baz"]})"));
  // A.5 replacing a value
  CHECK(jpatch(R"({"baz":"qux","foo":"bar"})", R"([{"op":"replace","path":"/baz","value":"boo"}])") ==
        J(R"({"baz":"boo","foo":"bar"})"));
  // A.6 moving a value, A.7 moving an array element
  CHECK(jpatch(R"({"foo":{"bar":"baz","waldo":"fred"},"qux":{"corge":"grault"}})",
               R"([{"op":"move","from":"/foo/waldo","path":"/qux/thud"}])") ==
        J(R"({"foo":{"bar":"baz"},"qux":{"corge":"grault","thud":"fred"}})"));
  CHECK(jpatch(R"({"foo":["all","grass","cows","eat"]})", R"([{"op":"move","from":"/foo/1","path":"/foo/3"}])") ==
        J(R"({"foo":["all","cows","eat","grass"]})"));
  // A.8 testing a value: success
  CHECK(jpatch(R"({"baz":"qux","foo":["a",2,"c"]})",
               R"([{"op":"test","path":"/baz","value":"qux"},{"op":"test","path":"/foo/1","value":2}])") ==
        J(R"({"baz":"qux","foo":["a",2,"c"]})"));
  // A.10 adding a nested member object
  CHECK(jpatch(R"({"foo":"bar"})", R"([{"op":"add","path":"/child","value":{"grandchild":{}}}])") ==
        J(R"({"foo":"bar","child":{"grandchild":{}}})"));
  // A.11 unrecognized members of an operation are ignored
  CHECK(jpatch(R"({"foo":"bar"})", R"([{"op":"add","path":"/baz","value":"qux","xyz":123}])") ==
        J(R"({"foo":"bar","baz":"qux"})"));
  // A.14 ~ escapes: "~01" is "~1", not "/"
  CHECK(jpatch(R"({"/":9,"~1":10})", R"([{"op":"test","path":"/~01","value":10}])") == J(R"({"/":9,"~1":10})"));
  // A.16 adding an array value appends the array as one element
  CHECK(jpatch(R"({"foo":["bar"]})", R"([{"op":"add","path":"/foo/-","value":["abc","def"]}])") ==
        J(R"({"foo":["bar",["abc","def"]]})"));
}

TEST_CASE("json patch: the RFC 6902 appendix A examples that fail", "[patch]") {
  std::string msg;
  // A.9 testing a value: error
  CHECK(error_code([] { jpatch(R"({"baz":"qux"})", R"([{"op":"test","path":"/baz","value":"bar"}])"); }, &msg) ==
        422);
  CHECK(msg == "testing value /baz failed: test operation failed");
  // A.12 adding to a nonexistent target
  CHECK(error_code([] { jpatch(R"({"foo":"bar"})", R"([{"op":"add","path":"/baz/bat","value":"qux"}])"); }) ==
        422);
  // A.15 comparing strings and numbers
  CHECK(error_code([] { jpatch(R"({"/":9,"~1":10})", R"([{"op":"test","path":"/~01","value":"10"}])"); }) == 422);
}

TEST_CASE("json patch: pointers escape ~ and / and address the whole document with \"\"", "[patch]") {
  CHECK(jpatch(R"({"a/b":1,"m~n":2})",
               R"([{"op":"replace","path":"/a~1b","value":3},{"op":"remove","path":"/m~0n"}])") ==
        J(R"({"a/b":3})"));
  CHECK(jpatch(R"({"a":1})", R"([{"op":"replace","path":"","value":[1,2]}])") == J("[1,2]"));
  CHECK(jpatch(R"({"a":1})", R"([{"op":"add","path":"","value":{"b":2}}])") == J(R"({"b":2})"));
  CHECK(jpatch(R"({"":{"x":1}})", R"([{"op":"test","path":"/","value":{"x":1}}])") == J(R"({"":{"x":1}})"));
  // "~2" and a trailing "~" are not escapes; a pointer must start with "/".
  CHECK(error_code([] { jpatch(R"({"a":1})", R"([{"op":"remove","path":"/~2"}])"); }) == 422);
  CHECK(error_code([] { jpatch(R"({"a":1})", R"([{"op":"remove","path":"/a~"}])"); }) == 422);
  CHECK(error_code([] { jpatch(R"({"a":1})", R"([{"op":"remove","path":"a"}])"); }) == 422);
}

TEST_CASE("json patch: array index rules", "[patch]") {
  // Adding at index == size appends; past it is an error.
  CHECK(jpatch(R"({"l":[1,2]})", R"([{"op":"add","path":"/l/2","value":3}])") == J(R"({"l":[1,2,3]})"));
  CHECK(error_code([] { jpatch(R"({"l":[1,2]})", R"([{"op":"add","path":"/l/3","value":3}])"); }) == 422);
  // Leading zeros and signs are not indices.
  CHECK(error_code([] { jpatch(R"({"l":[1,2]})", R"([{"op":"replace","path":"/l/01","value":3}])"); }) == 422);
  CHECK(error_code([] { jpatch(R"({"l":[1,2]})", R"([{"op":"remove","path":"/l/-1"}])"); }) == 422);
  CHECK(jpatch(R"({"l":[1,2]})", R"([{"op":"replace","path":"/l/0","value":9}])") == J(R"({"l":[9,2]})"));
  // "-" only means "append" for add.
  CHECK(error_code([] { jpatch(R"({"l":[1,2]})", R"([{"op":"remove","path":"/l/-"}])"); }) == 422);
  CHECK(error_code([] { jpatch(R"({"l":[1,2]})", R"([{"op":"replace","path":"/l/2","value":0}])"); }) == 422);
  // Index tokens on objects are plain keys.
  CHECK(jpatch(R"({"o":{}})", R"([{"op":"add","path":"/o/01","value":1}])") == J(R"({"o":{"01":1}})"));
  CHECK(error_code([] { jpatch(R"({"l":[1]})", R"([{"op":"add","path":"/l/99999999999999999999","value":1}])"); }) ==
        422);
}

TEST_CASE("json patch: copy, move and test semantics", "[patch]") {
  CHECK(jpatch(R"({"a":{"b":[1]}})", R"([{"op":"copy","from":"/a","path":"/c"},{"op":"add","path":"/c/b/-","value":2}])") ==
        J(R"({"a":{"b":[1]},"c":{"b":[1,2]}})"));
  // Moving to itself is a no-op; moving into one's own child is refused.
  CHECK(jpatch(R"({"a":1})", R"([{"op":"move","from":"/a","path":"/a"}])") == J(R"({"a":1})"));
  CHECK(error_code([] { jpatch(R"({"a":{"b":1}})", R"([{"op":"move","from":"/a","path":"/a/b/c"}])"); }) == 422);
  // add replaces an existing member in place.
  CHECK(json::dump(jpatch(R"({"a":1,"b":2})", R"([{"op":"add","path":"/a","value":3}])")) == R"({"a":3,"b":2})");
  // test compares JSON values: key order does not matter, 1 equals 1.0, null is a value.
  CHECK_NOTHROW(jpatch(R"({"o":{"x":1,"y":[true,null]},"n":1})",
                       R"([{"op":"test","path":"/o","value":{"y":[true,null],"x":1.0}},
                           {"op":"test","path":"/n","value":1.0}])"));
  CHECK(error_code([] { jpatch(R"({"l":[1,2]})", R"([{"op":"test","path":"/l","value":[2,1]}])"); }) == 422);
  CHECK(error_code([] { jpatch(R"({})", R"([{"op":"test","path":"/missing","value":null}])"); }) == 422);
  CHECK(error_code([] { jpatch(R"({})", R"([{"op":"remove","path":"/missing"}])"); }) == 422);
  CHECK(error_code([] { jpatch(R"({"a":1})", R"([{"op":"copy","from":"/b","path":"/c"}])"); }) == 422);
}

TEST_CASE("json patch: malformed documents are 400, inapplicable operations 422 naming the op", "[patch]") {
  std::string msg;
  CHECK(error_code([] { jpatch("{}", R"({"op":"add","path":"/a","value":1})"); }) == 400);
  CHECK(error_code([] { jpatch("{}", R"([{"op":"add","path":"/a","value":1}, 7])"); }, &msg) == 400);
  CHECK_THAT(msg, Catch::Contains("operation 1"));
  CHECK(error_code([] { jpatch("{}", R"([{"path":"/a","value":1}])"); }, &msg) == 422);
  CHECK_THAT(msg, Catch::Contains("operation 0") && Catch::Contains("\"op\""));
  CHECK(error_code([] { jpatch("{}", R"([{"op":"add","path":"/a","value":1},{"op":"frobnicate","path":"/a"}])"); },
                   &msg) == 422);
  CHECK_THAT(msg, Catch::Contains("operation 1") && Catch::Contains("frobnicate"));
  CHECK(error_code([] { jpatch("{}", R"([{"op":"add","path":"/a"}])"); }, &msg) == 422);
  CHECK_THAT(msg, Catch::Contains("\"value\""));
  CHECK(error_code([] { jpatch("{}", R"([{"op":"replace","value":1}])"); }, &msg) == 422);
  CHECK_THAT(msg, Catch::Contains("\"path\""));
  CHECK(error_code([] { jpatch(R"({"a":1})", R"([{"op":"move","path":"/b"}])"); }, &msg) == 422);
  CHECK_THAT(msg, Catch::Contains("\"from\""));
  CHECK(error_code([] { jpatch("{}", R"([{"op":1,"path":"/a"}])"); }) == 422);
  // "value": null is present, not missing.
  CHECK(jpatch("{}", R"([{"op":"add","path":"/a","value":null}])") == J(R"({"a":null})"));
  CHECK(jpatch(R"({"a":1})", "[]") == J(R"({"a":1})"));
}

TEST_CASE("json patch: a failing patch leaves the input untouched", "[patch]") {
  const json::Value target = J(R"({"a":{"b":[1,2]},"c":"d"})");
  const json::Value copy = target;
  CHECK(error_code([&] {
          apiserver::json_patch(target, J(R"([{"op":"remove","path":"/c"},{"op":"add","path":"/a/b/-","value":3},
                                              {"op":"test","path":"/a/b/0","value":42}])"));
        }) == 422);
  CHECK(json::dump(target) == json::dump(copy));
}

TEST_CASE("json patch: resource limits answer instead of exhausting memory", "[patch]") {
  // Doubling a list by appending a copy of itself stops at the copy budget.
  std::string ops = "[";
  for (int i = 0; i < 64; ++i)
    ops += std::string(i ? "," : "") + R"({"op":"copy","from":"/x","path":"/x/-"})";
  ops += "]";
  CHECK(error_code([&] { apiserver::json_patch(J(R"({"x":[1,2,3,4,5,6,7,8]})"), json::parse(ops)); }) == 422);
  // Nesting past the depth limit is refused.
  std::string deep = "/a";
  std::string build = R"([{"op":"add","path":"/a","value":{}})";
  for (int i = 0; i < 600; ++i) {
    build += R"(,{"op":"add","path":")" + deep + R"(/a","value":{}})";
    deep += "/a";
  }
  build += "]";
  CHECK(error_code([&] { apiserver::json_patch(J("{}"), json::parse(build)); }) == 422);
  std::string many = "[";
  for (int i = 0; i < 10001; ++i)
    many += std::string(i ? "," : "") + R"({"op":"test","path":"","value":{}})";
  many += "]";
  CHECK(error_code([&] { apiserver::json_patch(J("{}"), json::parse(many)); }) == 413);
}

// ------------------------------------------------------------------ strategic merge patch

TEST_CASE("strategic merge: ConfigMap-like maps merge and null deletes", "[patch]") {
  auto out = smp("ConfigMap", R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","labels":{"a":"1","b":"2"}},
                                  "data":{"k1":"v1","k2":"v2"}})",
                 R"({"metadata":{"labels":{"b":null,"c":"3"}},"data":{"k2":"new","k3":"v3","nope":null}})");
  CHECK(out == J(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","labels":{"a":"1","c":"3"}},
                     "data":{"k1":"v1","k2":"new","k3":"v3"}})"));
  // Nulls inside a brand-new map are dropped, not stored.
  CHECK(smp("ConfigMap", R"({})", R"({"data":{"a":"1","b":null}})") == J(R"({"data":{"a":"1"}})"));
  CHECK(error_code([] { smp("ConfigMap", "{}", "[1]"); }) == 400);
  CHECK(error_code([] { smp("ConfigMap", "[]", "{}"); }) == 422);
  CHECK(smp("ConfigMap", "null", R"({"a":1})") == J(R"({"a":1})"));
}

TEST_CASE("strategic merge: Deployment containers merge by name, env by name", "[patch]") {
  const char* deploy = R"({"kind":"Deployment","spec":{"replicas":1,"template":{"spec":{
      "containers":[{"name":"app","image":"app:1","env":[{"name":"A","value":"1"},{"name":"B","value":"2"}]},
                    {"name":"sidecar","image":"side:1"}],
      "tolerations":[{"key":"x","effect":"NoSchedule"}]}}}})";
  SECTION("a field of one container changes, the others stay") {
    auto out = smp("Deployment", deploy,
                   R"({"spec":{"template":{"spec":{"containers":[{"name":"sidecar","image":"side:2"}]}}}})");
    auto& cs = out.at_path("spec.template.spec")->as_object().find("containers")->as_array();
    REQUIRE(cs.size() == 2);
    CHECK(cs[0] == J(R"({"name":"app","image":"app:1","env":[{"name":"A","value":"1"},{"name":"B","value":"2"}]})"));
    CHECK(cs[1] == J(R"({"name":"sidecar","image":"side:2"})"));
  }
  SECTION("env entries merge by name inside the container") {
    auto out = smp("Deployment", deploy, R"({"spec":{"template":{"spec":{"containers":[
        {"name":"app","env":[{"name":"B","value":"two"},{"name":"C","value":"3"},{"name":"A","$patch":"delete"}]}]}}}})");
    auto* env = out.at_path("spec.template.spec")->get("containers")->as_array()[0].get("env");
    CHECK(*env == J(R"([{"name":"B","value":"two"},{"name":"C","value":"3"}])"));
  }
  SECTION("a new container lands before the untouched ones, as kubectl patch shows") {
    auto out = smp("Deployment", deploy,
                   R"({"spec":{"template":{"spec":{"containers":[{"name":"redis","image":"redis"}]}}}})");
    auto& cs = out.at_path("spec.template.spec")->get("containers")->as_array();
    REQUIRE(cs.size() == 3);
    CHECK(cs[0].string_or("name") == "redis");
    CHECK(cs[1].string_or("name") == "app");
    CHECK(cs[2].string_or("name") == "sidecar");
  }
  SECTION("lists without a patch strategy are replaced") {
    auto out = smp("Deployment", deploy,
                   R"({"spec":{"template":{"spec":{"tolerations":[{"key":"y","operator":"Exists"}]}}}})");
    CHECK(*out.at_path("spec.template.spec.tolerations") == J(R"([{"key":"y","operator":"Exists"}])"));
  }
  SECTION("an element without its merge key is refused") {
    std::string msg;
    CHECK(error_code([&] { smp("Deployment", deploy, R"({"spec":{"template":{"spec":{"containers":[{"image":"x"}]}}}})"); },
                     &msg) == 422);
    CHECK_THAT(msg, Catch::Contains("list .spec.template.spec.containers:") && Catch::Contains("merge key \"name\""));
  }
}

TEST_CASE("strategic merge: $patch delete and replace on list elements", "[patch]") {
  const char* pod = R"({"kind":"Pod","spec":{"containers":[{"name":"a","image":"a"},{"name":"b","image":"b"}]}})";
  auto out = smp("Pod", pod, R"({"spec":{"containers":[{"name":"a","$patch":"delete"}]}})");
  CHECK(*out.at_path("spec.containers") == J(R"([{"name":"b","image":"b"}])"));

  out = smp("Pod", pod, R"({"spec":{"containers":[{"name":"c","image":"c"},{"$patch":"replace"}]}})");
  CHECK(*out.at_path("spec.containers") == J(R"([{"name":"c","image":"c"}])"));

  // kube's "delete all items from merging list" and "delete all duplicate entries".
  CHECK(smp_test(R"({"mergingList":[{"name":1},{"name":2}]})", R"({"mergingList":[{"$patch":"replace"}]})") ==
        J(R"({"mergingList":[]})"));
  CHECK(smp_test(R"({"mergingList":[{"name":1},{"name":1},{"name":2,"value":"a"},{"name":3},{"name":3}]})",
                 R"({"mergingList":[{"name":1,"$patch":"delete"},{"name":3,"$patch":"delete"}]})") ==
        J(R"({"mergingList":[{"name":2,"value":"a"}]})"));
  CHECK(error_code([&] { smp("Pod", pod, R"({"spec":{"containers":[{"$patch":"delete"}]}})"); }) == 422);
  CHECK(error_code([&] { smp("Pod", pod, R"({"spec":{"containers":[{"name":"a","$patch":"merge"}]}})"); }) == 422);
  CHECK(error_code([&] { smp("Pod", pod, R"({"spec":{"containers":[{"name":"a","$patch":"explode"}]}})"); }) == 422);
}

TEST_CASE("strategic merge: $patch replace and delete on maps", "[patch]") {
  // kube's "delete all keys from map", "add key and delete all keys from map", "delete map from
  // nested map" (which leaves an empty map, not a missing key).
  CHECK(smp_test(R"({"name":1,"value":1})", R"({"$patch":"replace"})") == J("{}"));
  CHECK(smp_test(R"({"name":1,"value":1})", R"({"other":"a","$patch":"replace"})") == J(R"({"other":"a"})"));
  CHECK(smp_test(R"({"simpleMap":{"key1":1,"key2":1}})", R"({"simpleMap":{"$patch":"delete"}})") ==
        J(R"({"simpleMap":{}})"));
  CHECK(smp_test(R"({"simpleMap":{"key1":1}})", R"({"simpleMap":{"key2":2,"$patch":"replace"}})") ==
        J(R"({"simpleMap":{"key2":2}})"));
  // Deleting a map that is not there creates nothing.
  CHECK(smp_test(R"({"a":1})", R"({"simpleMap":{"$patch":"delete"}})") == J(R"({"a":1})"));
  // "merge" is the default and accepted; anything else is not.
  CHECK(smp_test(R"({"m":{"a":1}})", R"({"m":{"b":2,"$patch":"merge"}})") == J(R"({"m":{"a":1,"b":2}})"));
  CHECK(error_code([] { smp_test(R"({"m":{}})", R"({"m":{"$patch":"wipe"}})"); }) == 422);
  CHECK(error_code([] { smp_test(R"({"m":{}})", R"({"m":{"$patch":true}})"); }) == 422);
}

TEST_CASE("strategic merge: element order follows kube's rules", "[patch]") {
  // kube's "preserve the order from the patch in a merging list" cases.
  CHECK(smp_test(R"({"mergingList":[{"name":1},{"name":2,"value":"b"},{"name":3}]})",
                 R"({"mergingList":[{"name":3,"value":"c"},{"name":1,"value":"a"},{"name":2,"other":"x"}]})") ==
        J(R"({"mergingList":[{"name":3,"value":"c"},{"name":1,"value":"a"},{"name":2,"value":"b","other":"x"}]})"));
  CHECK(smp_test(R"({"mergingList":[{"name":1},{"name":2,"value":"b"},{"name":3}]})",
                 R"({"mergingList":[{"name":3,"value":"c"},{"name":1,"value":"a"}]})") ==
        J(R"({"mergingList":[{"name":2,"value":"b"},{"name":3,"value":"c"},{"name":1,"value":"a"}]})"));
  CHECK(smp_test(R"({"mergingIntList":[1,2,3]})", R"({"mergingIntList":[3,1,2]})") == J(R"({"mergingIntList":[3,1,2]})"));
  CHECK(smp_test(R"({"mergingIntList":[1,2,3]})", R"({"mergingIntList":[3,1]})") == J(R"({"mergingIntList":[2,3,1]})"));
}

TEST_CASE("strategic merge: $setElementOrder orders merged and unpatched lists", "[patch]") {
  // The order list names elements absent from the result; they are ignored.
  CHECK(smp_test(R"({"mergingList":[{"name":1},{"name":3}]})",
                 R"({"$setElementOrder/mergingList":[{"name":3},{"name":2},{"name":1}],
                     "mergingList":[{"name":3,"value":3},{"name":1,"value":1}]})") ==
        J(R"({"mergingList":[{"name":3,"value":3},{"name":1,"value":1}]})"));
  CHECK(smp_test(R"({"mergingIntList":[1,3]})", R"({"$setElementOrder/mergingIntList":[3,2,1]})") ==
        J(R"({"mergingIntList":[3,1]})"));
  // What kubectl apply sends: the full order plus the changed element.
  auto out = smp("Deployment",
                 R"({"spec":{"template":{"spec":{"containers":[{"name":"a","image":"1"},{"name":"b","image":"1"}]}}}})",
                 R"({"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"b"},{"name":"c"},{"name":"a"}],
                     "containers":[{"name":"c","image":"2"}]}}}})");
  CHECK(*out.at_path("spec.template.spec.containers") ==
        J(R"([{"name":"b","image":"1"},{"name":"c","image":"2"},{"name":"a","image":"1"}])"));
  // Nested: the env order of one container next to the container order, as kubectl apply sends.
  out = smp("Deployment",
            R"({"spec":{"template":{"spec":{"containers":[{"name":"a","env":[{"name":"X","value":"1"},{"name":"Y","value":"2"}]}]}}}})",
            R"({"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"a"}],"containers":[{"name":"a",
                "$setElementOrder/env":[{"name":"Z"},{"name":"Y"},{"name":"X"}],"env":[{"name":"Z","value":"3"}]}]}}}})");
  CHECK(*out.at_path("spec.template.spec")->get("containers")->as_array()[0].get("env") ==
        J(R"([{"name":"Z","value":"3"},{"name":"Y","value":"2"},{"name":"X","value":"1"}])"));
  std::string msg;
  CHECK(error_code([] {
          smp_test(R"({"mergingList":[{"name":1},{"name":3},{"name":2}]})",
                   R"({"$setElementOrder/mergingList":[{"name":1},{"name":2},{"name":3}],
                       "mergingList":[{"name":3,"value":3},{"name":1,"value":1}]})");
        }, &msg) == 422);
  CHECK_THAT(msg, Catch::Contains("doesn't match"));
  // A directive of the wrong shape is a malformed document, as in kube.
  CHECK(error_code([] { smp_test(R"({"mergingList":[]})", R"({"$setElementOrder/mergingList":{}})"); }) == 400);
}

TEST_CASE("strategic merge: $retainKeys keeps only the listed fields", "[patch]") {
  // The volumes case kubectl produces when a volume changes source type.
  auto out = smp("Pod", R"({"spec":{"volumes":[{"name":"v","emptyDir":{}},{"name":"w","secret":{"secretName":"s"}}]}})",
                 R"({"spec":{"volumes":[{"name":"v","$retainKeys":["configMap","name"],"configMap":{"name":"cm"}}]}})");
  CHECK(*out.at_path("spec.volumes") ==
        J(R"([{"name":"v","configMap":{"name":"cm"}},{"name":"w","secret":{"secretName":"s"}}])"));
  // Deployment strategy: switching to Recreate drops rollingUpdate.
  out = smp("Deployment", R"({"spec":{"strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":1}}}})",
            R"({"spec":{"strategy":{"$retainKeys":["type"],"type":"Recreate"}}})");
  CHECK(*out.at_path("spec.strategy") == J(R"({"type":"Recreate"})"));
  // Without the directive a retainKeys list merges normally (kube's retainKeys cases).
  CHECK(smp_test(R"({"retainKeysMergingList":[{"name":"bar"},{"name":"foo","value":"a"}]})",
                 R"({"retainKeysMergingList":[{"name":"foo","value":null}]})") ==
        J(R"({"retainKeysMergingList":[{"name":"bar"},{"name":"foo"}]})"));
  // A field set by the patch must be listed.
  CHECK(error_code([] { smp_test(R"({"m":{"a":1}})", R"({"m":{"$retainKeys":["a"],"b":2}})"); }) == 422);
  CHECK(error_code([] { smp_test(R"({"m":{"a":1}})", R"({"m":{"$retainKeys":"a"}})"); }) == 400);
}

TEST_CASE("strategic merge: finalizers are a set; $deleteFromPrimitiveList removes members", "[patch]") {
  auto out = smp("Deployment", R"({"metadata":{"finalizers":["a","b"]}})", R"({"metadata":{"finalizers":["b","c"]}})");
  CHECK(*out.at_path("metadata.finalizers") == J(R"(["a","b","c"])"));
  out = smp("Deployment", R"({"metadata":{"finalizers":["a","b","c"]}})",
            R"({"metadata":{"$deleteFromPrimitiveList/finalizers":["b","zzz"]}})");
  CHECK(*out.at_path("metadata.finalizers") == J(R"(["a","c"])"));
  // Duplicates collapse.
  CHECK(smp_test(R"({"mergingIntList":[1,2]})", R"({"mergingIntList":[2,3]})") == J(R"({"mergingIntList":[1,2,3]})"));
  CHECK(error_code([] { smp_test(R"({"mergingIntList":[1]})", R"({"$deleteFromPrimitiveList/mergingIntList":1})"); }) ==
        400);
  // Pod template metadata is ObjectMeta too.
  out = smp("Deployment", R"({"spec":{"template":{"metadata":{"finalizers":["x"]}}}})",
            R"({"spec":{"template":{"metadata":{"finalizers":["y"]}}}})");
  CHECK(out.at_path("spec.template.metadata.finalizers")->as_array().size() == 2);
}

TEST_CASE("strategic merge: unknown directives and unmergeable lists are 422", "[patch]") {
  std::string msg;
  CHECK(error_code([] { smp_test(R"({})", R"({"$frobnicate":1})"); }, &msg) == 422);
  CHECK_THAT(msg, Catch::Contains("$frobnicate"));
  CHECK(error_code([] { smp_test(R"({})", R"({"m":{"$setElementOrder":[]}})"); }) == 422);
  // A list of lists, mixed element types, maps without a merge key.
  CHECK(error_code([] { smp_test(R"({"mergingIntList":[[1]]})", R"({"mergingIntList":[[2]]})"); }) == 422);
  CHECK(error_code([] { smp_test(R"({"mergingIntList":[1]})", R"({"mergingIntList":[{"a":1}]})"); }) == 422);
  CHECK(error_code([] { smp_test(R"({"mergingIntList":[{"a":1}]})", R"({"mergingIntList":[{"a":2}]})"); }) == 422);
  // A scalar replacing a merge list is a plain replacement.
  CHECK(smp_test(R"({"mergingList":[{"name":1}]})", R"({"mergingList":"x"})") == J(R"({"mergingList":"x"})"));
}

TEST_CASE("strategic merge: the patch and target are not modified", "[patch]") {
  const json::Value target = J(R"({"spec":{"containers":[{"name":"a","image":"1"}]}})");
  const json::Value patch = J(R"({"spec":{"containers":[{"name":"a","image":"2"},{"name":"b","$patch":"delete"}]}})");
  auto out = apiserver::strategic_merge_patch(target, patch, kind_lookup("Pod"));
  CHECK(*out.at_path("spec.containers") == J(R"([{"name":"a","image":"2"}])"));
  CHECK(target == J(R"({"spec":{"containers":[{"name":"a","image":"1"}]}})"));
  CHECK(patch.at_path("spec.containers")->as_array().size() == 2);
  // No lookup at all: every list is replaced.
  auto plain = apiserver::strategic_merge_patch(target, J(R"({"spec":{"containers":[{"name":"b"}]}})"), {});
  CHECK(*plain.at_path("spec.containers") == J(R"([{"name":"b"}])"));
}

// ------------------------------------------------------------------ built-in merge keys

TEST_CASE("builtin_list_strategy: pod specs wherever a kind embeds one", "[patch]") {
  using apiserver::builtin_list_strategy;
  using P = std::vector<std::string>;
  auto key = [](const std::string& kind, const P& p) { return builtin_list_strategy(kind, p).merge_key.value_or(""); };
  CHECK(key("Pod", {"spec", "containers"}) == "name");
  CHECK(key("Pod", {"spec", "containers", "[]", "env"}) == "name");
  CHECK(key("Deployment", {"spec", "template", "spec", "containers"}) == "name");
  CHECK(key("StatefulSet", {"spec", "template", "spec", "initContainers", "[]", "volumeMounts"}) == "mountPath");
  CHECK(key("Job", {"spec", "template", "spec", "containers", "[]", "ports"}) == "containerPort");
  CHECK(key("DaemonSet", {"spec", "template", "spec", "ephemeralContainers", "[]", "volumeDevices"}) == "devicePath");
  CHECK(key("CronJob", {"spec", "jobTemplate", "spec", "template", "spec", "containers"}) == "name");
  CHECK(key("ReplicaSet", {"spec", "template", "spec", "hostAliases"}) == "ip");
  CHECK(key("Pod", {"spec", "topologySpreadConstraints"}) == "topologyKey");
  CHECK(key("Pod", {"spec", "imagePullSecrets"}) == "name");
  CHECK(key("Pod", {"spec", "schedulingGates"}) == "name");
  CHECK(builtin_list_strategy("Pod", {"spec", "volumes"}).retain_keys);
  CHECK(builtin_list_strategy("Pod", {"spec", "resourceClaims"}).retain_keys);
  // Not keyed: tolerations; resizePolicy is listType=atomic upstream; the pod path of another kind.
  CHECK_FALSE(builtin_list_strategy("Pod", {"spec", "tolerations"}).merge_key);
  CHECK_FALSE(builtin_list_strategy("Pod", {"spec", "containers", "[]", "resizePolicy"}).merge_key);
  CHECK_FALSE(builtin_list_strategy("Deployment", {"spec", "containers"}).merge_key);
  CHECK_FALSE(builtin_list_strategy("Pod", {"spec", "containers", "[]", "args"}).merge_primitives);
}

TEST_CASE("builtin_list_strategy: metadata, services, nodes, service accounts, status", "[patch]") {
  using apiserver::builtin_list_strategy;
  CHECK(builtin_list_strategy("ConfigMap", {"metadata", "finalizers"}).merge_primitives);
  CHECK(builtin_list_strategy("Deployment", {"spec", "template", "metadata", "finalizers"}).merge_primitives);
  CHECK(builtin_list_strategy("Secret", {"metadata", "ownerReferences"}).merge_key == std::optional<std::string>("uid"));
  CHECK(builtin_list_strategy("Service", {"spec", "ports"}).merge_key == std::optional<std::string>("port"));
  CHECK(builtin_list_strategy("Node", {"status", "conditions"}).merge_key == std::optional<std::string>("type"));
  CHECK(builtin_list_strategy("Node", {"status", "addresses"}).merge_key == std::optional<std::string>("type"));
  CHECK(builtin_list_strategy("Node", {"spec", "podCIDRs"}).merge_primitives);
  CHECK(builtin_list_strategy("Pod", {"status", "conditions"}).merge_key == std::optional<std::string>("type"));
  CHECK(builtin_list_strategy("Pod", {"status", "podIPs"}).merge_key == std::optional<std::string>("ip"));
  CHECK(builtin_list_strategy("Deployment", {"status", "conditions"}).merge_key == std::optional<std::string>("type"));
  CHECK(builtin_list_strategy("ServiceAccount", {"secrets"}).merge_key == std::optional<std::string>("name"));
  CHECK(builtin_list_strategy("Deployment", {"spec", "strategy"}).retain_keys);
  CHECK_FALSE(builtin_list_strategy("ConfigMap", {"data"}).merge_key);
  CHECK_FALSE(builtin_list_strategy("Service", {"spec", "ipFamilies"}).merge_key);
}

// The merge keys must agree with what kube publishes: every PodSpec and Container list that the
// OpenAPI v3 documents mark with x-kubernetes-patch-merge-key, and nothing they do not mark.
TEST_CASE("builtin_list_strategy agrees with the published OpenAPI v3 documents", "[patch]") {
  if (!omed::testing::have_shared("testdata/k8s/openapi-v3"))
    return;
  auto doc = json::parse(omed::testing::read_file(omed::testing::shared_dir() / "testdata/k8s/openapi-v3/api__v1_openapi.json"));
  const json::Value* schemas = doc.at_path("components.schemas");
  REQUIRE(schemas);
  struct Where {
    const char* schema;
    std::vector<std::string> prefix;
  };
  const Where wheres[] = {
      {"io.k8s.api.core.v1.PodSpec", {"spec"}},
      {"io.k8s.api.core.v1.Container", {"spec", "containers", "[]"}},
      {"io.k8s.api.core.v1.EphemeralContainer", {"spec", "ephemeralContainers", "[]"}},
      {"io.k8s.api.core.v1.ServiceSpec", {"spec"}},
      {"io.k8s.api.core.v1.PodStatus", {"status"}},
      {"io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", {"metadata"}},
  };
  int checked = 0;
  for (auto& w : wheres) {
    const json::Value* props = schemas->get(w.schema) ? schemas->get(w.schema)->get("properties") : nullptr;
    REQUIRE(props);
    std::string kind = std::string(w.schema).find("Service") != std::string::npos ? "Service" : "Pod";
    for (auto& m : props->as_object()) {
      if (m.value.string_or("type") != "array")
        continue;
      auto path = w.prefix;
      path.push_back(m.key);
      auto s = apiserver::builtin_list_strategy(kind, path);
      std::string strategy = m.value.string_or("x-kubernetes-patch-strategy");
      INFO(w.schema << "." << m.key);
      CHECK(s.merge_key.value_or("") == m.value.string_or("x-kubernetes-patch-merge-key"));
      CHECK(s.merge_primitives == (strategy.find("merge") != std::string::npos &&
                                   m.value.string_or("x-kubernetes-patch-merge-key").empty()));
      CHECK(s.retain_keys == (strategy.find("retainKeys") != std::string::npos));
      ++checked;
    }
  }
  CHECK(checked > 20);
}
