// chromium.h: renders an HTML file in headless Chromium (Debian's `chromium`) for the report tests:
// the DOM after its scripts ran, and a screenshot decoded enough to count its distinct colours
// (a blank or failed page is one or two colours).
#pragma once

#include <unistd.h>
#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace hrm::testing {

// The Chromium binary on PATH, or "" (tests skip then; CI installs it).
inline std::string find_chromium() {
  for (const char* name : {"chromium", "chromium-browser", "google-chrome"}) {
    const std::string cmd = std::string("command -v ") + name + " >/dev/null 2>&1";
    if (std::system(cmd.c_str()) == 0) return name;
  }
  return "";
}

inline std::string chromium_profile() { return "/tmp/hrm_chromium_profile_" + std::to_string(::getpid()); }

inline std::string chromium_flags() {
  // No sandbox (containers run as root), no GPU, a fixed virtual time so scripts finish first, and
  // a profile of our own (removed after each run) so parallel tests do not share one.
  return " --headless --no-sandbox --disable-gpu --hide-scrollbars --virtual-time-budget=5000 --user-data-dir=" +
         chromium_profile();
}

inline void remove_chromium_profile() {
  if (std::system(("rm -rf '" + chromium_profile() + "'").c_str()) != 0) std::fprintf(stderr, "cannot remove %s\n", chromium_profile().c_str());
}

inline std::string run_capture(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  ::pclose(p);
  return out;
}

inline std::string chromium_dump_dom(const std::string& chromium, const std::string& html_path) {
  const std::string dom = run_capture(chromium + chromium_flags() + " --dump-dom 'file://" + html_path + "' 2>/dev/null");
  remove_chromium_profile();
  return dom;
}

inline bool chromium_screenshot(const std::string& chromium, const std::string& html_path, const std::string& png,
                                int width, int height) {
  const std::string cmd = chromium + chromium_flags() + " --screenshot='" + png + "' --window-size=" +
                          std::to_string(width) + "," + std::to_string(height) + " 'file://" + html_path +
                          "' >/dev/null 2>&1";
  const bool ok = std::system(cmd.c_str()) == 0;
  remove_chromium_profile();
  return ok;
}

struct PngInfo {
  uint32_t width = 0, height = 0;
  size_t distinct_colours = 0;  // over every pixel
  std::string error;
};

// Decodes an 8-bit RGB or RGBA, non-interlaced PNG (what Chromium writes): IHDR, the IDAT stream
// inflated, each scanline unfiltered (PNG filters 0-4), pixels collected.
inline PngInfo decode_png(const std::string& path) {
  PngInfo info;
  std::ifstream f(path, std::ios::binary);
  const std::string b((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  auto u32 = [&](size_t i) {
    return uint32_t(uint8_t(b[i])) << 24 | uint32_t(uint8_t(b[i + 1])) << 16 | uint32_t(uint8_t(b[i + 2])) << 8 | uint8_t(b[i + 3]);
  };
  if (b.size() < 33 || b.compare(1, 3, "PNG") != 0) return info.error = "not a PNG", info;
  std::string idat;
  int bit_depth = 0, colour_type = 0, interlace = 0;
  for (size_t i = 8; i + 8 <= b.size();) {
    const uint32_t len = u32(i);
    const std::string type = b.substr(i + 4, 4);
    if (type == "IHDR") {
      info.width = u32(i + 8), info.height = u32(i + 12);
      bit_depth = uint8_t(b[i + 16]), colour_type = uint8_t(b[i + 17]), interlace = uint8_t(b[i + 20]);
    } else if (type == "IDAT") {
      idat += b.substr(i + 8, len);
    }
    i += 12 + len;
  }
  if (bit_depth != 8 || (colour_type != 2 && colour_type != 6) || interlace != 0)
    return info.error = "unsupported PNG layout", info;
  const size_t bpp = colour_type == 6 ? 4 : 3, stride = info.width * bpp;
  std::vector<uint8_t> raw((stride + 1) * info.height);
  uLongf raw_len = raw.size();
  if (uncompress(raw.data(), &raw_len, reinterpret_cast<const Bytef*>(idat.data()), idat.size()) != Z_OK || raw_len != raw.size())
    return info.error = "bad IDAT stream", info;
  std::vector<uint8_t> prev(stride, 0), cur(stride);
  std::set<uint32_t> colours;
  for (uint32_t y = 0; y < info.height; ++y) {
    const uint8_t filter = raw[y * (stride + 1)];
    const uint8_t* src = &raw[y * (stride + 1) + 1];
    for (size_t x = 0; x < stride; ++x) {
      const int a = x >= bpp ? cur[x - bpp] : 0, up = prev[x], c = x >= bpp ? prev[x - bpp] : 0;
      int pred = 0;
      switch (filter) {
        case 1: pred = a; break;
        case 2: pred = up; break;
        case 3: pred = (a + up) / 2; break;
        case 4: {
          const int p = a + up - c, pa = std::abs(p - a), pb = std::abs(p - up), pc = std::abs(p - c);
          pred = pa <= pb && pa <= pc ? a : pb <= pc ? up : c;
          break;
        }
        default: break;
      }
      cur[x] = static_cast<uint8_t>(src[x] + pred);
    }
    for (size_t x = 0; x + 2 < stride; x += bpp) colours.insert(uint32_t(cur[x]) << 16 | uint32_t(cur[x + 1]) << 8 | cur[x + 2]);
    prev.swap(cur);
  }
  info.distinct_colours = colours.size();
  return info;
}

inline size_t count_of(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t p = haystack.find(needle); p != std::string::npos; p = haystack.find(needle, p + needle.size())) ++n;
  return n;
}

}  // namespace hrm::testing
