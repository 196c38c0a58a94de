#include "milter/notify.h"

#include <systemd/sd-daemon.h>

namespace signet::milter::notify {

void ready(const std::string& status) { sd_notify(0, ("READY=1\nSTATUS=" + status).c_str()); }

void reloading() { sd_notify(0, "RELOADING=1\nSTATUS=reloading"); }

void stopping() { sd_notify(0, "STOPPING=1\nSTATUS=finishing messages in flight"); }

}  // namespace signet::milter::notify
