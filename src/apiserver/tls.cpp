// Placeholder until the module lands.
#include "omed/apiserver/tls.hpp"
