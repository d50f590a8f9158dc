#include <catch2/catch.hpp>

#include "omed/common/json.hpp"
#include "omed/common/yaml.hpp"

using namespace omed;

TEST_CASE("json parses and serializes every value type", "[json]") {
  auto v = json::parse(R"({"s":"a\"b\n","i":-42,"big":9007199254740993,"d":1.5,"t":true,"n":null,"a":[1,2.0,"x"],"o":{}})");
  CHECK(v["s"].as_string() == "a\"b\n");
  CHECK(v["i"].as_int() == -42);
  CHECK(v["big"].as_int() == 9007199254740993LL);  // beyond double precision: kept exact
  CHECK(v["d"].as_double() == 1.5);
  CHECK(v["t"].as_bool());
  CHECK(v["n"].is_null());
  CHECK(v["a"].as_array().size() == 3);
  CHECK(v["a"].as_array()[1].is_double());
  CHECK(json::dump(v) ==
        R"({"s":"a\"b\n","i":-42,"big":9007199254740993,"d":1.5,"t":true,"n":null,"a":[1,2.0,"x"],"o":{}})");
}

TEST_CASE("json keeps key order and equality ignores it", "[json]") {
  auto a = json::parse(R"({"z":1,"a":{"y":2,"b":3}})");
  auto b = json::parse(R"({"a":{"b":3,"y":2},"z":1})");
  CHECK(json::dump(a) == R"({"z":1,"a":{"y":2,"b":3}})");
  CHECK(a == b);
  CHECK(json::dump(json::sorted(a)) == R"({"a":{"b":3,"y":2},"z":1})");
  CHECK(json::parse("1") == json::parse("1.0"));
}

TEST_CASE("json rejects malformed and hostile input with an offset", "[json]") {
  std::string err;
  json::Value v;
  CHECK_FALSE(json::try_parse("{\"a\":", v, err));
  CHECK_THAT(err, Catch::Contains("offset"));
  CHECK_FALSE(json::try_parse("{} {}", v, err));
  CHECK_THAT(err, Catch::Contains("after the document"));
  CHECK_FALSE(json::try_parse("[1,]", v, err));
  // Deep nesting is refused instead of exhausting the stack.
  std::string deep(100000, '[');
  CHECK_FALSE(json::try_parse(deep, v, err));
  CHECK_THAT(err, Catch::Contains("nesting deeper"));
  CHECK_THROWS_AS(json::parse("nope"), json::ParseError);
}

TEST_CASE("json duplicate keys: the last one wins", "[json]") {
  auto v = json::parse(R"({"a":1,"b":2,"a":3})");
  CHECK(v.as_object().size() == 2);
  CHECK(v["a"].as_int() == 3);
}

TEST_CASE("json NaN and Infinity only when allowed", "[json]") {
  std::string err;
  json::Value v;
  CHECK_FALSE(json::try_parse(R"({"x":NaN})", v, err));
  json::ParseOptions o;
  o.allow_nan_inf = true;
  REQUIRE(json::try_parse(R"({"x":NaN,"y":Infinity,"z":-Infinity})", v, err, o));
  CHECK(v["x"].is_null());
  CHECK(v["y"].as_double() == 1e308);
  CHECK(v["z"].as_double() == -1e308);
}

TEST_CASE("json escapes control characters and keeps UTF-8", "[json]") {
  json::Value v = std::string("caf\xc3\xa9\x01\t");
  CHECK(json::dump(v) == "\"caf\xc3\xa9\\u0001\\t\"");
  CHECK(json::parse(json::dump(v)) == v);
}

TEST_CASE("yaml reads scalars as kubectl does", "[yaml]") {
  auto v = yaml::parse_one(R"(
a: 1
b: "1"
c: 1.5
d: true
e: "true"
f: yes
g: ~
h: 0x10
i: hello world
j: 2026-01-01
k: '007'
l: 1e3
list:
  - x
  - {y: 2}
)");
  CHECK(v["a"].as_int() == 1);
  CHECK(v["b"].as_string() == "1");
  CHECK(v["c"].as_double() == 1.5);
  CHECK(v["d"].as_bool());
  CHECK(v["e"].as_string() == "true");
  CHECK(v["f"].as_bool());
  CHECK(v["g"].is_null());
  CHECK(v["h"].as_int() == 16);
  CHECK(v["i"].as_string() == "hello world");
  CHECK(v["j"].as_string() == "2026-01-01");
  CHECK(v["k"].as_string() == "007");
  CHECK(v["l"].as_double() == 1000.0);
  CHECK(v["list"].as_array()[1]["y"].as_int() == 2);
}

TEST_CASE("yaml multi-document streams skip empty documents", "[yaml]") {
  auto docs = yaml::parse_all("a: 1\n---\n---\nb: 2\n...\n");
  REQUIRE(docs.size() == 2);
  CHECK(docs[1]["b"].as_int() == 2);
}

TEST_CASE("yaml errors name the line", "[yaml]") {
  try {
    yaml::parse_all("a: [1, 2\nb: 3\n");
    FAIL("expected an error");
  } catch (const yaml::Error& e) {
    CHECK_THAT(e.what(), Catch::Contains("line"));
  }
}

TEST_CASE("yaml dump round-trips through the reader", "[yaml]") {
  auto v = json::parse(R"({"metadata":{"name":"x","labels":{"a":"true","b":"1"}},"spec":{"list":[{"k":"v","n":[1,2]},"plain",""],"empty":{},"none":[],"s":"a: b","m":"multi\nline"}})");
  auto text = yaml::dump(v);
  CHECK(yaml::parse_one(text) == v);
}

TEST_CASE("yaml alias bombs are refused instead of exhausting memory", "[yaml]") {
  std::string bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  char prev = 'a';
  for (char c = 'b'; c <= 'k'; ++c) {
    bomb += std::string(1, c) + ": &" + c + " [";
    for (int i = 0; i < 10; ++i)
      bomb += std::string(i ? ", *" : "*") + prev;
    bomb += "]\n";
    prev = c;
  }
  CHECK_THROWS_WITH(yaml::parse_one(bomb), Catch::Contains("too many nodes"));
  CHECK_THROWS_AS(yaml::parse_all(bomb), yaml::Error);
}
