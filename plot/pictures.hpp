// A run's pictures, each drawn on its own: one that fails (a full disk, a gnuplot error) neither
// stops the others nor passes unnoticed, and a driver whose pictures failed exits 1 after drawing
// what it could. A picture with nothing to show yet (plot_metrics' NothingToPlot: a run shorter
// than --log-every has no loss record) is a note, not a failure.
//
//   Pictures pictures;
//   pictures.draw("loss.png", [&] { plot_metrics(...); });
//   pictures.draw("density.png", [&] { draw_density(...); });
//   ...
//   return pictures.exit_code();
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace lz {

class Pictures {
 public:
  // Runs fn; an exception is reported on stderr as "error: picture <name>: <message>" and counted.
  void draw(const std::string& name, const std::function<void()>& fn);
  // The names of the pictures that failed, in order.
  const std::vector<std::string>& failed() const { return failed_; }
  // 0 when every picture was drawn (or had nothing to show); else 1, after a line naming the failures.
  int exit_code() const;

 private:
  std::vector<std::string> failed_;
};

}  // namespace lz
