#include <catch2/catch.hpp>

#include "omed/apiserver/sim/node_profile.hpp"
