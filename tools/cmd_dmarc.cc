// signet dmarc — DMARC aggregate reports (RFC 7489 appendix C, RFC 9990).
//   import FILE|DIR|-...  reads each report as receivers send it (XML, gzip,
//                         zip, the report e-mail: dmarc/report.h) into the
//                         reports-file (dmarc/report_store.h), one line per
//                         input; exit 0 when each was imported or already
//                         there, 2 when any was refused (the others are still
//                         imported, each in its own transaction).
//   records [--since DAY] what is stored, as read_report_records() reads it (CSV).
#include <boost/program_options.hpp>
#include <fmt/core.h>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "base/time.h"
#include "conf/config.h"
#include "dmarc/report_store.h"
#include "tools/common.h"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace signet::tools {
namespace {

constexpr const char* kImport = "dmarc import";

// Text from a report (org names, ids, the parser's quotes of bad values) on
// one printable line: control bytes become spaces.
std::string printable(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  return out;
}

// --reports, else the configuration's reports-file.
Result<std::string> reports_path(const po::variables_map& vm) {
  if (vm.count("reports")) return vm["reports"].as<std::string>();
  const std::string config_file = vm.count("config") ? vm["config"].as<std::string>() : "/etc/signet/signet.conf";
  const char* argv[] = {"signet", "--config", config_file.c_str()};
  auto cfg = conf::load_config(3, argv);
  if (!cfg) return permanent_error(cfg.error().message + " (its reports-file names the store; or give --reports FILE)");
  return cfg->reports_file;
}

void add_store_options(po::options_description& desc) {
  desc.add_options()("reports", po::value<std::string>(), "the report store (default: the configuration's reports-file)")(
      "config", po::value<std::string>(), "signet-milter configuration (default /etc/signet/signet.conf)");
}

Result<std::string> read_file(const std::string& path) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec) return permanent_error("cannot read it: " + ec.message());
  if (size > dmarc::limits::kMaxInputBytes) {
    return permanent_error(fmt::format("larger than {} MiB, the bound on a report file", dmarc::limits::kMaxInputBytes >> 20));
  }
  std::ifstream in(path, std::ios::binary);
  std::string data(static_cast<std::size_t>(size), '\0');
  if (!in || !in.read(data.data(), static_cast<std::streamsize>(data.size()))) {
    return permanent_error("cannot read it (permission, or it changed while read)");
  }
  return data;
}

// The inputs in the order they are imported: a directory's regular files
// sorted by name (not recursive), "-" for standard input.
Result<std::vector<std::string>> expand(const std::vector<std::string>& inputs) {
  std::vector<std::string> out;
  for (const std::string& in : inputs) {
    std::error_code ec;
    if (in != "-" && fs::is_directory(in, ec)) {
      std::vector<std::string> files;
      for (fs::directory_iterator it(in, ec), end; !ec && it != end; it.increment(ec)) {
        std::error_code fec;
        if (it->is_regular_file(fec)) files.push_back(it->path().string());
      }
      if (ec) return permanent_error(in + ": cannot list the directory: " + ec.message());
      std::sort(files.begin(), files.end());
      out.insert(out.end(), files.begin(), files.end());
    } else {
      out.push_back(in);
    }
  }
  return out;
}

