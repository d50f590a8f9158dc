// The pickle opcode machine for torch.save files. Values are inert nodes in an arena (cycles are
// harmless, nothing is freed one by one); REDUCE only recognizes torch's tensor-rebuild names and
// otherwise yields an opaque object. Every resource is capped by WeightLimits.
#include "pickle_machine.hpp"

#include <cerrno>
#include <cstdlib>

#include "checked_math.hpp"
#include "weight_tally.hpp"

namespace omed::model::detail {

namespace {

struct DtypeEntry {
  const char* name;
  const char* dtype;
  uint32_t size;
};

constexpr DtypeEntry kStorages[] = {
  {"FloatStorage", "F32", 4},        {"DoubleStorage", "F64", 8},          {"HalfStorage", "F16", 2},
  {"BFloat16Storage", "BF16", 2},    {"LongStorage", "I64", 8},            {"IntStorage", "I32", 4},
  {"ShortStorage", "I16", 2},        {"CharStorage", "I8", 1},             {"ByteStorage", "U8", 1},
  {"BoolStorage", "BOOL", 1},        {"ComplexFloatStorage", "C64", 8},    {"ComplexDoubleStorage", "C128", 16},
  {"ComplexHalfStorage", "C32", 4},  {"QInt8Storage", "QINT8", 1},         {"QUInt8Storage", "QUINT8", 1},
  {"QInt32Storage", "QINT32", 4},    {"QUInt4x2Storage", "QUINT4X2", 1},   {"QUInt2x4Storage", "QUINT2X4", 1},
  {"Float8_e4m3fnStorage", "F8_E4M3", 1}, {"Float8_e5m2Storage", "F8_E5M2", 1},
  {"Float8_e4m3fnuzStorage", "F8_E4M3FNUZ", 1}, {"Float8_e5m2fnuzStorage", "F8_E5M2FNUZ", 1},
  {"UInt16Storage", "U16", 2},       {"UInt32Storage", "U32", 4},          {"UInt64Storage", "U64", 8},
  {"UntypedStorage", "U8", 1},
};

constexpr DtypeEntry kDtypes[] = {
  {"float32", "F32", 4},  {"float64", "F64", 8},  {"float16", "F16", 2},   {"bfloat16", "BF16", 2},
  {"int64", "I64", 8},    {"int32", "I32", 4},    {"int16", "I16", 2},     {"int8", "I8", 1},
  {"uint8", "U8", 1},     {"bool", "BOOL", 1},    {"uint16", "U16", 2},    {"uint32", "U32", 4},
  {"uint64", "U64", 8},   {"complex64", "C64", 8}, {"complex128", "C128", 16},
  {"float8_e4m3fn", "F8_E4M3", 1}, {"float8_e5m2", "F8_E5M2", 1},
  {"float8_e4m3fnuz", "F8_E4M3FNUZ", 1}, {"float8_e5m2fnuz", "F8_E5M2FNUZ", 1},
};

// Opcodes (pickle protocols 0-5).
enum : uint8_t {
  MARK = '(', STOP = '.', POP = '0', POP_MARK = '1', DUP = '2', FLOAT = 'F', INT = 'I', BININT = 'J',
  BININT1 = 'K', LONG = 'L', BININT2 = 'M', NONE = 'N', PERSID = 'P', BINPERSID = 'Q', REDUCE = 'R',
  STRING = 'S', BINSTRING = 'T', SHORT_BINSTRING = 'U', UNICODE = 'V', BINUNICODE = 'X', APPEND = 'a',
  BUILD = 'b', GLOBAL = 'c', DICT = 'd', EMPTY_DICT = '}', APPENDS = 'e', GET = 'g', BINGET = 'h',
  INST = 'i', LONG_BINGET = 'j', LIST = 'l', EMPTY_LIST = ']', OBJ = 'o', PUT = 'p', BINPUT = 'q',
  LONG_BINPUT = 'r', SETITEM = 's', TUPLE = 't', EMPTY_TUPLE = ')', SETITEMS = 'u', BINFLOAT = 'G',
  PROTO = 0x80, NEWOBJ = 0x81, EXT1 = 0x82, EXT2 = 0x83, EXT4 = 0x84, TUPLE1 = 0x85, TUPLE2 = 0x86,
  TUPLE3 = 0x87, NEWTRUE = 0x88, NEWFALSE = 0x89, LONG1 = 0x8a, LONG4 = 0x8b, BINBYTES = 'B',
  SHORT_BINBYTES = 'C', SHORT_BINUNICODE = 0x8c, BINUNICODE8 = 0x8d, BINBYTES8 = 0x8e, EMPTY_SET = 0x8f,
  ADDITEMS = 0x90, FROZENSET = 0x91, NEWOBJ_EX = 0x92, STACK_GLOBAL = 0x93, MEMOIZE = 0x94, FRAME = 0x95,
  BYTEARRAY8 = 0x96, NEXT_BUFFER = 0x97, READONLY_BUFFER = 0x98,
};

constexpr uint64_t kMaxLine = 4096;

bool parse_decimal(const std::string& s, int64_t& out) {
  if (s.empty() || s.size() > 40)
    return false;
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (errno != 0 || end == s.c_str())
    return false;
  // Protocol 0 writes longs with a trailing 'L'.
  if (*end == 'L')
    ++end;
  if (*end != '\0')
    return false;
  out = v;
  return true;
}

}  // namespace

bool torch_storage_dtype(const std::string& cls, std::string& dtype, uint32_t& size) {
  for (const auto& e : kStorages)
    if (cls == e.name) {
      dtype = e.dtype;
      size = e.size;
      return true;
    }
  return false;
}

bool torch_dtype(const std::string& name, std::string& dtype, uint32_t& size) {
  for (const auto& e : kDtypes)
    if (name == e.name) {
      dtype = e.dtype;
      size = e.size;
      return true;
    }
  return false;
}

bool PickleMachine::fail(const std::string& msg) {
  return c_.fail("pickle: " + msg + " (offset " + std::to_string(c_.pos()) + ")");
}

uint32_t PickleMachine::make(Kind k, int64_t i) {
  if (nodes_.size() >= lim_.max_pickle_values) {
    fail("more than " + std::to_string(lim_.max_pickle_values) + " values");
    return 0;
  }
  nodes_.push_back(Node{k, i, {}});
  return static_cast<uint32_t>(nodes_.size() - 1);
}

uint32_t PickleMachine::make_string(Kind k, std::string s) {
  strings_.push_back(std::move(s));
  return make(k, static_cast<int64_t>(strings_.size() - 1));
}

bool PickleMachine::push(uint32_t n) {
  if (!c_.ok())
    return false;
  if (stack_.size() >= lim_.max_pickle_stack)
    return fail("stack deeper than " + std::to_string(lim_.max_pickle_stack));
  stack_.push_back(n);
  return true;
}

bool PickleMachine::pop(uint32_t& n) {
  size_t floor = marks_.empty() ? 0 : marks_.back();
  if (stack_.size() <= floor)
    return fail("pop from an empty stack");
  n = stack_.back();
  stack_.pop_back();
  return true;
}

bool PickleMachine::pop_mark(std::vector<uint32_t>& items) {
  if (marks_.empty())
    return fail("no MARK on the stack");
  size_t m = marks_.back();
  marks_.pop_back();
  items.assign(stack_.begin() + static_cast<std::ptrdiff_t>(m), stack_.end());
  stack_.resize(m);
  return true;
}

bool PickleMachine::as_uint(uint32_t n, uint64_t& out) const {
  const Node& v = nodes_[n];
  if ((v.kind != Kind::Int && v.kind != Kind::Bool) || v.i < 0)
    return false;
  out = static_cast<uint64_t>(v.i);
  return true;
}

bool PickleMachine::uint_tuple(uint32_t n, std::vector<uint64_t>& out) const {
  const Node& v = nodes_[n];
  if (v.kind != Kind::Tuple && v.kind != Kind::List)
    return false;
  for (uint32_t item : v.items) {
    uint64_t x = 0;
    if (!as_uint(item, x))
      return false;
    out.push_back(x);
  }
  return true;
}

bool PickleMachine::set_items(uint32_t target, const std::vector<uint32_t>& kv) {
  if (kv.size() % 2 != 0)
    return fail("SETITEMS with an odd number of items");
  Node& t = nodes_[target];
  if (t.kind != Kind::Dict && t.kind != Kind::Object)
    return fail("SETITEM on a value that is not a dict");
  for (size_t i = 0; i + 1 < kv.size(); i += 2) {
    const Node& k = nodes_[kv[i]];
    const Node& v = nodes_[kv[i + 1]];
    // A state_dict entry: the key names the tensor (the first name it gets is kept).
    if (k.kind == Kind::Str && v.kind == Kind::Tensor) {
      auto& tensor = tensors_[static_cast<size_t>(v.i)];
      if (tensor.name.empty())
        tensor.name = strings_[static_cast<size_t>(k.i)];
    }
  }
  nodes_[target].items.insert(nodes_[target].items.end(), kv.begin(), kv.end());
  return true;
}

bool PickleMachine::persistent(uint32_t pid) {
  const Node& p = nodes_[pid];
  // ('storage', torch.<X>Storage, key, location, numel[, view metadata])
  if (p.kind != Kind::Tuple || p.items.size() < 5 || nodes_[p.items[0]].kind != Kind::Str ||
      str(p.items[0]) != "storage")
    return fail("unsupported persistent id (not a torch storage reference)");
  const Node& cls = nodes_[p.items[1]];
  if (cls.kind != Kind::Global)
    return fail("storage type is not a global name");
  const std::string& cname = strings_[static_cast<size_t>(cls.i)];
  PickleStorage st;
  if (cname.rfind("torch.", 0) != 0 || !torch_storage_dtype(cname.substr(6), st.dtype, st.element_size))
    return fail("unknown storage type '" + printable(cname, 64) + "'");
  const Node& key = nodes_[p.items[2]];
  if (key.kind == Kind::Str)
    st.key = str(p.items[2]);
  else if (key.kind == Kind::Int)
    st.key = std::to_string(key.i);
  else
    return fail("storage key is neither a string nor an integer");
  if (!as_uint(p.items[4], st.numel))
    return fail("storage size is not a non-negative integer");
  auto [it, fresh] = storage_by_key_.emplace(st.key, storages_.size());
  if (fresh) {
    if (storages_.size() >= lim_.max_tensors)
      return fail("more than " + std::to_string(lim_.max_tensors) + " storages");
    storages_.push_back(st);
  } else {
    const PickleStorage& old = storages_[it->second];
    if (old.dtype != st.dtype || old.numel != st.numel)
      return fail("storage '" + printable(st.key, 64) + "' is declared twice with different types or sizes");
  }
  return push(make(Kind::Storage, static_cast<int64_t>(it->second)));
}

bool PickleMachine::rebuild_tensor(uint32_t args_id, bool v3, uint32_t& result) {
  const Node& args = nodes_[args_id];
  // (storage, storage_offset, size, stride, ...); v3 adds the dtype as its 7th argument.
  if (args.kind != Kind::Tuple || args.items.size() < 4 || nodes_[args.items[0]].kind != Kind::Storage)
    return fail("tensor rebuild arguments are not (storage, offset, size, stride, ...)");
  if (tensors_.size() >= lim_.max_tensors)
    return fail("more than " + std::to_string(lim_.max_tensors) + " tensors");
  PickleTensor t;
  t.storage = static_cast<size_t>(nodes_[args.items[0]].i);
  t.dtype = storages_[t.storage].dtype;
  t.element_size = storages_[t.storage].element_size;
  if (!as_uint(args.items[1], t.offset))
    return fail("tensor storage offset is not a non-negative integer");
  if (!uint_tuple(args.items[2], t.shape) || !uint_tuple(args.items[3], t.stride))
    return fail("tensor size or stride is not a tuple of non-negative integers");
  if (t.shape.size() != t.stride.size())
    return fail("tensor size and stride differ in length");
  if (t.shape.size() > lim_.max_dims)
    return fail("tensor has more than " + std::to_string(lim_.max_dims) + " dims");
  if (v3) {
    if (args.items.size() < 7 || nodes_[args.items[6]].kind != Kind::Global)
      return fail("_rebuild_tensor_v3 without a dtype");
    const std::string& g = strings_[static_cast<size_t>(nodes_[args.items[6]].i)];
    if (g.rfind("torch.", 0) != 0 || !torch_dtype(g.substr(6), t.dtype, t.element_size))
      return fail("unknown tensor dtype '" + printable(g, 64) + "'");
  }
  tensors_.push_back(std::move(t));
  result = make(Kind::Tensor, static_cast<int64_t>(tensors_.size() - 1));
  return c_.ok();
}

bool PickleMachine::reduce(uint32_t callable, uint32_t args) {
  const Node& f = nodes_[callable];
  std::string name = f.kind == Kind::Global ? strings_[static_cast<size_t>(f.i)] : std::string();
  const Node& a = nodes_[args];
  if (a.kind != Kind::Tuple)
    return fail("REDUCE arguments are not a tuple");
  uint32_t result = 0;
  if (name == "torch._utils._rebuild_tensor_v2" || name == "torch._utils._rebuild_tensor" ||
      name == "torch._utils._rebuild_qtensor") {
    if (!rebuild_tensor(args, false, result))
      return false;
  } else if (name == "torch._utils._rebuild_tensor_v3") {
    if (!rebuild_tensor(args, true, result))
      return false;
  } else if ((name == "torch._utils._rebuild_parameter" || name == "torch._utils._rebuild_parameter_with_state") &&
             !a.items.empty() && nodes_[a.items[0]].kind == Kind::Tensor) {
    // A Parameter wraps a tensor already counted: pass it through.
    result = a.items[0];
  } else if (name == "torch._tensor._rebuild_from_type_v2" && a.items.size() >= 3 &&
             nodes_[a.items[0]].kind == Kind::Global &&
             strings_[static_cast<size_t>(nodes_[a.items[0]].i)] == "torch._utils._rebuild_tensor_v2") {
    // A tensor subclass: (func, type, func's args, state).
    if (!rebuild_tensor(a.items[2], false, result))
      return false;
  } else if (name == "collections.OrderedDict" || name == "builtins.dict" || name == "__builtin__.dict") {
    result = make(Kind::Dict);
  } else {
    result = make_string(Kind::Object, name);
  }
  return push(result);
}

bool PickleMachine::op(uint8_t code) {
  uint32_t a = 0, b = 0, cnode = 0;
  std::vector<uint32_t> items;
  auto memo_put = [&](uint64_t idx) {
    if (stack_.empty())
      return fail("memo store from an empty stack");
    if (memo_.size() >= lim_.max_pickle_stack && !memo_.count(idx))
      return fail("memo larger than " + std::to_string(lim_.max_pickle_stack) + " entries");
    memo_[idx] = stack_.back();
    return true;
  };
  auto memo_get = [&](uint64_t idx) {
    auto it = memo_.find(idx);
    if (it == memo_.end())
      return fail("memo entry " + std::to_string(idx) + " was never stored");
    return push(it->second);
  };
  auto sized_string = [&](Kind k, uint64_t n) {
    if (!c_.ok())
      return false;
    if (n > lim_.max_string_bytes)
      return fail("string of " + std::to_string(n) + " bytes exceeds the limit");
    if (k == Kind::Bytes) {
      // Raw bytes never matter here: skip them, keep a placeholder.
      c_.skip(n);
      return push(make(Kind::Bytes));
    }
    return push(make_string(k, c_.bytes(n)));
  };
  auto small_int = [&](int64_t v) { return push(make(Kind::Int, v)); };
  auto long_bytes = [&](uint64_t n) {
    if (!c_.ok())
      return false;
    if (n > lim_.max_string_bytes)
      return fail("integer of " + std::to_string(n) + " bytes exceeds the limit");
    std::string raw = c_.bytes(n);
    if (!c_.ok())
      return false;
    if (n <= 8) {
      uint64_t v = 0;
      for (size_t i = n; i-- > 0;)
        v = (v << 8) | static_cast<unsigned char>(raw[i]);
      // Sign-extend from the top bit of the last byte.
      if (n > 0 && n < 8 && (static_cast<unsigned char>(raw[n - 1]) & 0x80))
        v |= ~0ull << (8 * n);
      return small_int(static_cast<int64_t>(v));
    }
    return push(make_string(Kind::BigInt, std::move(raw)));
  };
  auto top_is = [&](Kind k1, Kind k2) {
    size_t floor = marks_.empty() ? 0 : marks_.back();
    return stack_.size() > floor && (nodes_[stack_.back()].kind == k1 || nodes_[stack_.back()].kind == k2);
  };

  switch (code) {
    case PROTO: {
      uint8_t v = c_.u8();
      return c_.ok() && (v <= 5 || fail("unsupported pickle protocol " + std::to_string(v)));
    }
    case FRAME: c_.u64(); return c_.ok();
    case MARK:
      if (marks_.size() >= lim_.max_pickle_stack)
        return fail("too many MARKs");
      marks_.push_back(stack_.size());
      return true;
    case POP:
      if (!marks_.empty() && stack_.size() == marks_.back()) {
        marks_.pop_back();
        return true;
      }
      return pop(a);
    case POP_MARK: return pop_mark(items);
    case DUP:
      if (stack_.empty())
        return fail("DUP on an empty stack");
      return push(stack_.back());
    case NONE: return push(make(Kind::None));
    case NEWTRUE: return push(make(Kind::Bool, 1));
    case NEWFALSE: return push(make(Kind::Bool, 0));
    case INT: {
      std::string s = c_.line(kMaxLine);
      if (!c_.ok())
        return false;
      if (s == "00" || s == "01")
        return push(make(Kind::Bool, s == "01"));
      int64_t v = 0;
      return parse_decimal(s, v) ? small_int(v) : push(make_string(Kind::BigInt, std::string()));
    }
    case LONG: {
      std::string s = c_.line(kMaxLine);
      if (!c_.ok())
        return false;
      int64_t v = 0;
      return parse_decimal(s, v) ? small_int(v) : push(make_string(Kind::BigInt, std::string()));
    }
    case BININT: return small_int(static_cast<int32_t>(c_.u32())) && c_.ok();
    case BININT1: return small_int(c_.u8()) && c_.ok();
    case BININT2: return small_int(c_.u16()) && c_.ok();
    case LONG1: return long_bytes(c_.u8());
    case LONG4: {
      int32_t n = static_cast<int32_t>(c_.u32());
      if (n < 0)
        return fail("negative LONG4 length");
      return long_bytes(static_cast<uint64_t>(n));
    }
    case FLOAT: c_.line(kMaxLine); return c_.ok() && push(make(Kind::Float));
    case BINFLOAT: c_.skip(8); return c_.ok() && push(make(Kind::Float));
    case STRING:
    case UNICODE: {
      std::string s = c_.line(kMaxLine);
      return c_.ok() && push(make_string(Kind::Str, std::move(s)));
    }
    case BINSTRING: {
      int32_t n = static_cast<int32_t>(c_.u32());
      if (c_.ok() && n < 0)
        return fail("negative BINSTRING length");
      return sized_string(Kind::Str, static_cast<uint64_t>(n));
    }
    case SHORT_BINSTRING: return sized_string(Kind::Str, c_.u8());
    case BINUNICODE: return sized_string(Kind::Str, c_.u32());
    case SHORT_BINUNICODE: return sized_string(Kind::Str, c_.u8());
    case BINUNICODE8: return sized_string(Kind::Str, c_.u64());
    case BINBYTES: return sized_string(Kind::Bytes, c_.u32());
    case SHORT_BINBYTES: return sized_string(Kind::Bytes, c_.u8());
    case BINBYTES8:
    case BYTEARRAY8: return sized_string(Kind::Bytes, c_.u64());
    case EMPTY_TUPLE: return push(make(Kind::Tuple));
    case EMPTY_LIST: return push(make(Kind::List));
    case EMPTY_DICT: return push(make(Kind::Dict));
    case EMPTY_SET: return push(make(Kind::Set));
    case TUPLE:
    case LIST:
    case FROZENSET: {
      if (!pop_mark(items))
        return false;
      uint32_t n = make(code == TUPLE ? Kind::Tuple : code == LIST ? Kind::List : Kind::Set);
      if (!c_.ok())
        return false;
      nodes_[n].items = std::move(items);
      return push(n);
    }
    case TUPLE1:
    case TUPLE2:
    case TUPLE3: {
      size_t k = static_cast<size_t>(code - TUPLE1 + 1);
      items.resize(k);
      for (size_t i = k; i-- > 0;)
        if (!pop(items[i]))
          return false;
      uint32_t n = make(Kind::Tuple);
      if (!c_.ok())
        return false;
      nodes_[n].items = std::move(items);
      return push(n);
    }
    case DICT: {
      if (!pop_mark(items))
        return false;
      uint32_t n = make(Kind::Dict);
      return c_.ok() && set_items(n, items) && push(n);
    }
    case APPEND:
      if (!pop(a))
        return false;
      if (!top_is(Kind::List, Kind::Object))
        return fail("APPEND to a value that is not a list");
      nodes_[stack_.back()].items.push_back(a);
      return true;
    case APPENDS:
    case ADDITEMS:
      if (!pop_mark(items))
        return false;
      if (!top_is(code == APPENDS ? Kind::List : Kind::Set, Kind::Object))
        return fail("APPENDS/ADDITEMS to a value that is not a list or set");
      nodes_[stack_.back()].items.insert(nodes_[stack_.back()].items.end(), items.begin(), items.end());
      return true;
    case SETITEM:
      if (!pop(b) || !pop(a))
        return false;
      if (stack_.empty() || (!marks_.empty() && stack_.size() == marks_.back()))
        return fail("SETITEM without a dict");
      return set_items(stack_.back(), {a, b});
    case SETITEMS:
      if (!pop_mark(items))
        return false;
      if (stack_.empty() || (!marks_.empty() && stack_.size() == marks_.back()))
        return fail("SETITEMS without a dict");
      return set_items(stack_.back(), items);
    case GLOBAL: {
      std::string mod = c_.line(kMaxLine);
      std::string name = c_.line(kMaxLine);
      return c_.ok() && push(make_string(Kind::Global, mod + "." + name));
    }
    case STACK_GLOBAL:
      if (!pop(b) || !pop(a))
        return false;
      if (nodes_[a].kind != Kind::Str || nodes_[b].kind != Kind::Str)
        return fail("STACK_GLOBAL operands are not strings");
      return push(make_string(Kind::Global, str(a) + "." + str(b)));
    case REDUCE:
      if (!pop(b) || !pop(a))
        return false;
      return reduce(a, b);
    case BUILD:
      // Object state is irrelevant here: drop it, keep the object.
      if (!pop(a))
        return false;
      if (stack_.empty())
        return fail("BUILD without an object");
      return true;
    case NEWOBJ:
      if (!pop(b) || !pop(a))
        return false;
      return push(make_string(Kind::Object, nodes_[a].kind == Kind::Global ? str(a) : std::string()));
    case NEWOBJ_EX:
      if (!pop(cnode) || !pop(b) || !pop(a))
        return false;
      return push(make_string(Kind::Object, nodes_[a].kind == Kind::Global ? str(a) : std::string()));
    case OBJ:
      if (!pop_mark(items))
        return false;
      if (items.empty())
        return fail("OBJ without a class");
      return push(make_string(Kind::Object, nodes_[items[0]].kind == Kind::Global ? str(items[0]) : std::string()));
    case INST: {
      std::string mod = c_.line(kMaxLine);
      std::string name = c_.line(kMaxLine);
      if (!c_.ok() || !pop_mark(items))
        return false;
      return push(make_string(Kind::Object, mod + "." + name));
    }
    case BINPERSID: return pop(a) && persistent(a);
    case PERSID: return fail("text persistent ids are not used by torch.save");
    case PUT: {
      std::string s = c_.line(kMaxLine);
      int64_t idx = 0;
      if (!c_.ok() || !parse_decimal(s, idx) || idx < 0)
        return fail("bad PUT index");
      return memo_put(static_cast<uint64_t>(idx));
    }
    case BINPUT: return memo_put(c_.u8()) && c_.ok();
    case LONG_BINPUT: return memo_put(c_.u32()) && c_.ok();
    case MEMOIZE: return memo_put(memo_.size());
    case GET: {
      std::string s = c_.line(kMaxLine);
      int64_t idx = 0;
      if (!c_.ok() || !parse_decimal(s, idx) || idx < 0)
        return fail("bad GET index");
      return memo_get(static_cast<uint64_t>(idx));
    }
    case BINGET: {
      uint8_t idx = c_.u8();
      return c_.ok() && memo_get(idx);
    }
    case LONG_BINGET: {
      uint32_t idx = c_.u32();
      return c_.ok() && memo_get(idx);
    }
    case EXT1:
    case EXT2:
    case EXT4: return fail("extension-registry opcodes are not used by torch.save");
    case NEXT_BUFFER:
    case READONLY_BUFFER: return fail("out-of-band buffers are not used by torch.save");
    default: return fail("unknown opcode 0x" + std::string(1, "0123456789abcdef"[code >> 4]) +
                         std::string(1, "0123456789abcdef"[code & 15]));
  }
}

bool PickleMachine::run() {
  stack_.clear();
  marks_.clear();
  memo_.clear();
  result_.reset();
  while (c_.ok()) {
    if (++ops_ > lim_.max_pickle_ops)
      return fail("more than " + std::to_string(lim_.max_pickle_ops) + " opcodes");
    if (c_.at_end())
      return fail("no STOP opcode before the end");
    uint8_t code = c_.u8();
    if (!c_.ok())
      return false;
    if (code == STOP) {
      uint32_t top = 0;
      if (!pop(top))
        return false;
      result_ = top;
      return true;
    }
    if (!op(code))
      return false;
  }
  return false;
}

std::optional<int64_t> PickleMachine::result_int() const {
  if (!result_ || nodes_[*result_].kind != Kind::Int)
    return std::nullopt;
  return nodes_[*result_].i;
}

std::optional<std::string> PickleMachine::result_long_bytes() const {
  if (!result_)
    return std::nullopt;
  const Node& n = nodes_[*result_];
  if (n.kind == Kind::BigInt)
    return strings_[static_cast<size_t>(n.i)];
  return std::nullopt;
}

std::optional<std::vector<std::string>> PickleMachine::result_strings() const {
  if (!result_ || nodes_[*result_].kind != Kind::List)
    return std::nullopt;
  std::vector<std::string> out;
  for (uint32_t item : nodes_[*result_].items) {
    if (nodes_[item].kind != Kind::Str)
      return std::nullopt;
    out.push_back(strings_[static_cast<size_t>(nodes_[item].i)]);
  }
  return out;
}

bool PickleMachine::result_is_flat_tensor_dict() const {
  if (!result_)
    return false;
  const Node& d = nodes_[*result_];
  if (d.kind != Kind::Dict)
    return false;
  for (size_t i = 1; i < d.items.size(); i += 2)
    if (nodes_[d.items[i]].kind != Kind::Tensor)
      return false;
  return true;
}

}  // namespace omed::model::detail
