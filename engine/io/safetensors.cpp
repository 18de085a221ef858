/*
 * safetensors.cpp — serialization and strict validation of the safetensors format.
 *
 * The reader's rules follow the reference implementation: header length at most 100 MB
 * and within the file; header a JSON object; each tensor entry an object with a known
 * dtype, a shape of non-negative integers whose element count does not overflow, and
 * data_offsets [begin, end] inside the buffer with end - begin = numel * dtype size; the
 * entries sorted by offset tile the buffer exactly; "__metadata__" an object of strings.
 */
#include "engine/io/safetensors.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "engine/io/atomic_file.hpp"
#include "engine/base/error.hpp"

// Tensor bytes are stored little-endian and copied straight to and from host values.
#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__)
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "safetensors I/O needs a little-endian host");
#else
#error "cannot tell the byte order of this host; safetensors I/O needs a little-endian host"
#endif

namespace gan {

namespace {

constexpr uint64_t kMaxHeader = 100'000'000;  // the reference implementation's limit
constexpr const char* kMetadataKey = "__metadata__";

std::string shape_str(const std::vector<int64_t>& shape) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < shape.size(); ++i) os << (i ? ", " : "") << shape[i];
  os << "]";
  return os.str();
}

bool parse_dtype(const std::string& s, DType* out) {
  for (DType d : {DType::F32, DType::F64, DType::I64, DType::I32, DType::U8}) {
    if (s == dtype_name(d)) {
      *out = d;
      return true;
    }
  }
  return false;
}

// Element count of `shape`, or false when it does not fit in size_t together with the
// byte size elem_size * count. Exact: a zero dimension gives 0 whatever the others are.
bool checked_numel(const std::vector<int64_t>& shape, size_t elem_size, size_t* out) {
  for (int64_t d : shape)
    if (d == 0) {
      *out = 0;
      return true;
    }
  const size_t limit = std::numeric_limits<size_t>::max() / elem_size;
  size_t n = 1;
  for (int64_t d : shape) {
    const uint64_t ud = static_cast<uint64_t>(d);
    if (ud > limit / n) return false;
    n *= ud;
  }
  *out = n;
  return true;
}

// A JSON value for an error message, cut short when long.
std::string brief(const nlohmann::json& j) {
  std::string s = j.dump();
  if (s.size() > 80) s = s.substr(0, 77) + "...";
  return s;
}

// True when `s` can be written as a JSON string (valid UTF-8).
bool json_encodable(const std::string& s) {
  try {
    (void)nlohmann::json(s).dump();
    return true;
  } catch (const nlohmann::json::exception&) {
    return false;
  }
}

}  // namespace

const char* dtype_name(DType d) {
  switch (d) {
    case DType::F32: return "F32";
    case DType::F64: return "F64";
    case DType::I64: return "I64";
    case DType::I32: return "I32";
    case DType::U8: return "U8";
  }
  return "?";
}

size_t dtype_size(DType d) {
  switch (d) {
    case DType::F32: return 4;
    case DType::F64: return 8;
    case DType::I64: return 8;
    case DType::I32: return 4;
    case DType::U8: return 1;
  }
  return 0;
}

size_t StTensor::numel() const {
  size_t n = 1;
  for (int64_t d : shape) n *= static_cast<size_t>(d);
  return n;
}

// ---- writer --------------------------------------------------------------------

void SafetensorsWriter::add(const std::string& name, DType dtype, std::vector<int64_t> shape,
                            const void* data) {
  GAN_CHECK(name != kMetadataKey, "safetensors: the tensor name '" << name << "' is reserved");
  GAN_CHECK(json_encodable(name), "safetensors: tensor name is not valid UTF-8");
  for (const auto& t : tensors_)
    GAN_CHECK(t.first != name, "safetensors: duplicate tensor '" << name << "'");
  for (int64_t d : shape)
    GAN_CHECK(d >= 0, "safetensors: tensor '" << name << "' has a negative dimension in shape "
                                               << shape_str(shape));
  size_t numel = 0;
  GAN_CHECK(checked_numel(shape, dtype_size(dtype), &numel),
            "safetensors: tensor '" << name << "' of shape " << shape_str(shape)
                                    << " is too large");
  const size_t bytes = numel * dtype_size(dtype);
  GAN_CHECK(bytes == 0 || data != nullptr, "safetensors: tensor '" << name << "' has no data");
  StTensor t;
  t.dtype = dtype;
  t.shape = std::move(shape);
  t.bytes.resize(bytes);
  if (bytes) std::memcpy(t.bytes.data(), data, bytes);
  tensors_.emplace_back(name, std::move(t));
}

void SafetensorsWriter::add_f32(const std::string& name, std::vector<int64_t> shape,
                                const float* data) {
  add(name, DType::F32, std::move(shape), data);
}

void SafetensorsWriter::add_i64_scalar(const std::string& name, int64_t v) {
  add(name, DType::I64, {}, &v);
}

