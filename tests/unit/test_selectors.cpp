// Label and field selector tests: every grammar form, the API server's exact error wording, and
// the matching semantics (absent keys satisfy != and notin) that list filtering depends on.
#include <catch2/catch.hpp>

#include "omed/apiserver/selectors.hpp"

using namespace omed::apiserver;
using Op = LabelSelector::Op;
using Labels = std::map<std::string, std::string>;

namespace {

LabelSelector label(const std::string& text) {
  std::string err;
  auto sel = LabelSelector::parse(text, err);
  INFO("selector: " << text << " error: " << err);
  REQUIRE(sel);
  CHECK(err.empty());
  return *sel;
}

std::string label_error(const std::string& text) {
  std::string err;
  auto sel = LabelSelector::parse(text, err);
  INFO("selector: " << text);
  CHECK_FALSE(sel);
  return err;
}

FieldSelector field(const std::string& text) {
  std::string err;
  auto sel = FieldSelector::parse(text, err);
  INFO("selector: " << text << " error: " << err);
  REQUIRE(sel);
  return *sel;
}

std::string field_error(const std::string& text) {
  std::string err;
  auto sel = FieldSelector::parse(text, err);
  INFO("selector: " << text);
  CHECK_FALSE(sel);
  return err;
}

using V = std::vector<std::string>;

const std::string kNameMsg =
  "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
  "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
  "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const std::string kValueMsg =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
  "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
  "'my_value',  or '12345', regex used for validation is "
  "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

}  // namespace

// ------------------------------------------------------------------ label grammar

TEST_CASE("label selector: equality forms", "[selectors]") {
  for (const char* text : {"app=web", "app==web", " app = web ", "app\t==\tweb"}) {
    auto sel = label(text);
    REQUIRE(sel.requirements().size() == 1);
    CHECK(sel.requirements()[0].key == "app");
    CHECK(sel.requirements()[0].op == Op::Equals);
    CHECK(sel.requirements()[0].values == V{"web"});
  }
  auto ne = label("tier!=db");
  REQUIRE(ne.requirements().size() == 1);
  CHECK(ne.requirements()[0].op == Op::NotEquals);
  CHECK(ne.requirements()[0].values == V{"db"});
}

TEST_CASE("label selector: empty values for = and != are valid", "[selectors]") {
  auto eq = label("app=");
  CHECK(eq.requirements()[0].op == Op::Equals);
  CHECK(eq.requirements()[0].values == V{""});
  CHECK(eq.matches({{"app", ""}}));
  CHECK_FALSE(eq.matches({{"app", "web"}}));
  CHECK_FALSE(eq.matches({}));

  auto ne = label("app!=,tier=db");
  REQUIRE(ne.requirements().size() == 2);
  CHECK(ne.requirements()[0].op == Op::NotEquals);
  CHECK(ne.requirements()[0].values == V{""});
}

TEST_CASE("label selector: set forms", "[selectors]") {
  auto in = label("env in (prod, staging)");
  REQUIRE(in.requirements().size() == 1);
  CHECK(in.requirements()[0].key == "env");
  CHECK(in.requirements()[0].op == Op::In);
  CHECK(in.requirements()[0].values == V{"prod", "staging"});

  auto notin = label("env notin (qa,dev,qa)");
  CHECK(notin.requirements()[0].op == Op::NotIn);
  // A set: sorted, duplicates dropped.
  CHECK(notin.requirements()[0].values == V{"dev", "qa"});

  // Parentheses need no surrounding spaces.
  auto tight = label("env in(a),x notin(b)");
  CHECK(tight.requirements().size() == 2);
}

TEST_CASE("label selector: empty elements in value sets mean the empty value", "[selectors]") {
  CHECK(label("x in ()").requirements()[0].values == V{""});
  CHECK(label("x in (,)").requirements()[0].values == V{""});
  CHECK(label("x in (a,)").requirements()[0].values == V{"", "a"});
  CHECK(label("x in (,a)").requirements()[0].values == V{"", "a"});
  CHECK(label("x in (a,,b)").requirements()[0].values == V{"", "a", "b"});
  CHECK(label("x in (foo,,baz),y,z notin ()").requirements().size() == 3);
}

