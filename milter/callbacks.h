// milter/callbacks.h — the libmilter callbacks: thin glue between the MTA and
// milter/session.h. Every callback is noexcept in effect: exceptions are
// caught at the edge and become the on-error policy (docs/design.md "Errors").
//
// register_callbacks(holder): smfi_register() with signet's callbacks, which
// read the current Runtime from `holder` at the start of each message.
// active_connections(): connections open now, for the SIGTERM drain.
#pragma once

#include "milter/runtime.h"

namespace signet::milter {

bool register_callbacks(RuntimeHolder* holder);
int active_connections();

}  // namespace signet::milter
