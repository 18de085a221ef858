/*
 * test_idx.cpp — IDX reading and writing: the bundled MNIST splits, raw vs gzip, round trips,
 * and every malformed input (each must be an InputError naming the file and the problem).
 * Fixtures are built in memory; files go to a fresh temporary directory per test.
 */
#include <doctest/doctest.h>
#include <stdlib.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "engine/io/atomic_file.hpp"
#include "engine/base/error.hpp"
#include "engine/io/idx.hpp"
#include "tests/support/limited_child.hpp"
#include "tests/support/process_runner.hpp"

namespace fs = std::filesystem;

namespace {

using Bytes = std::vector<uint8_t>;

const std::string kMnistDir = GAN_SOURCE_DIR "/data/mnist";

using gan::test::TempDir;

void put_u32(Bytes& b, uint32_t v) {  // big-endian, byte by byte
  for (int shift = 24; shift >= 0; shift -= 8) b.push_back(uint8_t(v >> shift));
}

// An IDX file built by hand: magic 00 00 type rank, big-endian dims, payload.
Bytes make_idx(uint8_t type, const std::vector<uint32_t>& dims, const Bytes& payload) {
  Bytes b = {0, 0, type, uint8_t(dims.size())};
  for (uint32_t d : dims) put_u32(b, d);
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

Bytes iota_bytes(size_t n, uint8_t start = 0) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = uint8_t(start + i * 7);
  return b;
}

// One gzip member of `raw`, made with zlib directly (independent of the code under test).
Bytes gzip(const Bytes& raw, int level = 6) {
  z_stream zs{};
  REQUIRE(deflateInit2(&zs, level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  Bytes out(deflateBound(&zs, raw.size()));
  zs.next_in = const_cast<Bytef*>(raw.data());
  zs.avail_in = uInt(raw.size());
  zs.next_out = out.data();
  zs.avail_out = uInt(out.size());
  REQUIRE(deflate(&zs, Z_FINISH) == Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

Bytes gunzip(const Bytes& gz) {
  z_stream zs{};
  REQUIRE(inflateInit2(&zs, 16 + MAX_WBITS) == Z_OK);
  zs.next_in = const_cast<Bytef*>(gz.data());
  zs.avail_in = uInt(gz.size());
  Bytes out;
  uint8_t buf[1 << 16];
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    zs.next_out = buf;
    zs.avail_out = sizeof buf;
    rc = inflate(&zs, Z_NO_FLUSH);
    REQUIRE((rc == Z_OK || rc == Z_STREAM_END));
    out.insert(out.end(), buf, buf + (sizeof buf - zs.avail_out));
  }
  inflateEnd(&zs);
  return out;
}

void write_bytes(const std::string& path, const Bytes& b) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
  REQUIRE(f.good());
}

// The message of the InputError that f throws (a failed check if it throws nothing).
template <class F>
std::string input_error(F&& f) {
  try {
    f();
  } catch (const gan::InputError& e) {
    return e.what();
  }
  FAIL("expected a gan::InputError");
  return std::string();
}

bool has(const std::string& msg, const std::string& part) {
  return msg.find(part) != std::string::npos;
}

std::string parse_error(const Bytes& b, const std::string& name, int rank) {
  return input_error([&] { gan::parse_idx(b.data(), b.size(), name, rank); });
}

// A small valid MNIST-like split: `count` images of 2x3 and labels i % 10.
void write_split(const TempDir& dir, const std::string& prefix, uint32_t images,
                 uint32_t labels, const std::string& suffix = "") {
  Bytes lab(labels);
  for (uint32_t i = 0; i < labels; ++i) lab[i] = uint8_t(i % 10);
  Bytes img = make_idx(0x08, {images, 2, 3}, iota_bytes(size_t(images) * 6));
  Bytes lbl = make_idx(0x08, {labels}, lab);
  if (suffix == ".gz") {
    img = gzip(img);
    lbl = gzip(lbl);
  }
  write_bytes(dir / (prefix + "-images-idx3-ubyte" + suffix), img);
  write_bytes(dir / (prefix + "-labels-idx1-ubyte" + suffix), lbl);
}

}  // namespace

// ---- the bundled data --------------------------------------------------------------

TEST_CASE("idx: the bundled MNIST is the complete official set: 60000 + 10000 28x28 digits") {
  // The official class counts (LeCun et al.), training and test split.
  const std::array<int, 10> official[2] = {
      {5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949},
      {980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009}};
  for (gan::Split split : {gan::Split::Train, gan::Split::Test}) {
    const bool train = split == gan::Split::Train;
    CAPTURE(train ? "train" : "test");
    const int count = train ? 60000 : 10000;
    const gan::Dataset ds = gan::load_mnist(kMnistDir, split);
    CHECK(ds.count == count);
    CHECK(ds.rows == 28);
    CHECK(ds.cols == 28);
    CHECK(ds.dim() == 784);
    REQUIRE(ds.images.size() == size_t(count) * 784);
    REQUIRE(ds.labels.size() == size_t(count));
    std::array<int, 10> per_class{};
    for (uint8_t l : ds.labels) {
      REQUIRE(l <= 9);
      ++per_class[l];
    }
    CHECK(per_class == official[train ? 0 : 1]);
    // Digits are bright strokes on a black background: corners black, some pixels saturated.
    long long ink = 0;
    uint8_t hi = 0;
    for (int i = 0; i < ds.count; ++i) {
      const uint8_t* im = &ds.images[size_t(i) * 784];
      REQUIRE(im[0] == 0);
      REQUIRE(im[783] == 0);
      for (int p = 0; p < 784; ++p) ink += im[p];
      hi = std::max(hi, *std::max_element(im, im + 784));
    }
    CHECK(hi == 255);
    const double mean = double(ink) / (double(count) * 784 * 255);
    CHECK(mean > 0.12);  // MNIST's mean pixel is 0.1307 (train) and 0.1325 (test)
    CHECK(mean < 0.14);
  }
  // The first labels of the official test and training sets.
  const gan::Dataset test = gan::load_mnist(kMnistDir, gan::Split::Test);
  CHECK(Bytes(test.labels.begin(), test.labels.begin() + 8) == Bytes{7, 2, 1, 0, 4, 1, 4, 9});
  const gan::Dataset train = gan::load_mnist(kMnistDir, gan::Split::Train);
  CHECK(Bytes(train.labels.begin(), train.labels.begin() + 8) == Bytes{5, 0, 4, 1, 9, 2, 1, 3});
}

TEST_CASE("idx: raw and gzip files of the same bytes load identically: raw is preferred") {
  TempDir dir("idx");
  for (const char* base : {"train-images-idx3-ubyte", "train-labels-idx1-ubyte"}) {
    const Bytes gz = gan::read_file(kMnistDir + "/" + base + ".gz");
    write_bytes(dir / base, gunzip(gz));
  }
  const gan::Dataset from_gz = gan::load_mnist(kMnistDir, gan::Split::Train);
  const gan::Dataset from_raw = gan::load_mnist(dir.path(), gan::Split::Train);
  CHECK(from_raw.count == from_gz.count);
  CHECK(from_raw.rows == from_gz.rows);
  CHECK(from_raw.cols == from_gz.cols);
  CHECK(from_raw.images == from_gz.images);
  CHECK(from_raw.labels == from_gz.labels);

  // With both present, the raw file wins: here the .gz pair holds a different (valid) split.
  write_split(dir, "train", 7, 7, ".gz");
  CHECK(gan::load_mnist(dir.path(), gan::Split::Train).count == 60000);
  fs::remove(dir / "train-images-idx3-ubyte");
  fs::remove(dir / "train-labels-idx1-ubyte");
  const gan::Dataset small = gan::load_mnist(dir.path(), gan::Split::Train);
  CHECK(small.count == 7);
  CHECK(small.rows == 2);
  CHECK(small.cols == 3);
  CHECK(small.images == iota_bytes(42));
  CHECK(small.labels == Bytes{0, 1, 2, 3, 4, 5, 6});
}

// ---- writing -----------------------------------------------------------------------

TEST_CASE("idx: write_idx compresses exactly the paths ending in .gz, however short") {
  TempDir dir("idx_short");
  const Bytes data = iota_bytes(6, 1);
  // relative paths no longer than the suffix, written from inside the directory
  {
    struct Cd {  // back to the old working directory however the block ends
      std::filesystem::path old = std::filesystem::current_path();
      ~Cd() { std::filesystem::current_path(old); }
    } cd;
    std::filesystem::current_path(dir.path());
    gan::write_idx(".gz", {6}, data.data());
    gan::write_idx("gz", {6}, data.data());
    gan::write_idx("a", {6}, data.data());
  }
  const Bytes gz = gan::read_file(dir / ".gz"), two = gan::read_file(dir / "gz"),
              one = gan::read_file(dir / "a");
  REQUIRE((gz.size() >= 2 && two.size() >= 4 && one.size() >= 4));
  CHECK((gz[0] == 0x1f && gz[1] == 0x8b));  // gzip's magic
  CHECK(Bytes(two.begin(), two.begin() + 4) == Bytes{0, 0, 0x08, 1});  // IDX's
  CHECK(one == two);
  CHECK(gan::read_idx(dir / ".gz", 1).data == data);
}

TEST_CASE("idx: write_idx -> read_idx round trips for .idx and .idx.gz") {
  TempDir dir("idx");
  const std::vector<std::vector<uint32_t>> shapes = {{1}, {13}, {3, 5, 7}, {2, 1, 3, 4}};
  for (const auto& dims : shapes) {
    size_t n = 1;
    for (uint32_t d : dims) n *= d;
    const Bytes data = iota_bytes(n, 3);
    CAPTURE(dims.size());
    CAPTURE(n);

    const std::string raw = dir / "a.idx";
    gan::write_idx(raw, dims, data.data());
    CHECK(gan::read_file(raw) == make_idx(0x08, dims, data));  // the exact format
    const gan::IdxArray a = gan::read_idx(raw, 0);
    CHECK(a.dims == dims);
    CHECK(a.data == data);

    const std::string gz = dir / "a.idx.gz";
    gan::write_idx(gz, dims, data.data());
    const Bytes packed = gan::read_file(gz);
    REQUIRE(packed.size() >= 2);
    CHECK(packed[0] == 0x1f);
    CHECK(packed[1] == 0x8b);
    CHECK(gunzip(packed) == make_idx(0x08, dims, data));
    const gan::IdxArray b = gan::read_idx(gz, int(dims.size()));
    CHECK(b.dims == dims);
    CHECK(b.data == data);
  }
  // Overwriting replaces the old file completely and leaves no temporary beside it.
  const std::vector<uint32_t> small = {2};
  const Bytes two = {9, 8};
  gan::write_idx(dir / "a.idx", small, two.data());
  CHECK(gan::read_idx(dir / "a.idx", 1).data == two);
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir.path())) files += e.is_regular_file() ? 1 : 0;
  CHECK(files == 2);
}

