// milter/retirer.h — what a reload replaced is freed on a thread of its own,
// never on a connection thread in the middle of a message.
//
// Why: a message holds the Runtime it started with (milter/runtime.h) until
// it ends, so after a reload the last message in flight on the old Runtime
// is the one that frees it: its configuration (every stream and rule), its
// key snapshot and every private key only it held (each a cleanse and free
// under the secure heap's one lock, signer/secure_memory.h). At 10 000
// streams that put 110-470 ms into one message's end of message, between its
// signature and the reply Postfix waits for; at 100 000 streams ten times as
// much. With a Retirer running, the last reference hands the object over (a
// lock, a push, a wake-up) and the retirer thread frees it.
//
// Calls:
//   Retirer::start()     starts the thread (signet-milter, once, after
//                        daemon(3): a fork does not copy it, and a child
//                        that believed it ran would queue objects that are
//                        never freed and join a thread it does not have;
//                        before the first reload). Without it (tests,
//                        tools, --check-config) objects are freed where their
//                        last reference goes, as any shared_ptr's.
//   Retirer::stop()      frees everything handed over, then joins; later
//                        hand-overs are freed in place. Idempotent.
//   retire_off_path(p)   a shared_ptr owning p whose last release hands p to
//                        the retirer (or frees it in place, as above).
// Fails: never; a retirer thread that cannot be started leaves objects freed
// in place (start() returns false and the daemon logs it).
// Thread safety: every call from any thread. Objects are freed in the order
// they were handed over, one at a time.
#pragma once

#include <functional>
#include <memory>

namespace signet::milter {

class Retirer {
 public:
  static bool start();
  static void stop();
  // Frees `free` on the retirer thread, or runs it here when none runs.
  static void hand_over(std::function<void()> free);
};

template <typename T>
std::shared_ptr<const T> retire_off_path(std::unique_ptr<T> p) {
  return std::shared_ptr<const T>(p.release(), [](const T* q) { Retirer::hand_over([q] { delete q; }); });
}

}  // namespace signet::milter