TEST_CASE("label selector: existence forms", "[selectors]") {
  auto sel = label("gpu, !spot");
  REQUIRE(sel.requirements().size() == 2);
  CHECK(sel.requirements()[0].key == "gpu");
  CHECK(sel.requirements()[0].op == Op::Exists);
  CHECK(sel.requirements()[0].values.empty());
  CHECK(sel.requirements()[1].key == "spot");
  CHECK(sel.requirements()[1].op == Op::DoesNotExist);
  CHECK(label("! spot").requirements()[0].op == Op::DoesNotExist);
}

TEST_CASE("label selector: empty and blank input select everything", "[selectors]") {
  for (const char* text : {"", "   ", "\t\n"}) {
    auto sel = label(text);
    CHECK(sel.empty());
    CHECK(sel.matches({}));
    CHECK(sel.matches({{"a", "b"}}));
  }
}

TEST_CASE("label selector: keywords are identifiers outside operator position", "[selectors]") {
  auto sel = label("in in (in, notin),notin=in");
  REQUIRE(sel.requirements().size() == 2);
  CHECK(sel.requirements()[0].key == "in");
  CHECK(sel.requirements()[0].op == Op::In);
  CHECK(sel.requirements()[0].values == V{"in", "notin"});
  CHECK(sel.requirements()[1].key == "notin");
  CHECK(sel.requirements()[1].values == V{"in"});
}

TEST_CASE("label selector: qualified keys with prefixes", "[selectors]") {
  auto sel = label("ome.io/model=llama-3.1_8B,app.kubernetes.io/name in (vllm)");
  CHECK(sel.requirements()[0].key == "ome.io/model");
  CHECK(sel.requirements()[0].values == V{"llama-3.1_8B"});
  CHECK(sel.requirements()[1].key == "app.kubernetes.io/name");

  // 63-character names and values are the limit, inclusive.
  std::string n63(63, 'a');
  CHECK(label(n63 + "=" + n63).requirements()[0].key == n63);
  // A 253-character prefix is still a valid subdomain.
  std::string prefix = std::string(63, 'p') + "." + std::string(63, 'q') + "." +
                       std::string(63, 'r') + "." + std::string(61, 's');
  REQUIRE(prefix.size() == 253);
  CHECK(label(prefix + "/k").requirements()[0].key == prefix + "/k");
}

// ------------------------------------------------------------------ label errors

TEST_CASE("label selector: syntax errors use the API server's wording", "[selectors]") {
  CHECK(label_error("a b") ==
        "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=");
  CHECK(label_error("a=b,") == "found '', expected: identifier after ','");
  CHECK(label_error("a=b,,c") == "found ',', expected: identifier after ','");
  CHECK(label_error("a=b c") == "found 'c', expected: ',' or 'end of string'");
  CHECK(label_error("=a") == "found '=', expected: !, identifier, or 'end of string'");
  CHECK(label_error(",a") == "found ',', expected: !, identifier, or 'end of string'");
  CHECK(label_error("!") == "unable to parse requirement: found '', expected: identifier");
  CHECK(label_error("!=a") == "found '!=', expected: !, identifier, or 'end of string'");
  CHECK(label_error("!a=b") == "found '=', expected: ',' or 'end of string'");
  CHECK(label_error("a=(b)") == "unable to parse requirement: found '(', expected: identifier");
  CHECK(label_error("a===b") == "unable to parse requirement: found '=', expected: identifier");
}

