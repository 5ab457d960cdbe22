// A page per run: <folder>/index.html, one static file a user opens instead of reading JSON.
//
// It shows, from what the folder holds when it is written: whether the run finished (summary.json
// is there) or stopped early, the summary's figures, the curves of metrics.jsonl (one inline SVG
// chart per logged quantity, drawn here), every picture (*.png, page.png aside: that is the
// page's own screenshot, taken by the tests), the config, links to the runs in sub-folders and to
// every file. No server, no network, no script: every image and link is a relative path inside
// the folder, and every text taken from a file is escaped. Written atomically (RunDir's
// atomic_write: nn/atomic_file, MPI rank 0 only).
#pragma once

#include <string>
#include <string_view>

#include "train/run.hpp"

namespace lz {

// `s` with & < > " ' replaced by their character references (text and attribute values alike).
std::string html_escape(std::string_view s);

// The page of the run folder `folder` (relative links: the page lives in that folder). `title`
// names the driver ("flow"); empty: the folder's name alone.
std::string run_page_html(const std::string& folder, const std::string& title = "");

// Writes run_page_html(folder, title) to folder/index.html atomically. Throws naming the path.
void write_run_page(const std::string& folder, const std::string& title = "");

// Writes the run's page when it goes out of scope, so that a driver writes it however its run
// ends: after the last picture, on a stop by a signal or the time budget, and after an error
// (the page then shows what the folder holds). Declared after the RunDir. A failure to write the
// page is a warning on stderr, never an error of the run.
class RunPage {
 public:
  RunPage(const RunDir& run, std::string title) : run_(run), title_(std::move(title)) {}
  ~RunPage();
  RunPage(const RunPage&) = delete;
  RunPage& operator=(const RunPage&) = delete;

 private:
  const RunDir& run_;
  std::string title_;
};

}  // namespace lz