TEST_CASE("idx: write_idx refuses impossible shapes and unwritable paths") {
  const Bytes data(8, 1);
  TempDir dir("idx");
  const std::string path = dir / "never-written.idx";
  CHECK_THROWS_AS(gan::write_idx(path, {}, data.data()), gan::Error);
  CHECK_THROWS_AS(gan::write_idx(path, {2, 0}, data.data()), gan::Error);
  CHECK_THROWS_AS(gan::write_idx(path, {65536, 65536}, data.data()), gan::Error);
  CHECK(!fs::exists(path));
  const std::string bad = "/nonexistent-gan-dir/sub/x.idx";
  CHECK_THROWS_WITH_AS(gan::write_idx(bad, {8}, data.data()), doctest::Contains(bad.c_str()),
                       gan::Error);
}

// ---- malformed headers and payloads ------------------------------------------------

TEST_CASE("idx: a bad magic number is refused") {
  Bytes b = make_idx(0x08, {2, 3, 4}, iota_bytes(24));
  b[0] = 0x01;
  const std::string msg = parse_error(b, "fixture.idx", 3);
  CHECK(has(msg, "fixture.idx: "));
  CHECK(has(msg, "not an IDX file"));
  CHECK(has(msg, "0x01000803"));
  b[0] = 0;
  b[1] = 0x50;
  CHECK(has(parse_error(b, "fixture.idx", 3), "magic number 0x00500803"));
  // gzip's first byte without its second is no gzip stream: read as raw, a bad magic
  b[0] = 0x1f;
  b[1] = 0x00;
  CHECK(has(parse_error(b, "fixture.idx", 3), "not an IDX file: the magic number 0x1F000803"));
}

