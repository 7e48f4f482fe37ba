// .npy reader/writer against the format numpy writes (NEP 1).
#include "npy.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <string>

#include <unistd.h>

using qcc_host::NpyArray;

TEST(Npy, ParsesNumpyHeaderV1) {
  // Bytes as numpy 1.x/2.x writes np.arange(6, dtype=np.float32).reshape(2, 3).
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  header.append(128 - 10 - header.size() - 1, ' ');
  header += '\n';
  std::string file = std::string("\x93NUMPY\x01\x00", 8) + char(header.size()) + '\0' + header;
  float vals[6] = {0, 1, 2, 3, 4, 5};
  file.append(reinterpret_cast<char *>(vals), sizeof vals);
  NpyArray a;
  std::string err;
  ASSERT_TRUE(qcc_host::parseNpy(file.data(), file.size(), a, err)) << err;
  EXPECT_EQ(a.dtype, "<f4");
  EXPECT_EQ(a.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(std::memcmp(a.data.data(), vals, sizeof vals), 0);
}

TEST(Npy, RoundTripsAndRejectsTruncation) {
  NpyArray a;
  a.dtype = "<i8";
  a.shape = {3};
  int64_t v[3] = {-1, 0, 1LL << 40};
  a.data.assign(reinterpret_cast<char *>(v), reinterpret_cast<char *>(v) + sizeof v);
  // Per process: test runs from several build folders may share /tmp.
  auto path = (std::filesystem::temp_directory_path() / ("qcc_npy_roundtrip_" + std::to_string(::getpid()) + ".npy"))
                  .string();
  std::string err;
  ASSERT_TRUE(qcc_host::writeNpy(path, a, err)) << err;
  NpyArray b;
  ASSERT_TRUE(qcc_host::readNpy(path, b, err)) << err;
  EXPECT_EQ(b.shape, a.shape);
  EXPECT_EQ(b.data, a.data);
  std::filesystem::resize_file(path, std::filesystem::file_size(path) - 4);
  EXPECT_FALSE(qcc_host::readNpy(path, b, err));
  EXPECT_NE(err.find("truncated"), std::string::npos) << err;
  std::filesystem::remove(path);
}

TEST(Npy, RejectsFortranOrderAndOddDtypes) {
  for (std::string dict : {"{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }",
                           "{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }"}) {
    std::string file = std::string("\x93NUMPY\x01\x00", 8) + char(dict.size()) + '\0' + dict + std::string(16, '\0');
    NpyArray a;
    std::string err;
    EXPECT_FALSE(qcc_host::parseNpy(file.data(), file.size(), a, err));
    EXPECT_FALSE(err.empty());
  }
}
