// milter/signer_main.h — signet-milter's hidden second mode: the signer
// process of privilege-separation = on (privsep/client.h starts it as
// `signet-milter --signer-fds A,B,... <the daemon's own arguments>`).
//
// signer_main(fds, args): not dumpable from the first instruction; reads the
// configuration from `args` as the daemon does, sets up the secure heap,
// loads the key set (privsep/signer_service.h: the first LOAD answers with
// it), drops privileges to user/group, dies with the daemon
// (PR_SET_PDEATHSIG), restricts itself (privsep/sandbox.h), then serves one
// channel per fd on a thread each until the daemon closes them, while the
// first thread writes the rate-limited refusal log's summaries when their
// interval ends (flush_log, once a second). Log lines start with "signer: ". Returns the exit status: 2 when it cannot start
// (a bad fd list, a configuration or heap it cannot set up, a refused filter).
#pragma once

#include <string>
#include <vector>

namespace signet::milter {

int signer_main(const std::string& fds, const std::vector<std::string>& args);

}  // namespace signet::milter
