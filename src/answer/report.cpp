// report.cpp: see report.h. The page is static HTML (header, curves as SVG, the metrics table) plus
// a JSON island that an inline script turns into grids, so Sudoku, maze and ARC drawing lives in
// one place for the answers and the dataset browser alike.
#include "answer/report.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include <fmt/format.h>

#include "core/atomic_file.h"
#include "core/check.h"
#include "data/dataset.h"

namespace hrm::answer {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string html_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      default: o += c;
    }
  }
  return o;
}

// JSON inside <script>: '<' only occurs inside strings there, where \u003c is the same character,
// so no "</script>" can end the island early.
std::string script_json(const json& j) {
  const std::string s = j.dump(-1, ' ', false, json::error_handler_t::replace);
  std::string o;
  o.reserve(s.size());
  for (char c : s) o += c == '<' ? std::string("\\u003c") : std::string(1, c);
  return o;
}

std::string number(double v) {
  if (v == 0) return "0";
  const double a = std::fabs(v);
  return a >= 1e4 || a < 1e-3 ? fmt::format("{:.3g}", v) : fmt::format("{:.4g}", v);
}

bool is_train_metric(const std::string& k) { return k.rfind("train/", 0) == 0; }

// A metric's value in metrics.jsonl: a number, or null where it was NaN or infinite (JSON has neither).
bool is_metric_value(const json& v) { return v.is_number() || v.is_null(); }
double metric_value(const json& v) { return v.is_null() ? std::nan("") : v.get<double>(); }

// Every evaluation line (a metric outside train/) with a numeric step as a table row.
std::string eval_table(const std::vector<json>& lines) {
  std::vector<std::string> cols;
  std::vector<const json*> rows;
  for (const json& l : lines) {
    if (!l.contains("step") || !l["step"].is_number()) continue;
    bool eval = false;
    for (auto it = l.begin(); it != l.end(); ++it) {
      if (it.key() == "step" || it.key() == "num_params" || is_train_metric(it.key()) || !is_metric_value(it.value())) continue;
      eval = true;
      if (std::find(cols.begin(), cols.end(), it.key()) == cols.end()) cols.push_back(it.key());
    }
    if (eval) rows.push_back(&l);
  }
  if (rows.empty()) return "<p class=\"none\">No evaluation in the metrics log.</p>\n";
  std::string h = "<table id=\"eval-metrics\"><thead><tr><th>step</th>";
  for (const auto& c : cols) h += "<th>" + html_escape(c) + "</th>";
  h += "</tr></thead><tbody>\n";
  for (const json* l : rows) {
    h += "<tr><td>" + l->at("step").dump() + "</td>";
    for (const auto& c : cols)
      h += "<td>" + (!l->contains(c) || !is_metric_value(l->at(c)) ? std::string()
                     : l->at(c).is_null()                          ? std::string("NaN")
                                                                   : number(l->at(c).get<double>())) +
           "</td>";
    h += "</tr>\n";
  }
  return h + "</tbody></table>\n";
}

json answers_json(const ReportData& r) {
  json a = json::array();
  for (const AnswerView& v : r.answers) {
    int64_t wrong = 0, counted = 0;
    for (size_t i = 0; i < v.label.size() && i < v.pred.size(); ++i)
      if (v.label[i] >= 0) ++counted, wrong += v.pred[i] != v.label[i];
    a.push_back({{"title", v.title}, {"input", v.input}, {"label", v.label}, {"pred", v.pred},
                 // -1: none to show (NaN would be written as null, which the page's `>= 0` takes for 0)
                 {"confidence", std::isfinite(v.confidence) ? v.confidence : -1.0}, {"wrong_cells", wrong}, {"right", counted > 0 && wrong == 0}});
  }
  return {{"kind", kind_name(r.answers_kind)}, {"items", a}};
}