int import_main(const std::vector<std::string>& args) {
  po::options_description desc("signet dmarc import [--reports FILE] [--config FILE] FILE|DIR|-...");
  std::vector<std::string> inputs;
  desc.add_options()("help,h", "show this help");
  add_store_options(desc);
  Positional words{"input", -1, {}};
  words.hidden.add_options()("input", po::value(&inputs)->composing(), "");
  po::variables_map vm;
  if (!parse_args(desc, words, args, vm,
                  "Imports DMARC aggregate reports (RFC 7489, RFC 9990) as receivers send them: .xml, .xml.gz,\n"
                 ".zip or the report e-mail, told apart by content. One line per file: imported, duplicate\n"
                 "(same org and report id: counted once) or refused and why. A directory is read whole\n"
                 "(its regular files, sorted); - is standard input. Exit 0 when every input was imported\n"
                  "or a duplicate, 2 when any was refused. See docs/observability.md.\n")) {
    return kExitOk;
  }
  if (inputs.empty()) return fail(kImport, "name the report files, a directory of them, or - for standard input");
  auto path = reports_path(vm);
  if (!path) return fail(kImport, path.error().message);
  auto files = expand(inputs);
  if (!files) return fail(kImport, files.error().message);
  auto db = dmarc::open_report_store(path.value());
  if (!db) return fail(kImport, db.error().message);
  const auto now = static_cast<std::int64_t>(std::time(nullptr));
  int refused = 0;
  for (const std::string& file : files.value()) {
    const std::string name = file == "-" ? "stdin" : file;
    auto refuse = [&](std::string_view why) {
      ++refused;
      fmt::print(stderr, "signet {}: {}: refused: {}\n", kImport, printable(name), printable(why));
    };
    Result<std::string> data = permanent_error("");
    if (file == "-") {
      std::string err;
      auto in = read_stdin(dmarc::limits::kMaxInputBytes, &err);
      data = in ? Result<std::string>(std::move(*in)) : Result<std::string>(permanent_error(err));
    } else {
      data = read_file(file);
    }
    if (!data) {
      refuse(data.error().message);
      continue;
    }
    auto report = dmarc::read_report(data.value());
    if (!report) {
      refuse(report.error().message);
      continue;
    }
    const dmarc::AggregateReport& r = report.value();
    auto stored = dmarc::store_report(db.value(), r, name, now);
    if (!stored) {
      refuse("not stored (nothing of it written): " + stored.error().message);
      continue;
    }
    if (stored->duplicate) {
      fmt::print("{}: duplicate: {} report {} is already imported, skipped\n", printable(name), printable(r.org),
                 printable(r.report_id));
    } else {
      fmt::print("{}: imported: {} report {}, {} records, {}..{} ({}, {})\n", printable(name), printable(r.org),
                 printable(r.report_id), r.rows.size(), rfc3339::format(r.begin), rfc3339::format(r.end),
                 dmarc::format_name(r.format), r.container);
    }
    std::fflush(stdout);
  }
  return refused ? kExitBadInput : kExitOk;
}

int records_main(const std::vector<std::string>& args) {
  po::options_description desc("signet dmarc records [--reports FILE] [--config FILE] [--since YYYY-MM-DD]");
  std::string since;
  desc.add_options()("help,h", "show this help")("since", po::value(&since), "only records of this UTC day and later");
  add_store_options(desc);
  po::variables_map vm;
  if (!parse_args(desc, args, vm, "CSV (RFC 4180), one line per record and DKIM result, by day, org, report id.\n")) {
    return kExitOk;
  }
  auto path = reports_path(vm);
  if (!path) return fail("dmarc records", path.error().message);
  auto recs = dmarc::read_report_records(path.value(), since);
  if (!recs) return fail("dmarc records", recs.error().message);
  auto csv = [](const std::string& v) {
    if (v.find_first_of(",\"\r\n") == std::string::npos) return v;
    std::string q = "\"";
    for (char c : v) q += c == '"' ? std::string("\"\"") : std::string(1, c);
    return q + "\"";
  };
  fmt::print("day,org,report_id,source_ip,count,header_from,dkim_domain,dkim_selector,dkim_result\n");
  for (const auto& r : recs.value()) {
    fmt::print("{},{},{},{},{},{},{},{},{}\n", r.day, csv(r.org), csv(r.report_id), r.source_ip, r.count,
               csv(r.header_from), csv(r.dkim_domain), csv(r.dkim_selector), r.dkim_result);
  }
  return kExitOk;
}

}  // namespace

int dmarc_main(const std::vector<std::string>& args) {
  const std::vector<std::string> rest(args.empty() ? args.end() : args.begin() + 1, args.end());
  if (!args.empty() && args[0] == "import") return import_main(rest);
  if (!args.empty() && args[0] == "records") return records_main(rest);
  if (!args.empty() && (args[0] == "--help" || args[0] == "-h")) {
    std::cout << "usage: signet dmarc import FILE|DIR|-... | records [--since DAY]\n";
    return kExitOk;
  }
  return fail("dmarc", "expected `import FILE|DIR|-` or `records`; see `signet dmarc --help`");
}

}  // namespace signet::tools
