// conf/options_doc.h — the documentation conf/options.h's table generates.
//
// options_markdown(scope): the Markdown table of the scope's options (name,
//   default, allowed values, what it does), as docs/configuration.md shows
//   them between its "<!-- options:SCOPE -->" markers.
// signet_conf_man(): the whole signet.conf(5) manual page (mdoc), every
//   option with its default and range, as packaging/man/signet.conf.5 holds it.
// `make docs` writes both (through the signet-options-doc program); a test
// fails when the committed files differ from what the table gives.
// Fails: never.
#pragma once

#include <string>

#include "conf/options.h"

namespace signet::conf {

std::string options_markdown(Scope scope);
std::string signet_conf_man();

}  // namespace signet::conf
