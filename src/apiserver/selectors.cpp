// Placeholder until the module lands.
#include "omed/apiserver/selectors.hpp"