TEST_CASE("idx: an element type other than unsigned byte is refused, naming the type") {
  for (auto [type, words] : std::vector<std::pair<uint8_t, std::string>>{
           {0x09, "0x09 (signed byte)"},
           {0x0B, "0x0B (16-bit integer)"},
           {0x0C, "0x0C (32-bit integer)"},
           {0x0D, "0x0D (32-bit float)"},
           {0x0E, "0x0E (64-bit float)"},
           {0x42, "0x42 (unknown type)"}}) {
    const std::string msg = parse_error(make_idx(type, {2, 3, 4}, iota_bytes(24)), "t.idx", 3);
    CAPTURE(msg);
    CHECK(has(msg, "t.idx: element type " + words));
    CHECK(has(msg, "only type 0x08"));
  }
}

TEST_CASE("idx: a rank other than the expected one is refused") {
  const Bytes flat = make_idx(0x08, {60, 784}, iota_bytes(60 * 784));
  const std::string msg = parse_error(flat, "images.idx", 3);
  CHECK(has(msg, "images.idx: rank 2 but rank 3 expected"));
  CHECK(has(msg, "[count, rows, cols]"));
  const Bytes imgs = make_idx(0x08, {2, 2, 2}, iota_bytes(8));
  CHECK(has(parse_error(imgs, "labels.idx", 1), "labels.idx: rank 3 but rank 1 expected"));
  CHECK(gan::parse_idx(flat.data(), flat.size(), "any.idx", 0).dims ==
        std::vector<uint32_t>{60, 784});
  const Bytes rank0 = {0, 0, 8, 0, 42};
  CHECK(has(parse_error(rank0, "r0.idx", 0), "r0.idx: rank 0"));
}

