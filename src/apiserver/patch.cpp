// Placeholder until the module lands.
#include "omed/apiserver/patch.hpp"
