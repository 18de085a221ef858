/*
 * idx.cpp — IDX parsing through a byte reader (raw buffer or incremental gzip inflate),
 * MNIST split loading with cross-file checks, and IDX writing (optionally gzip).
 */
#include "engine/io/idx.hpp"

#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>

#include "engine/io/atomic_file.hpp"
#include "engine/base/error.hpp"

namespace gan {

namespace {

// ---- byte readers ------------------------------------------------------------------

// Reads from a raw in-memory buffer.
class RawReader {
 public:
  RawReader(const uint8_t* bytes, size_t n) : p_(bytes), n_(n) {}

  // Copies up to k bytes; fewer only at the end of the data.
  size_t read(uint8_t* dst, size_t k) {
    const size_t m = std::min(k, n_ - pos_);
    if (m > 0) std::memcpy(dst, p_ + pos_, m);
    pos_ += m;
    return m;
  }

  // The number of bytes not yet read (known up front for a raw buffer).
  bool remaining(uint64_t* n) const {
    *n = n_ - pos_;
    return true;
  }

  // Consumes the rest; returns how many bytes there were (exact: `more` is always false).
  uint64_t drain(bool* more) {
    *more = false;
    const uint64_t rest = n_ - pos_;
    pos_ = n_;
    return rest;
  }

 private:
  const uint8_t* p_;
  size_t n_;
  size_t pos_ = 0;
};

// Inflates a gzip buffer on demand, member after member; every defect of the stream is an
// InputError naming the file.
class GzipReader {
 public:
  GzipReader(const uint8_t* bytes, size_t n, const std::string& name)
      : base_(bytes), n_(n), name_(name) {
    const int rc = inflateInit2(&zs_, 16 + MAX_WBITS);
    if (rc != Z_OK) GAN_FAIL("zlib inflateInit2 failed for " << name << ": " << zError(rc));
  }
  ~GzipReader() { inflateEnd(&zs_); }
  GzipReader(const GzipReader&) = delete;
  GzipReader& operator=(const GzipReader&) = delete;

  // Inflates up to k bytes into dst; fewer only when the last gzip member has ended.
  size_t read(uint8_t* dst, size_t k) {
    size_t produced = 0;
    while (produced < k) {
      if (member_done_ && !start_next_member()) break;
      if (zs_.avail_in == 0 && fed_ < n_) {
        const size_t chunk = std::min<size_t>(n_ - fed_, size_t(1) << 30);
        zs_.next_in = const_cast<Bytef*>(base_ + fed_);
        zs_.avail_in = static_cast<uInt>(chunk);
        fed_ += chunk;
      }
      const uInt out_chunk = static_cast<uInt>(std::min<size_t>(k - produced, size_t(1) << 30));
      zs_.next_out = dst + produced;
      zs_.avail_out = out_chunk;
      const int rc = inflate(&zs_, Z_NO_FLUSH);
      const size_t got = out_chunk - zs_.avail_out;
      produced += got;
      inflated_ += got;
      switch (rc) {
        case Z_OK:
          break;
        case Z_STREAM_END:
          member_done_ = true;
          break;
        case Z_BUF_ERROR:  // no progress possible: only when the input has run out
          if (zs_.avail_in == 0 && fed_ == n_)
            GAN_INPUT_FAIL(name_ << ": the gzip stream is truncated: the compressed data ends "
                                 << "after " << inflated_ << " decompressed bytes, before the "
                                 << "end of the stream (incomplete download or copy?)");
          break;
        case Z_NEED_DICT:
          GAN_INPUT_FAIL(name_ << ": corrupt gzip data: the stream asks for a preset dictionary");
        case Z_DATA_ERROR:
          GAN_INPUT_FAIL(name_ << ": corrupt gzip data: "
                               << (zs_.msg != nullptr ? zs_.msg : "invalid deflate stream")
                               << " (after " << inflated_ << " decompressed bytes)");
        case Z_MEM_ERROR:
          GAN_FAIL("out of memory while inflating " << name_);
        default:
          GAN_FAIL("zlib inflate returned " << rc << " for " << name_);
      }
    }
    return produced;
  }

