// Placeholder until the module lands.
#include "omed/apiserver/table.hpp"
