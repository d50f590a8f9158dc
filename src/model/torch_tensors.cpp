// Tensor views of torch checkpoints: parameter counts from size tuples, bounds from strides.
#include "torch_tensors.hpp"

#include "checked_math.hpp"
#include "weight_tally.hpp"

namespace omed::model::detail {

std::string tally_torch_tensors(const PickleMachine& m, bool flat, WeightSummary& out, const WeightLimits& lim) {
  size_t i = 0;
  uint64_t storage_bytes = 0;
  for (const auto& st : m.storages()) {
    uint64_t b = 0;
    if (!checked_mul(st.numel, st.element_size, b) || !checked_add(storage_bytes, b, storage_bytes))
      return "storage sizes overflow 64 bits";
  }
  for (const auto& pt : m.tensors()) {
    TensorInfo t;
    t.name = pt.name.empty() ? "tensor_" + std::to_string(i) : pt.name;
    ++i;
    t.dtype = pt.dtype;
    t.shape = pt.shape;
    const std::string tn = "tensor '" + printable(t.name, 128) + "'";
    if (!shape_product(t.shape, t.parameters) || !checked_mul(t.parameters, pt.element_size, t.bytes))
      return tn + ": size overflows 64 bits";
    // The view's last element: offset + sum((size_i - 1) * stride_i), in elements of its dtype.
    if (t.parameters > 0) {
      uint64_t last = pt.offset;
      for (size_t d = 0; d < pt.shape.size(); ++d) {
        uint64_t step = 0;
        if (!checked_mul(pt.shape[d] - 1, pt.stride[d], step) || !checked_add(last, step, last))
          return tn + ": view extent overflows 64 bits";
      }
      const PickleStorage& st = m.storages()[pt.storage];
      uint64_t need = 0, have = 0;
      if (!checked_add(last, 1, need) || !checked_mul(need, pt.element_size, need) ||
          !checked_mul(st.numel, st.element_size, have))
        return tn + ": view extent overflows 64 bits";
      if (need > have)
        return tn + " reaches byte " + std::to_string(need) + " of storage '" + printable(st.key, 64) +
               "', which holds " + std::to_string(have);
    }
    if (auto e = tally_tensor(out, lim, std::move(t)); !e.empty())
      return e;
  }
  out.metadata["storages"] = std::to_string(m.storages().size());
  out.metadata["storage_bytes"] = std::to_string(storage_bytes);
  if (!flat && !m.tensors().empty())
    out.notes.push_back("the checkpoint is not a plain state_dict: every tensor in it is counted");
  return {};
}

}  // namespace omed::model::detail
