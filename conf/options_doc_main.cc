// signet-options-doc: prints what conf/options.h's table generates, for
// `make docs` and the test that keeps the committed documentation in step.
//   signet-options-doc man                    signet.conf(5)
//   signet-options-doc markdown global|stream|rule
//   signet-options-doc names                  "SCOPE NAME" per option
#include <cstdio>
#include <string>

#include "conf/options_doc.h"

int main(int argc, char** argv) {
  using namespace signet::conf;
  const std::string what = argc > 1 ? argv[1] : "";
  const std::string scope = argc > 2 ? argv[2] : "";
  std::string out;
  if (what == "man") {
    out = signet_conf_man();
  } else if (what == "names") {
    for (const OptionSpec& o : option_table()) out += std::string(scope_name(o.scope)) + " " + o.name + "\n";
  } else if (what == "markdown" && (scope == "global" || scope == "stream" || scope == "rule")) {
    out = options_markdown(scope == "global" ? Scope::Global : scope == "stream" ? Scope::Stream : Scope::Rule);
  } else {
    std::fputs("usage: signet-options-doc man | names | markdown global|stream|rule\n", stderr);
    return 2;
  }
  std::fputs(out.c_str(), stdout);
  return 0;
}