TEST_CASE("idx: a zero dimension is refused") {
  const Bytes b = make_idx(0x08, {5, 0, 28}, {});
  const std::string msg = parse_error(b, "zero.idx", 3);
  CHECK(has(msg, "zero.idx: dimension 1 is 0"));
  CHECK(has(msg, "5x0x28"));
}

TEST_CASE("idx: dimensions whose product is too large or overflows are refused") {
  struct Case {
    std::vector<uint32_t> dims;
    std::string text;
  };
  std::vector<Case> cases = {
      {{65536, 65536, 2}, "65536x65536x2"},                             // 2^33 bytes
      {{2147483648u}, "2147483648"},                                     // 2^31 bytes
      {{4294967295u, 4294967295u, 4294967295u}, "4294967295x4294967295"},  // over 2^64
  };
  std::vector<uint32_t> twos(255, 2);  // 2^255 overflows any 64-bit product
  cases.push_back({twos, "2x2x2x2"});
  for (const Case& c : cases) {
    const std::string msg = parse_error(make_idx(0x08, c.dims, {1, 2, 3}), "big.idx", 0);
    CAPTURE(msg);
    CHECK(has(msg, "big.idx: dimensions " + c.text));
    CHECK(has(msg, "more than 2147483647 bytes"));
  }
  // Just under the limit is fine as far as the header goes; the short raw payload is then
  // refused (before 2 GiB are allocated for it).
  const std::string msg = parse_error(make_idx(0x08, {2147483647u}, {1, 2}), "edge.idx", 1);
  CHECK(has(msg, "edge.idx: header says 2147483647 labels = 2147483647 bytes but the payload "
                 "has 2 (2147483645 missing)"));
}

TEST_CASE("idx: truncated headers are refused") {
  CHECK(has(parse_error({}, "empty.idx", 3), "empty.idx: too short for an IDX file"));
  CHECK(has(parse_error({0, 0, 8}, "three.idx", 3), "only 3 bytes,"));
  CHECK(has(parse_error({0}, "one.idx", 3), "it has only 1 byte,"));
  Bytes b = make_idx(0x08, {2, 3, 4}, {});
  b.resize(4 + 5);
  const std::string msg = parse_error(b, "hdr.idx", 3);
  CHECK(has(msg, "hdr.idx: the IDX header is truncated"));
  CHECK(has(msg, "needs 12 bytes of dimensions"));
  CHECK(has(msg, "only 5"));
}