TEST_CASE("label selector: set syntax errors", "[selectors]") {
  CHECK(label_error("a in b") == "unable to parse requirement: found 'b' expected: '('");
  CHECK(label_error("a in") == "unable to parse requirement: found '' expected: '('");
  CHECK(label_error("a in (") ==
        "unable to parse requirement: found '', expected: ',', ')' or identifier");
  CHECK(label_error("a in (=)") ==
        "unable to parse requirement: found '=', expected: ',', ')' or identifier");
  CHECK(label_error("a in (b c)") ==
        "unable to parse requirement: found 'c', expected: ',' or ')'");
  CHECK(label_error("a in (b") == "unable to parse requirement: found '', expected: ',' or ')'");
  CHECK(label_error("a in (b,=)") ==
        "unable to parse requirement: found '=', expected: ',', or identifier");
  CHECK(label_error("a notin (b),") == "found '', expected: identifier after ','");
}

TEST_CASE("label selector: gt and lt are not supported", "[selectors]") {
  CHECK(label_error("replicas>1") ==
        "unable to parse requirement: found '>', expected: in, notin, =, ==, !=");
  CHECK(label_error("replicas<1") ==
        "unable to parse requirement: found '<', expected: in, notin, =, ==, !=");
}

TEST_CASE("label selector: invalid keys", "[selectors]") {
  CHECK(label_error("-app=x") ==
        "unable to parse requirement: key: Invalid value: \"-app\": name part " + kNameMsg);
  CHECK(label_error("a/b/c") ==
        "unable to parse requirement: key: Invalid value: \"a/b/c\": a valid label key " +
          kNameMsg + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')");
  CHECK(label_error("/name") ==
        "unable to parse requirement: key: Invalid value: \"/name\": "
        "prefix part must be non-empty");
  CHECK(label_error("ome.io/") == "unable to parse requirement: key: Invalid value: \"ome.io/\": "
                                  "name part must be non-empty; name part " + kNameMsg);
  CHECK(label_error(std::string(64, 'k')) ==
        "unable to parse requirement: key: Invalid value: \"" + std::string(64, 'k') +
          "\": name part must be no more than 63 bytes");
  CHECK(label_error("Ome.IO/x") ==
        "unable to parse requirement: key: Invalid value: \"Ome.IO/x\": prefix part a lowercase "
        "RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and "
        "must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
        "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')");
  std::string long_prefix = std::string(251, 'p') + ".io";
  CHECK(label_error(long_prefix + "/x") ==
        "unable to parse requirement: key: Invalid value: \"" + long_prefix +
          "/x\": prefix part must be no more than 253 bytes");
  // Bad bytes are quoted the way Go's %q would.
  CHECK(label_error("a\"b") ==
        "unable to parse requirement: key: Invalid value: \"a\\\"b\": name part " + kNameMsg);
}

TEST_CASE("label selector: invalid values", "[selectors]") {
  CHECK(label_error("app=-web") ==
        "unable to parse requirement: values[0][app]: Invalid value: \"-web\": " + kValueMsg);
  // The index is the position in the sorted set, as in apimachinery.
  CHECK(label_error("env in (prod, b@d)") ==
        "unable to parse requirement: values[0][env]: Invalid value: \"b@d\": " + kValueMsg);
  CHECK(label_error("env in (aaa, z@z)") ==
        "unable to parse requirement: values[1][env]: Invalid value: \"z@z\": " + kValueMsg);
  std::string v64(64, 'v');
  CHECK(label_error("app=" + v64) ==
        "unable to parse requirement: values[0][app]: Invalid value: \"" + v64 +
          "\": must be no more than 63 bytes");
  CHECK(label_error("app=" + v64 + "-") ==
        "unable to parse requirement: values[0][app]: Invalid value: \"" + v64 +
          "-\": must be no more than 63 bytes; " + kValueMsg);
}

// ------------------------------------------------------------------ label matching

TEST_CASE("label selector: matching follows Kubernetes semantics", "[selectors]") {
  Labels web{{"app", "web"}, {"env", "prod"}};
  Labels bare{};
  Labels db{{"app", "db"}, {"env", ""}};

  SECTION("equality requires presence") {
    auto sel = label("app=web");
    CHECK(sel.matches(web));
    CHECK_FALSE(sel.matches(db));
    CHECK_FALSE(sel.matches(bare));
  }
  SECTION("!= matches when the key is absent") {
    auto sel = label("app!=web");
    CHECK_FALSE(sel.matches(web));
    CHECK(sel.matches(db));
    CHECK(sel.matches(bare));
  }
  SECTION("in requires presence") {
    auto sel = label("env in (prod,staging)");
    CHECK(sel.matches(web));
    CHECK_FALSE(sel.matches(db));
    CHECK_FALSE(sel.matches(bare));
    // "()" is the set holding the empty value: present-but-empty matches.
    CHECK(label("env in ()").matches(db));
    CHECK_FALSE(label("env in ()").matches(bare));
  }
  SECTION("notin matches when the key is absent") {
    auto sel = label("env notin (prod)");
    CHECK_FALSE(sel.matches(web));
    CHECK(sel.matches(db));
    CHECK(sel.matches(bare));
  }
  SECTION("exists and does-not-exist") {
    CHECK(label("env").matches(db));  // an empty value is still present
    CHECK_FALSE(label("env").matches(bare));
    CHECK_FALSE(label("!env").matches(db));
    CHECK(label("!env").matches(bare));
  }
  SECTION("requirements are ANDed") {
    auto sel = label("app in (web,db),env!=prod,!canary");
    CHECK_FALSE(sel.matches(web));
    CHECK(sel.matches(db));
    CHECK_FALSE(sel.matches({{"app", "db"}, {"canary", "true"}}));
    // Contradictory requirements parse and simply match nothing.
    CHECK_FALSE(label("app=web,app=db").matches(web));
  }
}

// ------------------------------------------------------------------ field selectors

TEST_CASE("field selector: forms and matching", "[selectors]") {
  auto sel = field("metadata.name=llama,status.phase!=Failed,metadata.namespace==team-a");
  REQUIRE(sel.requirements().size() == 3);
  CHECK(sel.requirements()[0].field == "metadata.name");
  CHECK_FALSE(sel.requirements()[0].negate);
  CHECK(sel.requirements()[0].value == "llama");
  CHECK(sel.requirements()[1].field == "status.phase");
  CHECK(sel.requirements()[1].negate);
  CHECK(sel.requirements()[1].value == "Failed");
  CHECK(sel.requirements()[2].field == "metadata.namespace");
  CHECK_FALSE(sel.requirements()[2].negate);
  CHECK(sel.requirements()[2].value == "team-a");

  std::map<std::string, std::string> obj{
    {"metadata.name", "llama"}, {"metadata.namespace", "team-a"}, {"status.phase", "Running"}};
  auto get = [&](const std::string& f) {
    auto it = obj.find(f);
    return it == obj.end() ? std::string() : it->second;
  };
  CHECK(sel.matches(get));
  obj["status.phase"] = "Failed";
  CHECK_FALSE(sel.matches(get));
  obj["status.phase"] = "Running";
  obj["metadata.name"] = "mistral";
  CHECK_FALSE(sel.matches(get));
}

TEST_CASE("field selector: empty input and empty terms", "[selectors]") {
  CHECK(field("").empty());
  CHECK(field(",").empty());
  CHECK(field("").matches([](const std::string&) { return std::string("x"); }));
  auto sel = field(",spec.nodeName=,");
  REQUIRE(sel.requirements().size() == 1);
  CHECK(sel.requirements()[0].value.empty());
  // An empty value matches an unset field, as it does for spec.nodeName of unscheduled pods.
  CHECK(sel.matches([](const std::string&) { return std::string(); }));
  CHECK_FALSE(sel.matches([](const std::string&) { return std::string("node-1"); }));
}

TEST_CASE("field selector: the first operator splits the term", "[selectors]") {
  // "!=" wins over "=" at the same position; "==" leaves no stray '=' in the value.
  auto a = field("a!=b");
  CHECK(a.requirements()[0].field == "a");
  CHECK(a.requirements()[0].negate);
  auto b = field("a==b");
  CHECK(b.requirements()[0].value == "b");
  // The field name has no escapes: '!' alone is part of it.
  auto c = field("a!b=c");
  CHECK(c.requirements()[0].field == "a!b");
  CHECK(c.requirements()[0].value == "c");
  // Spaces are data, not padding (the API server does not trim either).
  auto d = field("a = b");
  CHECK(d.requirements()[0].field == "a ");
  CHECK(d.requirements()[0].value == " b");
}

TEST_CASE("field selector: escaped values", "[selectors]") {
  auto sel = field(R"(metadata.annotations=a\,b\=c\\d,x=y)");
  REQUIRE(sel.requirements().size() == 2);
  CHECK(sel.requirements()[0].value == R"(a,b=c\d)");
  CHECK(sel.requirements()[1].field == "x");
  CHECK(sel.requirements()[1].value == "y");
  // An escaped backslash does not escape the comma after it.
  auto two = field(R"(a=b\\,c=d)");
  REQUIRE(two.requirements().size() == 2);
  CHECK(two.requirements()[0].value == R"(b\)");
}

TEST_CASE("field selector: error messages", "[selectors]") {
  CHECK(field_error("metadata.name") ==
        "invalid selector: 'metadata.name'; can't understand 'metadata.name'");
  CHECK(field_error("a=b,oops") == "invalid selector: 'a=b,oops'; can't understand 'oops'");
  CHECK(field_error("a=b=c") == "invalid field selector: unescaped character in value: =");
  CHECK(field_error("a==b=c") == "invalid field selector: unescaped character in value: =");
  CHECK(field_error(R"(a=b\n)") == R"(invalid field selector: invalid escape sequence: \n)");
  CHECK(field_error(R"(a=b\)") == R"(invalid field selector: invalid escape sequence: \)");
  CHECK(field_error("a=b\\\xc3\xa9") ==
        "invalid field selector: invalid escape sequence: \\\xc3\xa9");
}

TEST_CASE("field selector: != with an unset field", "[selectors]") {
  auto sel = field("spec.nodeName!=");
  CHECK(sel.matches([](const std::string&) { return std::string("node-a"); }));
  CHECK_FALSE(sel.matches([](const std::string&) { return std::string(); }));
}

TEST_CASE("label selector: whitespace between every token", "[selectors]") {
  auto sel = label("\n env \t in \n( a ,\tb\r\n) , ! canary ,tier\n!=\ndb ");
  REQUIRE(sel.requirements().size() == 3);
  CHECK(sel.requirements()[0].values == V{"a", "b"});
  CHECK(sel.requirements()[1].op == Op::DoesNotExist);
  CHECK(sel.requirements()[1].key == "canary");
  CHECK(sel.requirements()[2].op == Op::NotEquals);
  CHECK(sel.requirements()[2].values == V{"db"});
}

TEST_CASE("label selector: bad bytes are quoted like Go's %q", "[selectors]") {
  CHECK(label_error("a\x01") ==
        "unable to parse requirement: key: Invalid value: \"a\\x01\": name part " + kNameMsg);
  CHECK(label_error("a\xff") ==
        "unable to parse requirement: key: Invalid value: \"a\\xff\": name part " + kNameMsg);
  // Well-formed UTF-8 is shown as it is.
  CHECK(label_error("app=caf\xc3\xa9") ==
        "unable to parse requirement: values[0][app]: Invalid value: \"caf\xc3\xa9\": " +
          kValueMsg);
}

TEST_CASE("label selector: selecting an InferenceService's pods", "[selectors]") {
  auto sel = label("ome.io/inferenceservice=llama,component in (predictor,engine),!ome.io/canary");
  Labels predictor{{"ome.io/inferenceservice", "llama"}, {"component", "predictor"},
                   {"pod-template-hash", "7d9f"}};
  Labels router{{"ome.io/inferenceservice", "llama"}, {"component", "router"}};
  Labels canary = predictor;
  canary["ome.io/canary"] = "true";
  Labels other{{"ome.io/inferenceservice", "mistral"}, {"component", "engine"}};
  CHECK(sel.matches(predictor));
  CHECK_FALSE(sel.matches(router));
  CHECK_FALSE(sel.matches(canary));
  CHECK_FALSE(sel.matches(other));
}