  // How much a stream will still inflate to is unknown until it has been inflated.
  bool remaining(uint64_t*) const { return false; }

  // Inflates and discards what is left, stopping once more than `limit` bytes have come out
  // (then *more is true and the count is a lower bound); the stream is still fully checked
  // (CRC and length trailers) when it ends within the limit.
  uint64_t drain(bool* more, size_t limit = 64 * 1024) {
    uint8_t scratch[4096];
    uint64_t total = 0;
    *more = false;
    while (true) {
      const size_t got = read(scratch, sizeof scratch);
      total += got;
      if (got < sizeof scratch) return total;
      if (total > limit) {
        *more = true;
        return total;
      }
    }
  }

 private:
  // After a member ends: true (and the inflater reset) when another gzip member follows,
  // false at the end of the input; InputError for anything else.
  bool start_next_member() {
    const size_t consumed = fed_ - zs_.avail_in;
    const size_t rest = n_ - consumed;
    if (rest == 0) return false;
    if (rest < 2 || base_[consumed] != 0x1f || base_[consumed + 1] != 0x8b)
      GAN_INPUT_FAIL(name_ << ": " << rest << " byte" << (rest == 1 ? "" : "s")
                           << " after the end of the gzip stream are not another gzip member");
    const int rc = inflateReset(&zs_);
    if (rc != Z_OK) GAN_FAIL("zlib inflateReset failed for " << name_ << ": " << zError(rc));
    member_done_ = false;
    return true;
  }

  const uint8_t* base_;
  size_t n_;
  std::string name_;
  z_stream zs_{};
  size_t fed_ = 0;         // bytes of input handed to zlib so far
  uint64_t inflated_ = 0;  // bytes produced so far, all members
  bool member_done_ = false;
};

// ---- header and payload ------------------------------------------------------------

std::string dims_text(const std::vector<uint32_t>& dims) {
  std::string s;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i > 0) s += 'x';
    s += std::to_string(dims[i]);
  }
  return s;
}

// What the header says, in words: "10000 images of 28x28 = 7840000 bytes".
std::string describe(const std::vector<uint32_t>& dims, uint64_t bytes) {
  const std::string total = " = " + std::to_string(bytes) + (bytes == 1 ? " byte" : " bytes");
  const char* plural = dims[0] == 1 ? "" : "s";
  if (dims.size() == 3)
    return std::to_string(dims[0]) + " image" + plural + " of " + std::to_string(dims[1]) + "x" +
           std::to_string(dims[2]) + total;
  if (dims.size() == 1) return std::to_string(dims[0]) + " label" + plural + total;
  return "an array of " + dims_text(dims) + total;
}

const char* type_name(uint8_t type) {
  switch (type) {
    case 0x08: return "unsigned byte";
    case 0x09: return "signed byte";
    case 0x0B: return "16-bit integer";
    case 0x0C: return "32-bit integer";
    case 0x0D: return "32-bit float";
    case 0x0E: return "64-bit float";
    default: return "unknown type";
  }
}

std::string hex(uint64_t v, int digits) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%0*llX", digits, static_cast<unsigned long long>(v));
  return buf;
}

