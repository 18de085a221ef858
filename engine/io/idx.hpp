/*
 * idx.hpp — the MNIST IDX file format: strict reading (raw or gzip), loading a split, writing.
 *
 * An IDX file is a 4-byte magic number 00 00 TT RR (TT = element type, RR = rank), then RR
 * big-endian uint32 dimensions, then the elements in row-major order. Only type 0x08
 * (unsigned byte) is supported; MNIST images are rank 3 [count, rows, cols], labels rank 1.
 *
 * Reading is strict: every defect is an InputError that names the file and says what is
 * wrong (bad magic, another element type, wrong rank, a zero dimension, a size over 2^31 - 1
 * bytes, a missing or extra payload byte, a corrupt or truncated gzip stream with zlib's
 * reason). A gzip file is recognised by its magic 1f 8b and inflated incrementally: the
 * header is read first and the payload buffer grows with the inflated data (doubling from
 * 1 MiB) up to the size it implies, so a small file whose header claims gigabytes costs at
 * most twice what it really inflates to, and a stream that inflates to more than the header
 * implies is refused after at most a few KiB of extra output. Multi-member gzip
 * (concatenated streams, as written by pigz or `cat a.gz b.gz`) is accepted; anything after
 * the last member that is not another gzip member is refused.
 */
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace gan {

// An IDX file of unsigned bytes (type 0x08).
struct IdxArray {
  std::vector<uint32_t> dims;
  std::vector<uint8_t> data;  // row-major, size = product of dims
};

// Largest payload accepted or written, in bytes (so every count fits in an int).
constexpr uint64_t kIdxMaxBytes = (uint64_t(1) << 31) - 1;

// Parses an IDX byte buffer (raw, or gzip when it starts with 1f 8b). `name` is the file name
// used in error messages. expected_rank: 1 for labels, 3 for images (0 = any).
IdxArray parse_idx(const uint8_t* bytes, size_t n, const std::string& name, int expected_rank);
IdxArray read_idx(const std::string& path, int expected_rank);

// images [count, rows*cols] uint8, labels [count] in 0..9.
struct Dataset {
  std::vector<uint8_t> images, labels;
  int count = 0, rows = 0, cols = 0;
  int dim() const { return rows * cols; }
};

enum class Split { Train, Test };

// Finds <dir>/train-images-idx3-ubyte[.gz] + train-labels-idx1-ubyte[.gz] (t10k-* for Test),
// preferring the raw file when both exist. InputError naming the directory and the expected
// names if one is missing; naming the file when image and label counts disagree or a label
// is outside 0..9.
Dataset load_mnist(const std::string& dir, Split split);

// Writes uint8 data as IDX (gzip-compressed when the path ends in ".gz"), atomically.
void write_idx(const std::string& path, const std::vector<uint32_t>& dims, const uint8_t* data);

}  // namespace gan