void SafetensorsWriter::set_metadata(const std::string& key, const std::string& value) {
  GAN_CHECK(json_encodable(key) && json_encodable(value),
            "safetensors: metadata key or value is not valid UTF-8");
  metadata_[key] = value;
}

std::vector<uint8_t> SafetensorsWriter::serialize() const {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata_.empty()) {
    nlohmann::ordered_json meta = nlohmann::ordered_json::object();
    for (const auto& kv : metadata_) meta[kv.first] = kv.second;
    header[kMetadataKey] = std::move(meta);
  }
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors_) {
    nlohmann::ordered_json entry = nlohmann::ordered_json::object();
    entry["dtype"] = dtype_name(t.dtype);
    entry["shape"] = t.shape;
    entry["data_offsets"] = {offset, offset + t.bytes.size()};
    header[name] = std::move(entry);
    offset += t.bytes.size();
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  GAN_CHECK(text.size() <= kMaxHeader,
            "safetensors: header of " << text.size() << " bytes exceeds " << kMaxHeader);

  std::vector<uint8_t> out(8 + text.size() + offset);
  const uint64_t n = text.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<uint8_t>(n >> (8 * i));
  std::memcpy(out.data() + 8, text.data(), text.size());
  uint8_t* p = out.data() + 8 + text.size();
  for (const auto& kv : tensors_) {
    if (!kv.second.bytes.empty()) std::memcpy(p, kv.second.bytes.data(), kv.second.bytes.size());
    p += kv.second.bytes.size();
  }
  return out;
}

void SafetensorsWriter::write(const std::string& path) const {
  const std::vector<uint8_t> bytes = serialize();
  write_file_atomic(path, bytes.data(), bytes.size());
}

// ---- reader --------------------------------------------------------------------

SafetensorsFile SafetensorsFile::read(const std::string& path) {
  const std::vector<uint8_t> bytes = read_file(path);
  return parse(bytes.data(), bytes.size(), path);
}

