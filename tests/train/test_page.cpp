// The run's page (train/page): escaping of what it takes from the folder's files, every picture
// listed, one curve per logged quantity, the finished and the stopped run, the guard that writes
// it at scope exit.
#define BOOST_TEST_MODULE page
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <regex>
#include <set>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "tests/helpers.hpp"
#include "train/page.hpp"
#include "train/run.hpp"

using namespace lz;
using namespace lz::testing;

namespace {

// The values of attribute `attr` ("src", "href") in the page, in order.
std::vector<std::string> attributes(const std::string& html, const std::string& attr) {
  std::vector<std::string> out;
  const std::regex re("\\s" + attr + "=\"([^\"]*)\"");
  for (auto it = std::sregex_iterator(html.begin(), html.end(), re); it != std::sregex_iterator(); ++it)
    out.push_back((*it)[1]);
  return out;
}

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

BOOST_AUTO_TEST_CASE(escapes_the_five_special_characters) {
  BOOST_TEST(html_escape("a<b>&\"c\"'d'") == "a&lt;b&gt;&amp;&quot;c&quot;&#39;d&#39;");
  BOOST_TEST(html_escape("plain μ ± σ") == "plain μ ± σ");  // UTF-8 passes through
  BOOST_TEST(html_escape("&amp;") == "&amp;amp;");          // escaped again, not taken as already escaped
}

BOOST_AUTO_TEST_CASE(finished_run_page) {
  const std::string dir = scratch_dir("page/finished");
  {
    RunDir run(dir);
    run.write_config({{"out", dir}, {"data", "<script>alert(\"x\")</script> & 'q'"}, {"lr", 0.001}});
    run.log({{"step", 1}, {"epoch", 1}, {"loss", 2.5}, {"lr", 0.001}, {"seconds", 0.1}});
    run.log({{"step", 2}, {"epoch", 1}, {"loss", 1.5}, {"lr", 0.001}, {"seconds", 0.2}});
    run.log({{"step", 2}, {"epoch", 1}, {"train_loss", 2.0}, {"test_<loss>", 1.75}, {"seconds", 0.3}});
    run.log({{"step", 3}, {"epoch", 2}, {"loss", NAN}, {"lr", 0.001}, {"seconds", 0.4}});
    run.write_summary({{"test_accuracy", 0.95}, {"stopped_by", "epochs"}, {"log_px", {{"mean", -90.5}, {"se", 0.25}}}});
  }
  for (const char* png : {"loss.png", "samples.png", "my picture #1.png", "page.png"}) write_bytes(dir + "/" + png, "\x89PNG");
  write_bytes(dir + "/checkpoint.safetensors", "x");
  write_bytes(dir + "/summary.json.tmp-12345", "half");  // a temporary file of a write in flight
  std::filesystem::create_directories(dir + "/sub");
  write_bytes(dir + "/sub/config.json", "{}");

  write_run_page(dir, "flow");
  const std::string html = read_text(dir + "/index.html");
  BOOST_TEST(temp_leftovers(dir).size() == 1u);  // only the planted one: the page went through a rename

  // What came from the files is escaped: no tag the config could inject, the value still readable.
  BOOST_TEST(html.find("<script") == std::string::npos);
  BOOST_TEST(html.find("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39;") != std::string::npos);
  BOOST_TEST(html.find("test_&lt;loss&gt;") != std::string::npos);
  BOOST_TEST(html.find("<title>flow: finished</title>") != std::string::npos);
  BOOST_TEST(html.find("finished (stopped by epochs)") != std::string::npos);
  BOOST_TEST(html.find("log_px.mean") != std::string::npos);
  BOOST_TEST(html.find("-90.5") != std::string::npos);

  // Every picture but the page's own screenshot, once, by a relative link that resolves.
  const std::vector<std::string> srcs = attributes(html, "src");
  BOOST_TEST((std::set<std::string>(srcs.begin(), srcs.end()) ==
              std::set<std::string>{"loss.png", "samples.png", "my%20picture%20%231.png"}));
  BOOST_TEST(srcs.size() == 3u);
  // Every file is linked (page.png among them), the temporary one and the page itself are not,
  // and the sub-folder's run is.
  std::set<std::string> links;
  for (const std::string& h : attributes(html, "href"))
    if (h[0] != '#') links.insert(h);
  BOOST_TEST((links == std::set<std::string>{"checkpoint.safetensors", "config.json", "loss.png", "metrics.jsonl",
                                             "my%20picture%20%231.png", "page.png", "samples.png", "summary.json",
                                             "sub/"}));
  // Every in-page link has its target.
  for (const std::string& h : attributes(html, "href"))
    if (h[0] == '#') BOOST_TEST(html.find("id=\"" + h.substr(1) + "\"") != std::string::npos, h);

  // One chart per logged quantity (loss, lr, train_loss, test_<loss>): counters and seconds are
  // axes. loss has two finite points (the NaN was logged as null and is left out).
  BOOST_TEST(count(html, "<svg") == 4u);
  BOOST_TEST(html.find("loss against step (2 records; last 1.5)") != std::string::npos);
  BOOST_TEST(html.find("test_&lt;loss&gt; against step (1 records; last 1.75)") != std::string::npos);
  BOOST_TEST(html.find(">seconds<") == std::string::npos);

  // Written again, the page does not list itself.
  write_run_page(dir, "flow");
  BOOST_TEST(count(read_text(dir + "/index.html"), "index.html") == 0u);
}

BOOST_AUTO_TEST_CASE(stopped_run_page_and_the_guard) {
  const std::string dir = scratch_dir("page/stopped");
  try {
    RunDir run(dir);
    RunPage page(run, "vae");
    run.write_config({{"epochs", 3}});
    run.log({{"iteration", 1}, {"em", -3.0}});
    run.log({{"iteration", 2}, {"em", -2.0}});
    throw std::runtime_error("loss is nan");  // the page is still written, as the scope unwinds
  } catch (const std::runtime_error&) {
  }
  const std::string html = read_text(dir + "/index.html");
  BOOST_TEST(html.find("no summary.json") != std::string::npos);
  BOOST_TEST(html.find("id=\"summary\"") == std::string::npos);
  BOOST_TEST(html.find("em against iteration (2 records; last -2)") != std::string::npos);
  BOOST_TEST(attributes(html, "src").empty());
  BOOST_TEST(html.find("<a href=\"#summary\"") == std::string::npos);  // no link to a section that is not there
}

BOOST_AUTO_TEST_CASE(unreadable_files_are_named_not_fatal) {
  const std::string dir = scratch_dir("page/broken");
  write_bytes(dir + "/summary.json", "{\"a\": ");
  write_bytes(dir + "/metrics.jsonl", "{\"step\": 1, \"loss\": 1}\nnot json\n");
  const std::string html = run_page_html(dir);
  BOOST_TEST(html.find("summary.json does not parse") != std::string::npos);
  BOOST_TEST(html.find("metrics.jsonl line 2 does not parse") != std::string::npos);
  BOOST_TEST(count(html, "<svg") == 1u);
}
