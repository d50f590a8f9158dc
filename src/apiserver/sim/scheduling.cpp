// Scheduler filters and scoring (see omed/apiserver/sim/scheduling.hpp).
#include "omed/apiserver/sim/scheduling.hpp"
