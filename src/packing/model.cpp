// Arithmetic on resource amounts.
#include "omed/packing/model.hpp"

namespace omed::packing {

Resources& Resources::operator+=(const Resources& o) {
  gpus += o.gpus;
  milli_cpu += o.milli_cpu;
  memory += o.memory;
  return *this;
}

Resources& Resources::operator-=(const Resources& o) {
  gpus -= o.gpus;
  milli_cpu -= o.milli_cpu;
  memory -= o.memory;
  return *this;
}

bool Resources::holds(const Resources& demand) const {
  return demand.gpus <= gpus && demand.milli_cpu <= milli_cpu && demand.memory <= memory;
}

}  // namespace omed::packing
