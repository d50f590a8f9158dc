// Placeholder until the module lands.
#include "omed/apiserver/journal.hpp"