TEST_CASE("idx: a payload shorter or longer than the header says is refused") {
  const Bytes good = make_idx(0x08, {2, 3, 4}, iota_bytes(24));
  CHECK(gan::parse_idx(good.data(), good.size(), "ok.idx", 3).data == iota_bytes(24));

  Bytes shorter = good;
  shorter.pop_back();
  std::string msg = parse_error(shorter, "short.idx", 3);
  CHECK(has(msg, "short.idx: header says 2 images of 3x4 = 24 bytes but the payload has 23"));
  CHECK(has(msg, "1 missing"));

  Bytes longer = good;
  longer.push_back(0);
  msg = parse_error(longer, "long.idx", 3);
  CHECK(has(msg, "long.idx: header says 2 images of 3x4 = 24 bytes but the payload has 25"));
  CHECK(has(msg, "1 trailing byte"));

  const Bytes labels = make_idx(0x08, {10}, iota_bytes(7));
  CHECK(has(parse_error(labels, "l.idx", 1),
            "l.idx: header says 10 labels = 10 bytes but the payload has 7"));
}

// ---- gzip --------------------------------------------------------------------------

TEST_CASE("idx: gzip input decodes like raw input: multi-member gzip is accepted") {
  const Bytes raw = make_idx(0x08, {4, 5, 6}, iota_bytes(120));
  const Bytes gz = gzip(raw);
  const gan::IdxArray a = gan::parse_idx(gz.data(), gz.size(), "g.idx.gz", 3);
  CHECK(a.dims == std::vector<uint32_t>{4, 5, 6});
  CHECK(a.data == iota_bytes(120));

  // The same bytes split across three members, cut inside the header and inside the payload.
  Bytes multi;
  for (auto [from, to] : {std::pair<size_t, size_t>{0, 6}, {6, 50}, {50, raw.size()}}) {
    const Bytes part = gzip(Bytes(raw.begin() + from, raw.begin() + to));
    multi.insert(multi.end(), part.begin(), part.end());
  }
  const gan::IdxArray m = gan::parse_idx(multi.data(), multi.size(), "m.idx.gz", 3);
  CHECK(m.dims == a.dims);
  CHECK(m.data == a.data);

  // Anything after the last member that is not another member is refused.
  Bytes junk = gz;
  junk.insert(junk.end(), {0, 0, 0});
  const std::string msg = parse_error(junk, "junk.idx.gz", 3);
  CHECK(has(msg, "junk.idx.gz: 3 bytes after the end of the gzip stream"));
  CHECK(has(msg, "not another gzip member"));
}

TEST_CASE("idx: corrupt gzip streams are refused with zlib's reason") {
  const Bytes raw = make_idx(0x08, {4, 5, 6}, iota_bytes(120));
  const Bytes gz = gzip(raw);

  Bytes bad_crc = gz;  // the trailer is CRC32 then ISIZE, little-endian
  bad_crc[bad_crc.size() - 8] ^= 0xFF;
  std::string msg = parse_error(bad_crc, "crc.idx.gz", 3);
  CHECK(has(msg, "crc.idx.gz: corrupt gzip data: incorrect data check"));

  Bytes bad_len = gz;
  bad_len[bad_len.size() - 1] ^= 0x01;
  CHECK(has(parse_error(bad_len, "len.idx.gz", 3), "len.idx.gz: corrupt gzip data: incorrect "
                                                   "length check"));

  Bytes bad_method = gz;
  bad_method[2] = 0x07;  // compression method 8 (deflate) is the only one
  CHECK(has(parse_error(bad_method, "method.idx.gz", 3),
            "method.idx.gz: corrupt gzip data: unknown compression method"));

  Bytes bad_block = gzip(raw, 0);  // stored blocks: byte 10 holds the block header
  bad_block[10] = 0x07;            // BFINAL=1, BTYPE=3 (reserved)
  CHECK(has(parse_error(bad_block, "block.idx.gz", 3),
            "block.idx.gz: corrupt gzip data: invalid block type"));
}