template <class Reader>
IdxArray parse_with(Reader& in, const std::string& name, int expected_rank, bool gzip) {
  const char* has = gzip ? "decompresses to" : "has";
  uint8_t magic[4];
  const size_t got_magic = in.read(magic, 4);
  if (got_magic < 4)
    GAN_INPUT_FAIL(name << ": too short for an IDX file: it " << has << " only " << got_magic
                        << " byte" << (got_magic == 1 ? "" : "s")
                        << ", and the magic number alone takes 4");
  const uint32_t magic_value = (uint32_t(magic[0]) << 24) | (uint32_t(magic[1]) << 16) |
                               (uint32_t(magic[2]) << 8) | uint32_t(magic[3]);
  if (magic[0] != 0 || magic[1] != 0)
    GAN_INPUT_FAIL(name << ": not an IDX file: the magic number " << hex(magic_value, 8)
                        << " does not start with two zero bytes (expected 0x000008RR)");
  if (magic[2] != 0x08)
    GAN_INPUT_FAIL(name << ": element type " << hex(magic[2], 2) << " (" << type_name(magic[2])
                        << ") is not supported; only type 0x08 (unsigned byte) is");
  const int rank = magic[3];
  if (rank == 0) GAN_INPUT_FAIL(name << ": rank 0 (no dimensions) in the IDX header");
  if (expected_rank != 0 && rank != expected_rank) {
    const char* role = expected_rank == 3   ? " (an image file is [count, rows, cols])"
                       : expected_rank == 1 ? " (a label file is [count])"
                                            : "";
    GAN_INPUT_FAIL(name << ": rank " << rank << " but rank " << expected_rank << " expected"
                        << role);
  }

  std::vector<uint8_t> raw_dims(4 * size_t(rank));
  const size_t got_dims = in.read(raw_dims.data(), raw_dims.size());
  if (got_dims < raw_dims.size())
    GAN_INPUT_FAIL(name << ": the IDX header is truncated: rank " << rank << " needs "
                        << raw_dims.size() << " bytes of dimensions but the file " << has
                        << " only " << got_dims << " after the magic number");
  IdxArray out;
  out.dims.resize(rank);
  for (int i = 0; i < rank; ++i) {
    const uint8_t* b = &raw_dims[4 * size_t(i)];
    out.dims[i] = (uint32_t(b[0]) << 24) | (uint32_t(b[1]) << 16) | (uint32_t(b[2]) << 8) |
                  uint32_t(b[3]);
  }
  uint64_t bytes = 1;
  for (int i = 0; i < rank; ++i) {
    if (out.dims[i] == 0)
      GAN_INPUT_FAIL(name << ": dimension " << i << " is 0 (dimensions " << dims_text(out.dims)
                          << "); every dimension must be at least 1");
    if (bytes > kIdxMaxBytes / out.dims[i])
      GAN_INPUT_FAIL(name << ": dimensions " << dims_text(out.dims) << " describe more than "
                          << kIdxMaxBytes << " bytes, the most an IDX file may hold");
    bytes *= out.dims[i];
  }

  auto short_payload = [&](uint64_t got) {
    GAN_INPUT_FAIL(name << ": header says " << describe(out.dims, bytes) << " but the payload "
                        << "has " << got << " (" << (bytes - got) << " missing)");
  };
  uint64_t rest = 0;
  size_t got = 0;
  if (in.remaining(&rest)) {
    if (rest < bytes) short_payload(rest);  // before allocating
    out.data.resize(static_cast<size_t>(bytes));
    got = in.read(out.data.data(), out.data.size());
  } else {
    // How much a gzip stream holds is known only once inflated: the buffer grows with the
    // data (doubling from 1 MiB, never past what the header says), so a small file whose
    // header claims a huge payload costs at most twice what it really inflates to.
    size_t cap = static_cast<size_t>(std::min<uint64_t>(bytes, uint64_t(1) << 20));
    while (true) {
      out.data.resize(cap);
      got += in.read(out.data.data() + got, cap - got);
      if (got < cap || cap == bytes) break;
      cap = static_cast<size_t>(std::min<uint64_t>(bytes, uint64_t(2) * cap));
    }
  }
  if (got < bytes) short_payload(got);
  bool more = false;
  const uint64_t extra = in.drain(&more);
  if (extra > 0)
    GAN_INPUT_FAIL(name << ": header says " << describe(out.dims, bytes) << " but the payload "
                        << "has " << (more ? "more than " : "") << (bytes + extra) << " ("
                        << (more ? "over " : "") << extra << " trailing byte"
                        << (extra == 1 ? "" : "s") << ")");
  return out;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(),
                                                suffix) == 0;
}

}  // namespace

// ---- public ------------------------------------------------------------------------

IdxArray parse_idx(const uint8_t* bytes, size_t n, const std::string& name, int expected_rank) {
  if (n >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b) {
    GzipReader in(bytes, n, name);
    return parse_with(in, name, expected_rank, true);
  }
  RawReader in(bytes, n);
  return parse_with(in, name, expected_rank, false);
}

