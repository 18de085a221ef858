/*
 * golden_reference.cpp — strict parsing and encoding of the golden state format.
 */
#include "tests/support/golden_reference.hpp"

#include <cstring>
#include <set>
#include <sstream>

#include "engine/io/atomic_file.hpp"
#include "engine/base/error.hpp"

namespace gan {

namespace {

constexpr char kMagic[8] = {'G', 'A', 'N', 'G', 'O', 'L', 'D', '\0'};
constexpr uint32_t kMaxNameLength = 4096;
constexpr uint32_t kMaxRank = 8;
constexpr uint64_t kMaxDim = uint64_t(1) << 40;  // per dimension and per tensor, in elements

std::string shape_str(const std::vector<int64_t>& s) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  os << "]";
  return os.str();
}

// Sequential little-endian reads that refuse to run past the end.
class Cursor {
 public:
  Cursor(const uint8_t* p, size_t n, const std::string& name) : p_(p), n_(n), name_(name) {}
  size_t pos() const { return pos_; }
  size_t left() const { return n_ - pos_; }
  const uint8_t* take(size_t bytes, const char* what) {
    if (bytes > left())
      GAN_INPUT_FAIL(name_ << ": truncated golden file: " << what << " needs " << bytes
                           << " bytes at offset " << pos_ << ", " << left() << " left");
    const uint8_t* p = p_ + pos_;
    pos_ += bytes;
    return p;
  }
  uint32_t u32(const char* what) {
    const uint8_t* b = take(4, what);
    return uint32_t(b[0]) | uint32_t(b[1]) << 8 | uint32_t(b[2]) << 16 | uint32_t(b[3]) << 24;
  }
  uint64_t u64(const char* what) {
    const uint8_t* b = take(8, what);
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = v << 8 | b[i];
    return v;
  }