SafetensorsFile SafetensorsFile::parse(const uint8_t* bytes, size_t n, const std::string& name) {
  const std::string& f = name;
  if (n < 8)
    GAN_INPUT_FAIL(f << ": not a safetensors file: " << n
                     << " bytes, shorter than the 8-byte header length");
  uint64_t hlen = 0;
  for (int i = 0; i < 8; ++i) hlen |= static_cast<uint64_t>(bytes[i]) << (8 * i);
  if (hlen > kMaxHeader)
    GAN_INPUT_FAIL(f << ": safetensors header length " << hlen << " exceeds the limit of "
                     << kMaxHeader << " bytes");
  if (hlen > n - 8)
    GAN_INPUT_FAIL(f << ": safetensors header length " << hlen << " is larger than the file ("
                     << n - 8 << " bytes after the length)");

  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes + 8, bytes + 8 + hlen);
  } catch (const nlohmann::json::exception& e) {
    GAN_INPUT_FAIL(f << ": safetensors header is not valid JSON: " << e.what());
  }
  if (!header.is_object())
    GAN_INPUT_FAIL(f << ": safetensors header is not a JSON object but " << header.type_name());
  if (bytes[8] != '{')
    GAN_INPUT_FAIL(f << ": safetensors header does not start with '{'");

  SafetensorsFile out;
  out.file_ = name;
  const uint8_t* buffer = bytes + 8 + hlen;
  const uint64_t buffer_size = n - 8 - hlen;

  struct Span {
    uint64_t begin, end;
    std::string name;
  };
  std::vector<Span> spans;
  for (const auto& [key, entry] : header.items()) {
    if (key == kMetadataKey) {
      if (!entry.is_object())
        GAN_INPUT_FAIL(f << ": __metadata__ is not a JSON object but " << entry.type_name());
      for (const auto& [mk, mv] : entry.items()) {
        if (!mv.is_string())
          GAN_INPUT_FAIL(f << ": __metadata__ value of '" << mk << "' is not a string but "
                           << mv.type_name());
        out.metadata_[mk] = mv.get<std::string>();
      }
      continue;
    }
    const std::string what = f + ": tensor '" + key + "'";
    if (!entry.is_object())
      GAN_INPUT_FAIL(what << ": entry is not a JSON object but " << entry.type_name());
    for (const char* field : {"dtype", "shape", "data_offsets"})
      if (!entry.contains(field)) GAN_INPUT_FAIL(what << ": missing '" << field << "'");

    const auto& jd = entry.at("dtype");
    if (!jd.is_string()) GAN_INPUT_FAIL(what << ": dtype is not a string but " << jd.type_name());
    StTensor t;
    if (!parse_dtype(jd.get<std::string>(), &t.dtype))
      GAN_INPUT_FAIL(what << ": unsupported dtype '" << jd.get<std::string>()
                          << "' (supported: F32, F64, I64, I32, U8)");

    const auto& js = entry.at("shape");
    if (!js.is_array()) GAN_INPUT_FAIL(what << ": shape is not an array but " << js.type_name());
    for (const auto& d : js) {
      if (!d.is_number_integer())
        GAN_INPUT_FAIL(what << ": shape " << brief(js) << " holds a non-integer dimension");
      if (d.is_number_unsigned()) {
        const uint64_t u = d.get<uint64_t>();
        if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
          GAN_INPUT_FAIL(what << ": shape " << brief(js) << ": element count overflows");
        t.shape.push_back(static_cast<int64_t>(u));
      } else {
        const int64_t v = d.get<int64_t>();
        if (v < 0) GAN_INPUT_FAIL(what << ": shape " << brief(js) << " has a negative dimension");
        t.shape.push_back(v);
      }
    }
    size_t numel = 0;
    if (!checked_numel(t.shape, dtype_size(t.dtype), &numel))
      GAN_INPUT_FAIL(what << ": shape " << brief(js) << ": element count overflows");
    const uint64_t nbytes = static_cast<uint64_t>(numel) * dtype_size(t.dtype);

    const auto& jo = entry.at("data_offsets");
    // at(): checked access, so that a wrong size test cannot read past the array
    if (!jo.is_array() || jo.size() != 2 || !jo.at(0).is_number_unsigned() ||
        !jo.at(1).is_number_unsigned())
      GAN_INPUT_FAIL(what << ": data_offsets " << brief(jo)
                          << " is not [begin, end] of two non-negative integers");
    const uint64_t begin = jo[0].get<uint64_t>(), end = jo[1].get<uint64_t>();
    if (begin > end)
      GAN_INPUT_FAIL(what << ": data_offsets " << brief(jo) << " has begin after end");
    if (end > buffer_size)
      GAN_INPUT_FAIL(what << ": data_offsets end " << end << " is beyond the buffer ("
                          << buffer_size << " bytes)");
    if (end - begin != nbytes)
      GAN_INPUT_FAIL(what << ": data_offsets " << brief(jo) << " span " << end - begin
                          << " bytes, but " << jd.get<std::string>() << " " << brief(js)
                          << " needs " << nbytes);
    t.bytes.assign(buffer + begin, buffer + end);
    spans.push_back({begin, end, key});
    out.tensors_.emplace(key, std::move(t));
  }

  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) {
    if (a.begin != b.begin) return a.begin < b.begin;
    if (a.end != b.end) return a.end < b.end;
    return a.name < b.name;
  });
  uint64_t cursor = 0;
  std::string prev;
  for (const Span& s : spans) {
    if (s.begin < cursor)
      GAN_INPUT_FAIL(f << ": tensor '" << s.name << "' (bytes " << s.begin << ".." << s.end
                       << ") overlaps tensor '" << prev << "' (ending at " << cursor << ")");
    if (s.begin > cursor)
      GAN_INPUT_FAIL(f << ": gap of " << s.begin - cursor << " unused bytes in the buffer before "
                       << "tensor '" << s.name << "' (bytes " << cursor << ".." << s.begin
                       << ")");
    cursor = s.end;
    prev = s.name;
    out.order_.push_back(s.name);
  }
  if (cursor != buffer_size)
    GAN_INPUT_FAIL(f << ": " << buffer_size - cursor << " trailing bytes in the buffer after the "
                     << "last tensor (the tensors end at " << cursor << " of " << buffer_size
                     << ")");
  return out;
}

bool SafetensorsFile::has(const std::string& name) const { return tensors_.count(name) != 0; }

const StTensor& SafetensorsFile::get(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) GAN_INPUT_FAIL(file_ << ": no tensor '" << name << "'");
  return it->second;
}

std::vector<float> SafetensorsFile::f32(const std::string& name,
                                        const std::vector<int64_t>& shape) const {
  const StTensor& t = get(name);
  if (t.dtype != DType::F32 || t.shape != shape)
    GAN_INPUT_FAIL(file_ << ": tensor '" << name << "': expected F32 " << shape_str(shape)
                         << ", found " << dtype_name(t.dtype) << " " << shape_str(t.shape));
  std::vector<float> v(t.numel());
  if (!v.empty()) std::memcpy(v.data(), t.bytes.data(), t.bytes.size());
  return v;
}

int64_t SafetensorsFile::i64_scalar(const std::string& name) const {
  const StTensor& t = get(name);
  if (t.dtype != DType::I64 || !t.shape.empty())
    GAN_INPUT_FAIL(file_ << ": tensor '" << name << "': expected I64 [] (a scalar), found "
                         << dtype_name(t.dtype) << " " << shape_str(t.shape));
  int64_t v = 0;
  std::memcpy(&v, t.bytes.data(), sizeof v);
  return v;
}

std::string SafetensorsFile::meta(const std::string& key) const {
  auto it = metadata_.find(key);
  if (it == metadata_.end()) GAN_INPUT_FAIL(file_ << ": no metadata key '" << key << "'");
  return it->second;
}

}  // namespace gan