IdxArray read_idx(const std::string& path, int expected_rank) {
  const std::vector<uint8_t> bytes = read_file(path);
  return parse_idx(bytes.data(), bytes.size(), path, expected_rank);
}

Dataset load_mnist(const std::string& dir, Split split) {
  namespace fs = std::filesystem;
  const std::string prefix = split == Split::Train ? "train" : "t10k";
  const std::string image_name = prefix + "-images-idx3-ubyte";
  const std::string label_name = prefix + "-labels-idx1-ubyte";
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    GAN_INPUT_FAIL("MNIST data directory " << dir << " does not exist or is not a directory; "
                   << "it should hold " << image_name << "[.gz] and " << label_name << "[.gz]");
  std::string missing;
  auto find = [&](const std::string& base) -> std::string {
    const std::string raw = (fs::path(dir) / base).string();
    if (fs::exists(raw, ec)) return raw;
    if (fs::exists(raw + ".gz", ec)) return raw + ".gz";
    missing += (missing.empty() ? "" : " and ") + base + " (or " + base + ".gz)";
    return std::string();
  };
  const std::string image_path = find(image_name);
  const std::string label_path = find(label_name);
  if (!missing.empty())
    GAN_INPUT_FAIL("MNIST data directory " << dir << " lacks " << missing);

  IdxArray images = read_idx(image_path, 3);
  IdxArray labels = read_idx(label_path, 1);
  if (images.dims[0] != labels.dims[0])
    GAN_INPUT_FAIL(image_path << " has " << images.dims[0] << " images but " << label_path
                              << " has " << labels.dims[0] << " labels; the counts must agree");
  for (size_t i = 0; i < labels.data.size(); ++i) {
    if (labels.data[i] > 9)
      GAN_INPUT_FAIL(label_path << ": label at index " << i << " is " << int(labels.data[i])
                                << "; labels must be 0..9");
  }
  Dataset ds;
  ds.count = static_cast<int>(images.dims[0]);
  ds.rows = static_cast<int>(images.dims[1]);
  ds.cols = static_cast<int>(images.dims[2]);
  ds.images = std::move(images.data);
  ds.labels = std::move(labels.data);
  return ds;
}

void write_idx(const std::string& path, const std::vector<uint32_t>& dims, const uint8_t* data) {
  GAN_CHECK(!dims.empty() && dims.size() <= 255, "IDX rank " << dims.size() << " for " << path);
  uint64_t bytes = 1;
  for (uint32_t d : dims) {
    GAN_CHECK(d > 0 && bytes <= kIdxMaxBytes / d,
              "IDX dimensions " << dims_text(dims) << " for " << path);
    bytes *= d;
  }
  GAN_CHECK(data != nullptr, "no data to write to " << path);

  std::vector<uint8_t> raw;
  raw.reserve(4 + 4 * dims.size() + bytes);
  raw.insert(raw.end(), {0, 0, 0x08, static_cast<uint8_t>(dims.size())});
  for (uint32_t d : dims) {
    raw.insert(raw.end(), {static_cast<uint8_t>(d >> 24), static_cast<uint8_t>(d >> 16),
                           static_cast<uint8_t>(d >> 8), static_cast<uint8_t>(d)});
  }
  raw.insert(raw.end(), data, data + bytes);
  if (!ends_with(path, ".gz")) {
    write_file_atomic(path, raw.data(), raw.size());
    return;
  }

  z_stream zs{};
  int rc = deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8,
                        Z_DEFAULT_STRATEGY);
  if (rc != Z_OK) GAN_FAIL("zlib deflateInit2 failed for " << path << ": " << zError(rc));
  std::vector<uint8_t> packed(deflateBound(&zs, static_cast<uLong>(raw.size())));
  zs.next_in = raw.data();
  zs.avail_in = static_cast<uInt>(raw.size());
  zs.next_out = packed.data();
  zs.avail_out = static_cast<uInt>(packed.size());
  rc = deflate(&zs, Z_FINISH);
  const size_t packed_size = zs.total_out;
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) GAN_FAIL("zlib deflate failed for " << path << ": " << zError(rc));
  write_file_atomic(path, packed.data(), packed_size);
}

}  // namespace gan