 private:
  const uint8_t* p_;
  size_t n_, pos_ = 0;
  const std::string& name_;
};

void put_u32(std::vector<uint8_t>& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void put_u64(std::vector<uint8_t>& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

}  // namespace

size_t GoldenTensor::numel() const {
  size_t n = 1;
  for (int64_t d : shape) n *= static_cast<size_t>(d);
  return n;
}

GoldenFile GoldenFile::parse(const uint8_t* bytes, size_t n, const std::string& name) {
  GoldenFile f;
  f.name_ = name;
  Cursor c(bytes, n, name);
  if (n < sizeof(kMagic) || std::memcmp(bytes, kMagic, sizeof(kMagic)) != 0)
    GAN_INPUT_FAIL(name << ": not a golden reference file (bad magic)");
  c.take(sizeof(kMagic), "the magic");
  const uint32_t version = c.u32("the version");
  if (version != kVersion)
    GAN_INPUT_FAIL(name << ": golden file version " << version << " is not supported (this "
                        << "build reads version " << kVersion << ")");
  const uint32_t count = c.u32("the tensor count");
  std::set<std::string> seen;
  for (uint32_t t = 0; t < count; ++t) {
    GoldenTensor g;
    const uint32_t len = c.u32("a name length");
    if (len == 0 || len > kMaxNameLength)
      GAN_INPUT_FAIL(name << ": tensor " << t << " has a name length of " << len
                          << " (must be 1.." << kMaxNameLength << ")");
    const uint8_t* s = c.take(len, "a tensor name");
    g.name.assign(reinterpret_cast<const char*>(s), len);
    if (!seen.insert(g.name).second)
      GAN_INPUT_FAIL(name << ": tensor '" << g.name << "' appears twice");
    const uint32_t dtype = c.u32("a dtype");
    if (dtype != uint32_t(GoldenDtype::F32) && dtype != uint32_t(GoldenDtype::U8))
      GAN_INPUT_FAIL(name << ": tensor '" << g.name << "' has unknown dtype " << dtype
                          << " (0 = f32, 1 = u8)");
    g.dtype = static_cast<GoldenDtype>(dtype);
    const uint32_t rank = c.u32("a rank");
    if (rank > kMaxRank)
      GAN_INPUT_FAIL(name << ": tensor '" << g.name << "' has rank " << rank << " (at most "
                          << kMaxRank << ")");
    const size_t elem = g.dtype == GoldenDtype::F32 ? 4 : 1;
    uint64_t numel = 1;
    for (uint32_t r = 0; r < rank; ++r) {
      const uint64_t d = c.u64("a dimension");
      if (d > kMaxDim || (d != 0 && numel > kMaxDim / d))
        GAN_INPUT_FAIL(name << ": tensor '" << g.name << "' has a dimension or size over 2^40");
      numel *= d;
      g.shape.push_back(static_cast<int64_t>(d));
    }
    if (numel > c.left() / elem)
      GAN_INPUT_FAIL(name << ": truncated golden file: tensor '" << g.name << "' "
                          << shape_str(g.shape) << " needs " << numel * elem << " bytes, "
                          << c.left() << " left");
    const uint8_t* data = c.take(static_cast<size_t>(numel * elem), "tensor data");
    if (g.dtype == GoldenDtype::F32) {
      g.f32.resize(static_cast<size_t>(numel));
      for (size_t i = 0; i < g.f32.size(); ++i) {
        const uint8_t* b = data + 4 * i;
        const uint32_t u =
            uint32_t(b[0]) | uint32_t(b[1]) << 8 | uint32_t(b[2]) << 16 | uint32_t(b[3]) << 24;
        std::memcpy(&g.f32[i], &u, 4);
      }
    } else {
      g.u8.assign(data, data + numel);
    }
    f.tensors_.push_back(std::move(g));
  }
  if (c.left() != 0)
    GAN_INPUT_FAIL(name << ": " << c.left() << " trailing bytes after the last tensor");
  return f;
}

GoldenFile GoldenFile::read(const std::string& path) {
  const std::vector<uint8_t> bytes = read_file(path);
  return parse(bytes.data(), bytes.size(), path);
}

bool GoldenFile::has(const std::string& tensor) const {
  for (const GoldenTensor& t : tensors_)
    if (t.name == tensor) return true;
  return false;
}

const GoldenTensor& GoldenFile::get(const std::string& tensor) const {
  for (const GoldenTensor& t : tensors_)
    if (t.name == tensor) return t;
  GAN_INPUT_FAIL(name_ << ": no tensor '" << tensor << "'");
}

const std::vector<float>& GoldenFile::f32(const std::string& tensor,
                                          const std::vector<int64_t>& shape) const {
  const GoldenTensor& t = get(tensor);
  if (t.dtype != GoldenDtype::F32) GAN_INPUT_FAIL(name_ << ": tensor '" << tensor << "' is not f32");
  if (t.shape != shape)
    GAN_INPUT_FAIL(name_ << ": tensor '" << tensor << "' has shape " << shape_str(t.shape)
                         << ", expected " << shape_str(shape));
  return t.f32;
}

float GoldenFile::scalar(const std::string& tensor) const { return f32(tensor, {})[0]; }

std::string GoldenFile::text(const std::string& tensor) const {
  const GoldenTensor& t = get(tensor);
  if (t.dtype != GoldenDtype::U8 || t.shape.size() != 1)
    GAN_INPUT_FAIL(name_ << ": tensor '" << tensor << "' is not a rank-1 u8 tensor");
  return std::string(t.u8.begin(), t.u8.end());
}

std::vector<uint8_t> encode_golden(const std::vector<GoldenTensor>& tensors, uint32_t version) {
  std::vector<uint8_t> out(kMagic, kMagic + sizeof(kMagic));
  put_u32(out, version);
  put_u32(out, static_cast<uint32_t>(tensors.size()));
  for (const GoldenTensor& t : tensors) {
    put_u32(out, static_cast<uint32_t>(t.name.size()));
    out.insert(out.end(), t.name.begin(), t.name.end());
    put_u32(out, static_cast<uint32_t>(t.dtype));
    put_u32(out, static_cast<uint32_t>(t.shape.size()));
    for (int64_t d : t.shape) put_u64(out, static_cast<uint64_t>(d));
    GAN_CHECK((t.dtype == GoldenDtype::F32 ? t.f32.size() : t.u8.size()) == t.numel(),
              "tensor '" << t.name << "' data does not match its shape");
    if (t.dtype == GoldenDtype::F32) {
      for (float v : t.f32) {
        uint32_t u;
        std::memcpy(&u, &v, 4);
        put_u32(out, u);
      }
    } else {
      out.insert(out.end(), t.u8.begin(), t.u8.end());
    }
  }
  return out;
}

}  // namespace gan
