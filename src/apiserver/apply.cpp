// Placeholder until the module lands.
#include "omed/apiserver/apply.hpp"