const char* kStyle = R"CSS(
:root { --cell: 14px; font-family: system-ui, sans-serif; color: #222; }
body { margin: 1.5em; max-width: 1400px; }
h1 { font-size: 1.5em; } h2 { border-bottom: 1px solid #ccc; margin-top: 1.5em; }
.curves { display: flex; flex-wrap: wrap; gap: 12px; }
figure.curve { margin: 0; border: 1px solid #ddd; background: #fff; }
table { border-collapse: collapse; font-size: 0.85em; } td, th { border: 1px solid #ccc; padding: 2px 6px; text-align: right; }
.cards { display: flex; flex-wrap: wrap; gap: 16px; }
.card { border: 1px solid #ccc; padding: 8px; background: #fafafa; }
.card h4 { margin: 0 0 6px 0; font-size: 0.9em; }
.row { display: flex; gap: 10px; align-items: flex-start; }
.lab { font-size: 0.75em; color: #555; }
.grid { display: grid; gap: 1px; background: #888; border: 1px solid #888; width: max-content; }
.cell { width: var(--cell); height: var(--cell); background: #fff; font-size: 10px; line-height: var(--cell); text-align: center; box-sizing: border-box; }
.grid.sudoku { --cell: 20px; } .grid.sudoku .cell { font-size: 13px; }
.grid.sudoku .cell.br { margin-right: 2px; } .grid.sudoku .cell.bb { margin-bottom: 2px; }
.grid.sudoku .cell.given { font-weight: bold; color: #000; background: #eee; }
.grid.maze { --cell: 8px; gap: 0; }
.cell.m1 { background: #333; } .cell.m2 { background: #fff; } .cell.m3 { background: #2ECC40; }
.cell.m4 { background: #FF4136; } .cell.m5 { background: #0074D9; } .cell.m0 { background: #ccc; }
.cell.pad { background: #d8d8d8; } .cell.eos { background: #f4f4f4; }
.cell.wrong { outline: 2px solid #ff00aa; outline-offset: -2px;
  background-image: linear-gradient(to top right, transparent 40%, #fff 40%, #fff 60%, transparent 60%); }
.grid.maze .cell.wrong { outline-width: 1px; outline-offset: -1px; }
.badge { padding: 0 5px; border-radius: 3px; font-size: 0.8em; color: #fff; }
.badge.right { background: #2a2; } .badge.wrong { background: #c22; }
#browser .controls { margin: 8px 0; display: flex; gap: 8px; align-items: center; }
pre.config { max-height: 30em; overflow: auto; background: #f6f6f6; padding: 8px; }
.none { color: #777; }
)CSS";

// Draws every grid: Sudoku digits, maze cells, ARC colours (the usual ARC palette) or token numbers.
const char* kScript = R"JS(
(function () {
  const D = JSON.parse(document.getElementById('hrm-data').textContent);
  const ARC = ['#000000', '#0074D9', '#FF4136', '#2ECC40', '#FFDC00', '#AAAAAA', '#F012BE', '#FF851B', '#7FDBFF', '#870C25'];
  function el(tag, cls, text) { const e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined) e.textContent = text; return e; }
  function width(n) { const s = Math.round(Math.sqrt(n)); return s * s === n ? s : n; }
  // ARC grids sit on a 30x30 canvas: show the box holding every non-PAD token of the grids given.
  function box(grids, w) {
    let r0 = 1e9, c0 = 1e9, r1 = -1, c1 = -1;
    for (const g of grids) for (let i = 0; i < g.length; ++i) if (g[i] >= 1) {
      const r = Math.floor(i / w), c = i % w;
      r0 = Math.min(r0, r); c0 = Math.min(c0, c); r1 = Math.max(r1, r); c1 = Math.max(c1, c);
    }
    return r1 < 0 ? [0, 0, 0, 0] : [r0, c0, r1, c1];
  }
  function grid(tokens, kind, opt) {
    opt = opt || {};
    const w = width(tokens.length), h = tokens.length / w;
    const b = kind === 'arc' ? (opt.box || box([tokens], w)) : [0, 0, h - 1, w - 1];
    const g = el('div', 'grid ' + kind);
    g.style.gridTemplateColumns = 'repeat(' + (b[3] - b[1] + 1) + ', var(--cell))';
    for (let r = b[0]; r <= b[2]; ++r) for (let c = b[1]; c <= b[3]; ++c) {
      const i = r * w + c, t = tokens[i], x = el('div', 'cell');
      if (kind === 'sudoku') {
        x.textContent = t >= 2 ? String(t - 1) : '';
        const bw = w === 4 ? 2 : 3, bh = w === 9 ? 3 : 2;  // boxes: 9x9 3x3, 6x6 2 rows x 3, 4x4 2x2
        if (c % bw === bw - 1 && c < w - 1) x.classList.add('br');
        if (r % bh === bh - 1 && r < h - 1) x.classList.add('bb');
        if (opt.given && opt.given[i] >= 2) x.classList.add('given');
      } else if (kind === 'maze') {
        x.classList.add('m' + (t >= 0 && t <= 5 ? t : 0));
      } else if (kind === 'arc') {
        if (t >= 2 && t <= 11) x.style.backgroundColor = ARC[t - 2]; else x.classList.add(t === 1 ? 'eos' : 'pad');
      } else {
        x.textContent = String(t);
      }
      if (opt.compare && opt.compare[i] >= 0 && opt.compare[i] !== t) x.classList.add('wrong');
      g.appendChild(x);
    }
    return g;
  }
  function labelled(text, node) { const d = el('div'); d.appendChild(el('div', 'lab', text)); d.appendChild(node); return d; }

  const A = D.answers;
  const cards = document.getElementById('answer-cards');
  if (A && cards) for (const a of A.items) {
    const card = el('div', 'card answer');
    const h = el('h4', null, a.title + ' ');
    if (a.pred.length) h.appendChild(el('span', 'badge ' + (a.right ? 'right' : 'wrong'), a.right ? 'right' : a.wrong_cells + ' wrong cells'));
    if (typeof a.confidence === 'number' && a.confidence >= 0) h.appendChild(document.createTextNode(' confidence ' + a.confidence.toFixed(3)));
    card.appendChild(h);
    const row = el('div', 'row');
    const w = width(a.label.length || a.input.length);
    const both = A.kind === 'arc' ? box([a.label, a.pred], w) : null;
    row.appendChild(labelled('input', grid(a.input, A.kind)));
    if (a.label.length) row.appendChild(labelled('expected', grid(a.label, A.kind, { box: both })));
    if (a.pred.length) row.appendChild(labelled('model', grid(a.pred, A.kind, { box: both, compare: a.label, given: a.input })));
    card.appendChild(row);
    cards.appendChild(card);
  }

  const B = D.dataset;
  const view = document.getElementById('browser-view');
  if (B && view) {
    const sel = document.getElementById('browser-split'), label = document.getElementById('browser-group');
    B.splits.forEach((s, i) => { const o = el('option', null, s.name + ' (' + s.groups_total + ' groups)'); o.value = i; sel.appendChild(o); });
    let gi = 0;
    function show() {
      const s = B.splits[sel.value];
      view.textContent = '';
      if (!s || !s.groups.length) { label.textContent = 'no groups'; return; }
      gi = Math.max(0, Math.min(gi, s.groups.length - 1));
      const g = s.groups[gi];
      label.textContent = 'group ' + g.index + ' of ' + s.groups_total + ' (' + g.puzzles_total + ' puzzles; sample ' + (gi + 1) + '/' + s.groups.length + ')';
      for (const p of g.puzzles) {
        const card = el('div', 'card puzzle');
        card.appendChild(el('h4', null, p.name + ' (identifier ' + p.identifier + ', ' + p.examples_total + ' examples)'));
        for (const ex of p.examples) {
          const row = el('div', 'row example');
          row.appendChild(labelled('input', grid(ex.input, B.kind)));
          row.appendChild(labelled('label', grid(ex.label, B.kind, { given: ex.input })));
          card.appendChild(row);
        }
        view.appendChild(card);
      }
    }
    sel.onchange = () => { gi = 0; show(); };
    document.getElementById('browser-prev').onclick = () => { gi -= 1; show(); };
    document.getElementById('browser-next').onclick = () => { gi += 1; show(); };
    show();
  }
  document.body.setAttribute('data-rendered', 'yes');
})();
)JS";

}  // namespace

std::vector<json> read_metrics_log(const std::string& path, bool* unfinished_last_line) {
  std::ifstream in(path);
  if (!in) HRM_THROW(Error, "cannot read ", path);
  if (unfinished_last_line) *unfinished_last_line = false;
  std::vector<json> out;
  int64_t line_no = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    if (line.empty()) continue;
    json j = json::parse(line, nullptr, false);
    // A last line without its newline is being written (a live run) or was cut by a kill: not yet a line.
    if (!j.is_object() && in.eof()) {
      if (unfinished_last_line) *unfinished_last_line = true;
      break;
    }
    if (j.is_discarded()) {  // the parser's own words say where and what (e.g. NaN, which JSON has not)
      try {
        [[maybe_unused]] const json again = json::parse(line);
      } catch (const json::exception& e) {
        HRM_THROW(FormatError, path, ":", line_no, ": not JSON: ", e.what());
      }
    }
    if (!j.is_object()) HRM_THROW(FormatError, path, ":", line_no, ": not a JSON object");
    out.push_back(std::move(j));
  }
  return out;
}

std::vector<Curve> curves_from_metrics(const std::vector<json>& lines) {
  std::vector<Curve> curves;
  for (const json& l : lines) {
    if (!l.contains("step") || !l["step"].is_number()) continue;
    const double step = l["step"].get<double>();
    for (auto it = l.begin(); it != l.end(); ++it) {
      if (it.key() == "step" || it.key() == "num_params" || !is_metric_value(it.value())) continue;  // a fact, not a curve
      auto c = std::find_if(curves.begin(), curves.end(), [&](const Curve& x) { return x.name == it.key(); });
      if (c == curves.end()) {
        curves.push_back({it.key(), {}});
        c = curves.end() - 1;
      }
      c->points.emplace_back(step, metric_value(it.value()));
    }
  }
  return curves;
}

std::string svg_curve(const Curve& c, int width, int height) {
  const double left = 52, right = 10, top = 22, bottom = 24;
  double x0 = 1e300, x1 = -1e300, y0 = 1e300, y1 = -1e300;
  for (const auto& [x, y] : c.points) {
    if (!std::isfinite(y)) continue;
    x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
  }
  std::string s = fmt::format(
      "<svg class=\"curve\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" viewBox=\"0 0 {} {}\">"
      "<text x=\"{}\" y=\"15\" font-size=\"13\" font-weight=\"bold\">{}</text>"
      "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#bbb\"/>",
      width, height, width, height, left, html_escape(c.name), left, top, width - left - right, height - top - bottom);
  if (x1 < x0) return s + "<text x=\"60\" y=\"100\" font-size=\"12\">no finite values</text></svg>";
  if (x1 == x0) x0 -= 1, x1 += 1;
  const bool constant = y1 == y0;  // drawn across the middle, labelled once with its value
  const double value = y0;
  if (constant) y0 -= 0.5 * std::max(1e-9, std::fabs(y0)), y1 += 0.5 * std::max(1e-9, std::fabs(y1));
  auto px = [&](double x) { return left + (x - x0) / (x1 - x0) * (width - left - right); };
  auto py = [&](double y) { return top + (y1 - y) / (y1 - y0) * (height - top - bottom); };
  std::string pts;
  for (const auto& [x, y] : c.points)
    if (std::isfinite(y)) pts += fmt::format("{:.1f},{:.1f} ", px(x), py(y));
  s += fmt::format("<polyline fill=\"none\" stroke=\"#0074D9\" stroke-width=\"1.5\" points=\"{}\"/>", pts);
  if (c.points.size() <= 30)
    for (const auto& [x, y] : c.points)
      if (std::isfinite(y)) s += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"2\" fill=\"#0074D9\"/>", px(x), py(y));
  if (constant) {
    s += fmt::format("<text x=\"{}\" y=\"{:.1f}\" font-size=\"10\" text-anchor=\"end\">{}</text>", left - 3,
                     py(0.5 * (y0 + y1)) + 3, number(value));
  } else {
    s += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"end\">{}</text>", left - 3, top + 8, number(y1));
    s += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"end\">{}</text>", left - 3, height - bottom,
                     number(y0));
  }
  s += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"10\">step {}</text>", left, height - 8, number(x0));
  s += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"end\">{}</text>", width - right, height - 8, number(x1));
  return s + "</svg>";
}

json browse_dataset(const std::string& dir, const BrowseLimits& limits) {
  json out = {{"dir", dir}, {"splits", json::array()}};
  std::vector<std::string> ids;
  if (fs::is_regular_file(fs::path(dir) / "identifiers.json")) ids = data::read_identifiers(dir);
  int64_t seq_len = 0, vocab = 0;
  for (const char* split : {"train", "test"}) {
    if (!fs::is_regular_file(fs::path(dir) / split / "dataset.json")) continue;
    const data::Dataset ds = data::Dataset::open(dir, split);
    seq_len = ds.metadata().seq_len, vocab = ds.metadata().vocab_size;
    std::vector<int32_t> in(static_cast<size_t>(seq_len)), lab(in.size());
    for (const data::DatasetSet& set : ds.sets()) {
      json groups = json::array();
      const int64_t G = set.groups(), n = std::min(G, limits.groups);
      for (int64_t k = 0; k < n; ++k) {
        const int64_t g = k * G / n;  // evenly spaced over the split
        const int64_t p0 = set.group_indices[g], p1 = set.group_indices[g + 1];
        json puzzles = json::array();
        for (int64_t p = p0; p < p1 && p - p0 < limits.puzzles_per_group; ++p) {
          const int32_t id = set.puzzle_identifiers[p];
          const int64_t e0 = set.puzzle_indices[p], e1 = set.puzzle_indices[p + 1];
          json examples = json::array();
          for (int64_t e = e0; e < e1 && e - e0 < limits.examples_per_puzzle; ++e) {
            set.input_row(e, in.data());
            set.label_row(e, lab.data());
            examples.push_back({{"input", in}, {"label", lab}});
          }
          const std::string name = id >= 0 && static_cast<size_t>(id) < ids.size() ? ids[id] : "#" + std::to_string(id);
          puzzles.push_back({{"name", name}, {"identifier", id}, {"examples_total", e1 - e0}, {"examples", examples}});
        }
        groups.push_back({{"index", g}, {"puzzles_total", p1 - p0}, {"puzzles", puzzles}});
      }
      const std::string name = ds.sets().size() > 1 ? std::string(split) + "/" + set.name : std::string(split);
      out["splits"].push_back({{"name", name}, {"groups_total", G}, {"puzzles_total", set.puzzles()},
                               {"examples_total", set.examples()}, {"groups", groups}});
    }
  }
  if (out["splits"].empty()) HRM_THROW(FormatError, dir, ": no train/dataset.json or test/dataset.json (not a dataset directory)");
  out["seq_len"] = seq_len;
  out["vocab_size"] = vocab;
  out["kind"] = kind_name(kind_of(seq_len, vocab));
  return out;
}

std::string render_report(const ReportData& r) {
  std::string h = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>" + html_escape(r.title) +
                  "</title>\n<style>" + kStyle + "</style></head>\n<body>\n<h1>" + html_escape(r.title) + "</h1>\n";
  if (!r.run_dir.empty()) {
    h += "<p>Run: <code>" + html_escape(r.run_dir) + "</code>";
    for (const json& l : r.metrics)  // the training log's first line: {"step": 0, "num_params": N}
      if (l.contains("num_params") && l["num_params"].is_number())
        h += fmt::format(", <span id=\"num-params\">{:.0f}</span> parameters", l["num_params"].get<double>());
    h += "</p>\n";
  }

  h += "<section id=\"curves\"><h2>Training curves</h2>\n";
  const std::vector<Curve> curves = curves_from_metrics(r.metrics);
  if (curves.empty()) h += "<p class=\"none\">No metrics log.</p>\n";
  h += "<div class=\"curves\">\n";
  for (const Curve& c : curves) h += "<figure class=\"curve\">" + svg_curve(c) + "</figure>\n";
  h += "</div></section>\n";

  h += "<section id=\"eval\"><h2>Evaluation</h2>\n" + eval_table(r.metrics) + "</section>\n";

  h += "<section id=\"answers\"><h2>Answers</h2>\n";
  if (r.answers.empty()) {
    h += "<p class=\"none\">No saved evaluation outputs (evaluate with save_outputs=[inputs,labels,puzzle_identifiers,"
         "logits,q_halt_logits,q_continue_logits]).</p>\n";
  } else {
    h += "<p>From <code>" + html_escape(r.outputs_path) + "</code>: " + html_escape(r.answers_summary) +
         ". Wrong cells are outlined in magenta and struck through.</p>\n";
  }
  h += "<div class=\"cards\" id=\"answer-cards\"></div></section>\n";

  h += "<section id=\"browser\"><h2>Dataset</h2>\n";
  if (r.dataset.is_null()) {
    h += "<p class=\"none\">No dataset directory.</p>\n";
  } else {
    h += "<p>Directory <code>" + html_escape(r.dataset["dir"].get<std::string>()) + "</code>: " +
         html_escape(r.dataset["kind"].get<std::string>()) + ", seq_len " + r.dataset["seq_len"].dump() + ", vocab " +
         r.dataset["vocab_size"].dump() + ". A sample of evenly spaced groups.</p>\n"
         "<div class=\"controls\"><select id=\"browser-split\"></select><button id=\"browser-prev\">&#9664;</button>"
         "<span id=\"browser-group\"></span><button id=\"browser-next\">&#9654;</button></div>\n";
  }
  h += "<div id=\"browser-view\" class=\"cards\"></div></section>\n";

  if (!r.config_yaml.empty())
    h += "<section id=\"config\"><h2>Config</h2><details><summary>all_config.yaml</summary><pre class=\"config\">" +
         html_escape(r.config_yaml) + "</pre></details></section>\n";

  json data = {{"answers", r.answers.empty() ? json(nullptr) : answers_json(r)}, {"dataset", r.dataset}};
  h += "<script type=\"application/json\" id=\"hrm-data\">" + script_json(data) + "</script>\n";
  h += std::string("<script>") + kScript + "</script>\n</body></html>\n";
  return h;
}

bool is_report_html(const std::string& content) {
  return starts_after_space(content, "<!DOCTYPE html") && content.find("<title>HRM report") != std::string::npos;
}

}  // namespace hrm::answer
