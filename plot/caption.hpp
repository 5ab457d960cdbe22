// Text on pictures: a caption band above an image grid, rendered by FreeType in DejaVu Sans.
//
// FreeType (libfreetype-dev) and the DejaVu fonts (fonts-dejavu-core) are Debian packages:
// hinting, anti-aliasing and kerning are a library's job, not a hand-drawn bitmap font's. If the
// font cannot be loaded, a picture keeps its pixels and goes without its caption, with one warning
// on stderr per process (as a plot is skipped when gnuplot is missing).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "plot/png.hpp"

namespace lz {

// The font file: $LZ_FONT if set, else DejaVu Sans where Debian installs it.
std::string caption_font_path();

// `text` laid out in lines at most `max_width` pixels wide (split at '\n', then wrapped between
// words; a word wider than max_width gets a line of its own). Empty if the font cannot be loaded.
std::vector<std::string> wrap_caption(const std::string& text, int64_t max_width, int px = 13);

// A copy of img with a white band above it holding `text` in black, `px` pixels high, wrapped
// to the image's width (less a margin). The pixels of img are unchanged, shifted down by the
// band's height. If the font cannot be loaded, img itself (one warning per process).
Image with_caption(const Image& img, const std::string& text, int px = 13);

}  // namespace lz