TEST_CASE("idx: truncated gzip streams are refused") {
  const Bytes raw = make_idx(0x08, {4, 5, 6}, iota_bytes(120));
  const Bytes gz = gzip(raw);
  for (size_t keep : {gz.size() - 1, gz.size() - 8, gz.size() / 2, size_t(12), size_t(2)}) {
    CAPTURE(keep);
    const Bytes cut(gz.begin(), gz.begin() + keep);
    const std::string msg = parse_error(cut, "cut.idx.gz", 3);
    CAPTURE(msg);
    CHECK(has(msg, "cut.idx.gz: the gzip stream is truncated"));
  }
  // A complete stream whose payload is short is a payload error, not a gzip one.
  Bytes short_raw = raw;
  short_raw.resize(raw.size() - 3);
  const Bytes gz_short = gzip(short_raw);
  CHECK(has(parse_error(gz_short, "s.idx.gz", 3),
            "s.idx.gz: header says 4 images of 5x6 = 120 bytes but the payload has 117"));
}

TEST_CASE("idx: gzip that inflates to more than the header implies is refused early") {
  Bytes one_more = make_idx(0x08, {2, 3, 4}, iota_bytes(25));
  CHECK(has(parse_error(gzip(one_more), "p.idx.gz", 3),
            "p.idx.gz: header says 2 images of 3x4 = 24 bytes but the payload has 25 "
            "(1 trailing byte)"));

  // A bomb: a 24-byte header claim followed by 64 MiB of zeros (about 64 KiB compressed).
  Bytes bomb = make_idx(0x08, {2, 3, 4}, {});
  bomb.resize(bomb.size() + (size_t(64) << 20), 0);
  const Bytes packed = gzip(bomb, 9);
  bomb.clear();
  bomb.shrink_to_fit();
  const std::string msg = parse_error(packed, "bomb.idx.gz", 3);
  CAPTURE(msg);
  CHECK(has(msg, "bomb.idx.gz: header says 2 images of 3x4 = 24 bytes but the payload has "
                 "more than"));
  // The count it reports is what it inflated before stopping: far less than the 64 MiB.
  const size_t at = msg.find("more than ") + 10;
  const long long reported = std::stoll(msg.substr(at));
  CHECK(reported > 24);
  CHECK(reported < (1 << 20));
}

// ---- memory ------------------------------------------------------------------------

// Parses `b` in a child whose address space may grow by at most `extra` bytes (exit status:
// see run_in_limited_child).
int parse_in_limited_child(const Bytes& b, const std::string& want, size_t extra) {
  return gan::test::run_in_limited_child([&] { gan::parse_idx(b.data(), b.size(), "lie.idx", 0); },
                                         want, extra);
}

TEST_CASE("idx: a header that claims 2 GiB costs no more memory than the data it really holds") {
#if GAN_HAS_ASAN_FEATURE
  MESSAGE("skipped under AddressSanitizer: an address-space limit cannot bound its processes");
  return;
#endif
  constexpr size_t kLimit = size_t(256) << 20;  // the child may grow by 256 MiB, not 2 GiB
  const uint32_t claim = 2147483647u;            // the largest payload a header may claim
  // raw: 16 bytes where the header says 2 GiB; refused before anything is allocated for it
  CHECK(parse_in_limited_child(make_idx(0x08, {claim}, iota_bytes(16)),
                               "lie.idx: header says 2147483647 labels", kLimit) == 0);
  // gzip, small: the buffer starts at 1 MiB, not at the header's 2 GiB
  CHECK(parse_in_limited_child(gzip(make_idx(0x08, {claim}, iota_bytes(4096))),
                               "but the payload has 4096 (", kLimit) == 0);
  // gzip, 48 MiB of real data: the buffer doubles with the data (64 MiB, plus the 32 MiB it
  // grew from), never to the header's 2 GiB
  Bytes big = make_idx(0x08, {claim}, {});
  big.resize(big.size() + (size_t(48) << 20), 7);
  const Bytes packed = gzip(big, 1);
  big.clear();
  big.shrink_to_fit();
  CHECK(parse_in_limited_child(packed, "but the payload has 50331648 (", kLimit) == 0);
  // the limit does not get in the way of a file that really is 48 MiB ...
  Bytes real = make_idx(0x08, {uint32_t(48) << 20}, {});
  real.resize(real.size() + (size_t(48) << 20), 7);
  CHECK(parse_in_limited_child(gzip(real, 1), "", kLimit) == 5);
  // ... and under a 16 MiB limit the same file runs out of memory, which the child reports
  CHECK(parse_in_limited_child(gzip(real, 1), "", size_t(16) << 20) == 3);
}

