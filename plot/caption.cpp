#include "plot/caption.hpp"

#include <ft2build.h>
#include FT_FREETYPE_H

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>

namespace lz {

std::string caption_font_path() {
  const char* env = std::getenv("LZ_FONT");
  if (env && *env) return env;
  return "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
}

namespace {

// UTF-8 to code points; a malformed byte becomes U+FFFD (so a caption never throws).
std::vector<char32_t> decode_utf8(const std::string& s) {
  std::vector<char32_t> out;
  for (size_t i = 0; i < s.size();) {
    const unsigned char b = static_cast<unsigned char>(s[i]);
    const int extra = b < 0x80 ? 0 : (b >> 5) == 0x6 ? 1 : (b >> 4) == 0xe ? 2 : (b >> 3) == 0x1e ? 3 : -1;
    if (extra < 0 || (extra > 0 && i + extra >= s.size())) {
      out.push_back(0xfffd), ++i;
      continue;
    }
    char32_t c = extra == 0 ? b : b & (0x3f >> extra);
    bool ok = true;
    for (int k = 1; k <= extra; ++k) {
      const unsigned char t = static_cast<unsigned char>(s[i + k]);
      if ((t >> 6) != 0x2) ok = false;
      c = (c << 6) | (t & 0x3f);
    }
    out.push_back(ok ? c : 0xfffd);
    i += ok ? extra + 1 : 1;
  }
  return out;
}

// One FreeType library and face for one caption: loading DejaVu Sans takes well under a
// millisecond, and nothing is shared between threads or between font paths.
class Face {
 public:
  Face(int px) {
    const std::string path = caption_font_path();
    if (FT_Init_FreeType(&lib_)) {
      error_ = "FreeType could not be initialised";
    } else if (FT_New_Face(lib_, path.c_str(), 0, &face_)) {
      face_ = nullptr;
      error_ = "cannot load the font " + path + " (install fonts-dejavu-core, or set LZ_FONT to a .ttf file)";
    } else if (FT_Set_Pixel_Sizes(face_, 0, static_cast<FT_UInt>(std::clamp(px, 6, 200)))) {
      error_ = "the font " + path + " has no " + std::to_string(px) + "-pixel size";
    }
  }
  ~Face() {
    if (face_) FT_Done_Face(face_);
    if (lib_) FT_Done_FreeType(lib_);
  }
  Face(const Face&) = delete;
  Face& operator=(const Face&) = delete;

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  int64_t line_height() const { return face_->size->metrics.height >> 6; }
  int64_t ascender() const { return face_->size->metrics.ascender >> 6; }

  // Width in pixels of a line; if `img` is given, the line is drawn on it with its baseline at
  // (x, baseline) in black, each pixel blended by the glyph's coverage.
  int64_t run(const std::string& text, Image* img = nullptr, int64_t x = 0, int64_t baseline = 0) {
    FT_Pos pen = 0;  // 26.6 fixed point
    FT_UInt prev = 0;
    for (char32_t c : decode_utf8(text)) {
      const FT_UInt g = FT_Get_Char_Index(face_, c);
      if (prev && g && FT_HAS_KERNING(face_)) {
        FT_Vector k;
        if (!FT_Get_Kerning(face_, prev, g, FT_KERNING_DEFAULT, &k)) pen += k.x;
      }
      if (FT_Load_Glyph(face_, g, img ? FT_LOAD_RENDER : FT_LOAD_DEFAULT)) continue;
      const FT_GlyphSlot slot = face_->glyph;
      if (img && slot->bitmap.pixel_mode == FT_PIXEL_MODE_GRAY) {
        const FT_Bitmap& bm = slot->bitmap;
        const int64_t ox = x + (pen >> 6) + slot->bitmap_left, oy = baseline - slot->bitmap_top;
        for (unsigned r = 0; r < bm.rows; ++r)
          for (unsigned col = 0; col < bm.width; ++col) {
            const unsigned char a = bm.buffer[static_cast<ptrdiff_t>(r) * bm.pitch + col];
            if (a) img->blend(ox + col, oy + r, {0, 0, 0}, a / 255.0);
          }
      }
      pen += slot->advance.x;
      prev = g;
    }
    return (pen + 63) >> 6;
  }

 private:
  FT_Library lib_ = nullptr;
  FT_Face face_ = nullptr;
  std::string error_;
};

std::vector<std::string> wrap_with(Face& face, const std::string& text, int64_t max_width) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t nl = std::min(text.find('\n', start), text.size());
    const std::string para = text.substr(start, nl - start);
    std::string line;
    size_t i = 0;
    while (i < para.size()) {
      while (i < para.size() && para[i] == ' ') ++i;
      if (i == para.size()) break;
      const size_t j = std::min(para.find(' ', i), para.size());
      const std::string word = para.substr(i, j - i);
      const std::string longer = line.empty() ? word : line + " " + word;
      if (!line.empty() && face.run(longer) > max_width) {
        lines.push_back(line);
        line = word;
      } else {
        line = longer;
      }
      i = j;
    }
    lines.push_back(line);
    start = nl + 1;
  }
  return lines;
}

void warn_once(const std::string& why) {
  static std::atomic<bool> warned{false};
  if (!warned.exchange(true)) std::fprintf(stderr, "warning: pictures are written without captions: %s\n", why.c_str());
}

constexpr int64_t kMargin = 4;  // pixels around the caption's text

}  // namespace

std::vector<std::string> wrap_caption(const std::string& text, int64_t max_width, int px) {
  Face face(px);
  if (!face.ok()) return {};
  return wrap_with(face, text, max_width);
}

Image with_caption(const Image& img, const std::string& text, int px) {
  Face face(px);
  if (!face.ok()) {
    warn_once(face.error());
    return img;
  }
  const std::vector<std::string> lines = wrap_with(face, text, std::max<int64_t>(1, img.w - 2 * kMargin));
  const int64_t lh = face.line_height();
  const int64_t band = 2 * kMargin + lh * static_cast<int64_t>(lines.size());
  Image out(img.w, img.h + band);
  std::copy(img.rgb.begin(), img.rgb.end(), out.rgb.begin() + band * img.w * 3);
  for (size_t k = 0; k < lines.size(); ++k)
    face.run(lines[k], &out, kMargin, kMargin + static_cast<int64_t>(k) * lh + face.ascender());
  return out;
}

}  // namespace lz
