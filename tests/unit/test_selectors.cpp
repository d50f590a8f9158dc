// Placeholder until the module lands.
#include <catch2/catch.hpp>
TEST_CASE("selectors placeholder", "[selectors]") { CHECK(true); }