// ---- load_mnist --------------------------------------------------------------------

TEST_CASE("idx: load_mnist refuses labels outside 0..9, naming the first bad index") {
  TempDir dir("idx");
  write_split(dir, "train", 4, 4);
  write_bytes(dir / "train-labels-idx1-ubyte", make_idx(0x08, {4}, {3, 9, 10, 255}));
  const std::string msg = input_error([&] { gan::load_mnist(dir.path(), gan::Split::Train); });
  CHECK(has(msg, dir / "train-labels-idx1-ubyte"));
  CHECK(has(msg, "label at index 2 is 10"));
  CHECK(has(msg, "0..9"));
}

TEST_CASE("idx: load_mnist refuses image and label counts that disagree") {
  TempDir dir("idx");
  write_split(dir, "t10k", 5, 4, ".gz");
  const std::string msg = input_error([&] { gan::load_mnist(dir.path(), gan::Split::Test); });
  CHECK(has(msg, dir / "t10k-images-idx3-ubyte.gz"));
  CHECK(has(msg, "has 5 images"));
  CHECK(has(msg, dir / "t10k-labels-idx1-ubyte.gz"));
  CHECK(has(msg, "has 4 labels"));
}

TEST_CASE("idx: load_mnist checks the rank of each file") {
  TempDir dir("idx");
  write_split(dir, "train", 3, 3);
  write_bytes(dir / "train-images-idx3-ubyte", make_idx(0x08, {3, 6}, iota_bytes(18)));
  std::string msg = input_error([&] { gan::load_mnist(dir.path(), gan::Split::Train); });
  CHECK(has(msg, dir / "train-images-idx3-ubyte: rank 2 but rank 3 expected"));
  write_split(dir, "train", 3, 3);
  write_bytes(dir / "train-labels-idx1-ubyte", make_idx(0x08, {3, 1}, {1, 2, 3}));
  msg = input_error([&] { gan::load_mnist(dir.path(), gan::Split::Train); });
  CHECK(has(msg, dir / "train-labels-idx1-ubyte: rank 2 but rank 1 expected"));
}

TEST_CASE("idx: load_mnist names the directory and the expected files when some are missing") {
  TempDir dir("idx");
  std::string msg = input_error([&] { gan::load_mnist(dir.path(), gan::Split::Train); });
  CHECK(has(msg, "MNIST data directory " + dir.path() + " lacks"));
  CHECK(has(msg, "train-images-idx3-ubyte (or train-images-idx3-ubyte.gz)"));
  CHECK(has(msg, "train-labels-idx1-ubyte (or train-labels-idx1-ubyte.gz)"));

  write_split(dir, "t10k", 2, 2);
  fs::remove(dir / "t10k-labels-idx1-ubyte");
  msg = input_error([&] { gan::load_mnist(dir.path(), gan::Split::Test); });
  CHECK(has(msg, "lacks t10k-labels-idx1-ubyte (or t10k-labels-idx1-ubyte.gz)"));
  CHECK(!has(msg, "t10k-images"));

  const std::string nowhere = dir / "no-such-dir";
  msg = input_error([&] { gan::load_mnist(nowhere, gan::Split::Train); });
  CHECK(has(msg, nowhere + " does not exist"));
  CHECK(has(msg, "train-images-idx3-ubyte[.gz]"));

  msg = input_error([&] { gan::read_idx(dir / "absent.idx", 1); });
  CHECK(has(msg, dir / "absent.idx"));
}
