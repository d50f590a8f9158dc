// Node profiles of the simulated cluster (see omed/apiserver/sim/node_profile.hpp).
#include "omed/apiserver/sim/node_profile.hpp"
