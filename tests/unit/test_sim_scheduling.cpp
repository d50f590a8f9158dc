#include <catch2/catch.hpp>

#include "omed/apiserver/sim/scheduling.hpp"
